"""What every service client of the SDK shares: call options, error mapping and paging."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import Message

from sluice.sdk.config import ClientOptions
from sluice.sdk.errors import from_rpc_error


class ServiceCalls:
    """Runs calls with the client's deadline and metadata; RpcErrors become typed errors.

    Args:
        options: Deadline and metadata of every call.
        address: The server's address, for error messages.
    """

    def __init__(self, options: ClientOptions, address: str) -> None:
        self._options = options
        self._address = address

    def _call(self, rpc: Callable[..., Any], request: Message) -> Any:
        try:
            return rpc(
                request,
                timeout=self._options.timeout_s,
                metadata=self._options.metadata or None,
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, address=self._address) from None

    def _paginate(self, rpc: Callable[..., Any], request: Message, field: str) -> Iterator[Any]:
        """Every item of a list call, following next_token until the last page."""
        while True:
            response = self._call(rpc, request)
            yield from getattr(response, field)
            if not response.next_token:
                return
            request.next_token = response.next_token  # type: ignore[attr-defined]
