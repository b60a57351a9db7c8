"""What every part of the catalog client shares: the stub, call options and error mapping."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

import grpc

from sluice.catalog.v1 import catalog_pb2_grpc, types_pb2
from sluice.sdk._calls import ServiceCalls
from sluice.sdk.config import ClientOptions
from sluice.sdk.messages import to_message

T = TypeVar("T")

SegmentLike = types_pb2.Segment | Mapping[str, int]


class CatalogBase(ServiceCalls):
    """Holds the stub of the CatalogService and runs calls on it.

    Args:
        channel: An open channel to the server; the caller owns and closes it.
        options: Deadline, metadata and default catalog id of every call.
        address: The server's address, for error messages.
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = catalog_pb2_grpc.CatalogServiceStub(channel)

    def _catalog_id(self, catalog_id: str | None) -> str:
        return self._options.catalog_id if catalog_id is None else catalog_id


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
