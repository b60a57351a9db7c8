"""Domain objects of the audit trail: one record per span, and the filters of a query.

A record is a finished OpenTelemetry span (ids, times, status, attributes) plus the columns it
is searched by (account, principal, action, resource, outcome, ...), which are taken from its
attributes. Times are nanoseconds since the epoch (as in OpenTelemetry); `time` is the start
as an aware UTC datetime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How a call ended, as the audit trail sees it."""

    SUCCESS = "success"
    FAILURE = "failure"
    # Refused: not authenticated, not authorised, or another account's resource.
    DENIED = "denied"


class Attr:
    """The span attribute keys of the trail (OpenTelemetry semantic conventions where they
    exist, `sluice.*` where they do not)."""

    PRINCIPAL = "enduser.id"
    PRINCIPAL_NAME = "sluice.principal.name"
    ROLES = "enduser.role"
    ACCOUNT = "sluice.account"
    ACTION = "sluice.action"
    RESOURCE = "sluice.resource"
    PARAMETERS = "sluice.request.parameters"
    OUTCOME = "sluice.outcome"
    READ_ONLY = "sluice.read_only"
    REQUEST_ID = "sluice.request_id"
    DENIED_REASON = "sluice.denied_reason"
    DOOR = "sluice.door"
    OPERATOR = "sluice.principal.operator"
    RUN_ID = "sluice.principal.run_id"
    INTERRUPTED = "sluice.interrupted"
    RPC_SYSTEM = "rpc.system"
    RPC_SERVICE = "rpc.service"
    RPC_METHOD = "rpc.method"
    GRPC_STATUS_CODE = "rpc.grpc.status_code"
    CLIENT_ADDRESS = "client.address"
    CLIENT_PORT = "client.port"


# gRPC's code for UNKNOWN: the status of a call whose end was never seen.
GRPC_UNKNOWN = 2


def ns_to_datetime(ns: int) -> datetime:
    """An aware UTC datetime for nanoseconds since the epoch (to the microsecond)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


def datetime_to_ns(value: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


@dataclass(frozen=True)
class AuditRecord:
    """One span of the trail.

    Attributes:
        trace_id: 32 lower-case hex digits.
        span_id: 16 lower-case hex digits.
        parent_span_id: the parent's span id, "" for a root span.
        name: the span's name; for a call, "service/Method".
        kind: the span kind's name: SERVER, INTERNAL, CLIENT, ...
        start_ns: start, nanoseconds since the epoch.
        end_ns: end; 0 while the call is in flight (a record written with its change).
        status_code: the span status: UNSET, OK or ERROR.
        status_message: the status description (the call's error message).
        attributes: every attribute of the span.
        account: the account the call acted in; "" when unknown (e.g. not authenticated).
        principal: the caller's principal id.
        principal_name: the caller's name.
        action: what was done, e.g. glue:CreateTable.
        resource: what it was done to, an ARN-like name.
        outcome: how it ended; None while in flight.
        grpc_code: the gRPC status code (0 OK); -1 while in flight.
        read_only: whether the action only reads.
        request_id: the call's request id.
        seq: position in the trail's export order; 0 until the record is sequenced.
    """

    trace_id: str
    span_id: str
    name: str
    start_ns: int
    parent_span_id: str = ""
    kind: str = "INTERNAL"
    end_ns: int = 0
    status_code: str = "UNSET"
    status_message: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    account: str = ""
    principal: str = ""
    principal_name: str = ""
    action: str = ""
    resource: str = ""
    outcome: Outcome | None = None
    grpc_code: int = -1
    read_only: bool = True
    request_id: str = ""
    seq: int = 0

    @property
    def time(self) -> datetime:
        """When the call started."""
        return ns_to_datetime(self.start_ns)

    @property
    def complete(self) -> bool:
        """Whether the call has ended (a record written with its change is not, at first)."""
        return self.end_ns > 0


@dataclass(frozen=True)
class AuditFilter:
    """What a query or a follow selects; a field left empty (or None) selects everything.

    Attributes:
        account: only this account's records (the servicer sets it for non-operators).
        principal: the principal's id or name, exactly.
        action: exactly (glue:GetTable), by its name alone (GetTable), or a glob (glue:Get*).
        resource: a glob (`*`, `?`) or else a prefix of the resource name.
        outcome: only records that ended so.
        start_time: records of calls started at or after this time.
        end_time: records of calls started before this time.
        trace_id: only the records of this trace.
    """

    account: str | None = None
    principal: str = ""
    action: str = ""
    resource: str = ""
    outcome: Outcome | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    trace_id: str = ""


@dataclass(frozen=True)
class Completion:
    """The final form of a record written earlier (in the transaction of its call's change),
    and the row it was written to."""

    record: AuditRecord
    row_id: int


@dataclass(frozen=True)
class FollowBatch:
    """What `AuditStore.after` found: matching records, and the seq to continue after."""

    records: tuple[AuditRecord, ...]
    next_seq: int
