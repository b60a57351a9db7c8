"""The audit trail: sluice.audit.v1 messages ⇄ domain objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from google.protobuf.message import Message

from sluice.audit.v1 import types_pb2 as pb
from sluice.common.errors import InvalidInput
from sluice.control_plane.audit.model import Attr, AuditFilter, AuditRecord, Outcome, ns_to_datetime
from sluice.control_plane.convert.common import datetime_from, timestamp

_OUTCOMES: Mapping[Outcome, pb.AuditOutcome.ValueType] = MappingProxyType(
    {
        Outcome.SUCCESS: pb.AUDIT_OUTCOME_SUCCESS,
        Outcome.FAILURE: pb.AUDIT_OUTCOME_FAILURE,
        Outcome.DENIED: pb.AUDIT_OUTCOME_DENIED,
    }
)
_OUTCOMES_BY_PROTO: Mapping[int, Outcome] = MappingProxyType(
    {value: outcome for outcome, value in _OUTCOMES.items()}
)


def outcome_to_proto(outcome: Outcome | None) -> pb.AuditOutcome.ValueType:
    """The API value of an outcome; UNSPECIFIED for a call in flight."""
    return pb.AUDIT_OUTCOME_UNSPECIFIED if outcome is None else _OUTCOMES[outcome]


def outcome_from_proto(value: int) -> Outcome | None:
    """The outcome a filter asks for: None (any) for UNSPECIFIED; InvalidInput if unknown."""
    if value == pb.AUDIT_OUTCOME_UNSPECIFIED:
        return None
    try:
        return _OUTCOMES_BY_PROTO[value]
    except KeyError:
        raise InvalidInput(f"outcome {value} is not an audit outcome") from None


def audit_filter_from_proto(request: Message, account: str | None) -> AuditFilter:
    """The filter of a QueryAuditEvents or FollowAuditEvents request, in account (None: every
    account); the account field of the request is resolved by the caller."""
    start = datetime_from(request, "start_time")
    end = None
    if "end_time" in request.DESCRIPTOR.fields_by_name:  # a follow has no end
        end = datetime_from(request, "end_time")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("end_time must be after start_time")
    return AuditFilter(
        account=account,
        principal=request.principal,  # type: ignore[attr-defined]
        action=request.action,  # type: ignore[attr-defined]
        resource=request.resource,  # type: ignore[attr-defined]
        outcome=outcome_from_proto(request.outcome),  # type: ignore[attr-defined]
        start_time=start,
        end_time=end,
        trace_id=request.trace_id,  # type: ignore[attr-defined]
    )


def audit_event_to_proto(record: AuditRecord) -> pb.AuditEvent:
    """The API form of a record."""
    attributes = record.attributes
    return pb.AuditEvent(
        seq=record.seq,
        event_time=timestamp(record.time),
        end_time=timestamp(ns_to_datetime(record.end_ns)) if record.complete else None,
        trace_id=record.trace_id,
        span_id=record.span_id,
        parent_span_id=record.parent_span_id,
        name=record.name,
        kind=record.kind,
        account=record.account,
        principal=record.principal,
        principal_name=record.principal_name,
        action=record.action,
        resource=record.resource,
        outcome=outcome_to_proto(record.outcome),
        status_code=max(record.grpc_code, 0),
        status_message=record.status_message,
        read_only=record.read_only,
        request_id=record.request_id,
        client_address=str(attributes.get(Attr.CLIENT_ADDRESS, "")),
        parameters=str(attributes.get(Attr.PARAMETERS, "")),
        attributes={key: _text(value) for key, value in attributes.items()},
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
