"""What every part of the catalog client shares: the stub, call options and error mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from sdk.config import ClientOptions
from sdk.errors import from_rpc_error
from sdk.messages import to_message
from sluice.catalog.v1 import catalog_pb2_grpc, types_pb2

T = TypeVar("T")

SegmentLike = types_pb2.Segment | Mapping[str, int]


class CatalogBase:
    """Holds the stub of the CatalogService and runs calls on it.

    Args:
        channel: An open channel to the server; the caller owns and closes it.
        options: Deadline, metadata and default catalog id of every call.
        address: The server's address, for error messages.
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        self._stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        self._options = options
        self._address = address

    def _catalog_id(self, catalog_id: str | None) -> str:
        return self._options.catalog_id if catalog_id is None else catalog_id

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


def segment_message(segment: SegmentLike | None) -> types_pb2.Segment | None:
    """The Segment message of a list call, or None for the whole list."""
    return None if segment is None else to_message(segment, types_pb2.Segment, what="segment")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
