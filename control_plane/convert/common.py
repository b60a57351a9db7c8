"""Conversions shared by every resource: timestamps, required fields, paging."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from sluice.common.errors import InvalidInput
from sluice.common.limits import max_results_of
from sluice.common.paging import PageRequest, Segment


def datetime_from(message: Message, field: str) -> datetime | None:
    """The aware UTC datetime in a Timestamp field, None when the field is unset."""
    if not message.HasField(field):
        return None
    stamp: Timestamp = getattr(message, field)
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"{field} is not a valid timestamp") from None


def timestamp(value: datetime | None) -> Timestamp | None:
    """A Timestamp for an aware datetime; None stays None (the field is left unset)."""
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def required(message: Message, field: str) -> Any:
    """A message field the request cannot do without; InvalidInput when it is missing."""
    if not message.HasField(field):
        raise InvalidInput(f"{field} is required")
    return getattr(message, field)


def params(values: Mapping[str, str]) -> dict[str, str]:
    """A plain dict of a proto map, for a domain object."""
    return dict(values)


def map_field(values: Mapping[str, str]) -> Mapping[str, str] | None:
    """A domain mapping for a proto map field; None when empty, which protobuf skips cheaply."""
    return values or None


def page_request(request: Message) -> PageRequest:
    """The PageRequest of a list call: max_results, next_token and the optional segment."""
    segment = None
    if request.HasField("segment"):
        segment = Segment(
            segment_number=request.segment.segment_number,  # type: ignore[attr-defined]
            total_segments=request.segment.total_segments,  # type: ignore[attr-defined]
        )
    return PageRequest(
        max_results=request.max_results,  # type: ignore[attr-defined]
        next_token=request.next_token,  # type: ignore[attr-defined]
        segment=segment,
        max_allowed=max_results_of(call_name(request)),
    )


def call_name(request: Message) -> str:
    """The Glue operation a request message belongs to: GetTablesRequest -> GetTables."""
    return request.DESCRIPTOR.name.removesuffix("Request")
