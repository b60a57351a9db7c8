"""What every part of the IAM client shares: the stub, call options and error mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import Message

from sdk.config import ClientOptions
from sdk.errors import from_rpc_error
from sluice.iam.v1 import iam_pb2_grpc


class IamBase:
    """Holds the stub of the IamService and runs calls on it.

    Args:
        channel: An open channel to the server; the caller owns and closes it.
        options: Deadline, metadata and default account (catalog_id) of every call.
        address: The server's address, for error messages.
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        self._stub = iam_pb2_grpc.IamServiceStub(channel)
        self._options = options
        self._address = address

    def _account(self, account: str | None) -> str:
        """The account a call names: the given one, else the client's default ("" = the
        caller's own)."""
        return self._options.catalog_id if account is None else account

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
