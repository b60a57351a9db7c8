"""AuditService calls: events page by page, or followed as they are recorded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc, types_pb2
from sluice.sdk._calls import ServiceCalls
from sluice.sdk._streams import StreamTail
from sluice.sdk.config import ClientOptions

# "success", "failure" or "denied", or an AuditOutcome value; None for any outcome.
OutcomeLike = str | int | None

_OUTCOMES = MappingProxyType(
    {
        "success": types_pb2.AUDIT_OUTCOME_SUCCESS,
        "failure": types_pb2.AUDIT_OUTCOME_FAILURE,
        "denied": types_pb2.AUDIT_OUTCOME_DENIED,
    }
)
_OUTCOME_NAMES = MappingProxyType({value: name for name, value in _OUTCOMES.items()})


def outcome_value(outcome: OutcomeLike) -> int:
    """The AuditOutcome value of an outcome given by name or value; UNSPECIFIED for None.

    Raises:
        ValueError: `outcome` names no outcome.
    """
    if outcome is None or outcome == "":
        return types_pb2.AUDIT_OUTCOME_UNSPECIFIED
    if isinstance(outcome, str):
        try:
            return _OUTCOMES[outcome.lower()]
        except KeyError:
            names = ", ".join(_OUTCOMES)
            raise ValueError(f"outcome must be one of {names}, not {outcome!r}") from None
    if outcome not in _OUTCOME_NAMES:
        raise ValueError(f"{outcome} is not an AuditOutcome value")
    return outcome


def outcome_name(value: int) -> str:
    """ "success", "failure" or "denied"; "" for a call still in flight."""
    return _OUTCOME_NAMES.get(value, "")


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


class AuditTail(StreamTail[types_pb2.AuditEvent]):
    """Audit events as the server streams them, in the trail's order, until cancelled.

    Use it as a context manager, or call `cancel`, to stop following.
    """

    def __init__(self, call: Any, address: str) -> None:
        super().__init__(call, address, "events")


class AuditClient(ServiceCalls):
    """The audit trail: every call to the server, with who made it, in which account, what it
    did to what, and how it ended.

    A caller reads its own account's events; the operator may name any account, or none for
    every account's. Asking for another account's events gives none, never an error.

    Obtain one from `Client.audit`; it shares the client's channel.

    Example:
        >>> with sdk.connect() as client:  # doctest: +SKIP
        ...     for event in client.audit.query(outcome="denied", limit=20):
        ...         print(event.event_time.ToDatetime(), event.principal_name, event.action)

    Args:
        channel: An open channel to the server; the caller owns and closes it.
        options: Deadline and metadata of every call.
        address: The server's address, for error messages.
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = audit_pb2_grpc.AuditServiceStub(channel)

    def query(
        self,
        *,
        principal: str | None = None,
        action: str | None = None,
        resource: str | None = None,
        outcome: OutcomeLike = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        account: str | None = None,
        page_size: int | None = None,
        limit: int | None = None,
        trace_id: str | None = None,
    ) -> Iterator[types_pb2.AuditEvent]:
        """Recorded events matching every filter given, newest first, fetched page by page.

        Args:
            principal: The caller's principal id or name.
            action: An action (glue:GetTable), its name alone (GetTable) or a glob (glue:Get*).
            resource: A glob (* and ?) or else a prefix of the resource name.
            outcome: "success", "failure" or "denied".
            start_time: Events of calls started at or after this time (naive means UTC).
            end_time: Events of calls started before this time.
            account: Another account's events (the operator only); the caller's when None.
            page_size: Events per call (at most 1000); the server's default when None.
            limit: Stop after this many events; all of them when None.
            trace_id: Only the events of this trace (AuditEvent.trace_id).

        Raises:
            InvalidInput: end_time is not after start_time, or a filter is malformed.
            ValueError: `outcome` names no outcome (raised when iteration starts).
        """
        request = audit_pb2.QueryAuditEventsRequest(
            principal=principal or "",
            action=action or "",
            resource=resource or "",
            outcome=outcome_value(outcome),
            start_time=_timestamp(start_time),
            end_time=_timestamp(end_time),
            account=account or "",
            max_results=page_size or 0,
            trace_id=trace_id or "",
        )
        return self._events(request, limit)

    def _events(
        self, request: audit_pb2.QueryAuditEventsRequest, limit: int | None
    ) -> Iterator[types_pb2.AuditEvent]:
        count = 0
        while True:
            response = self._call(self._stub.QueryAuditEvents, request)
            for event in response.events:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield event
            if not response.next_token or (limit is not None and count >= limit):
                return
            request.next_token = response.next_token

    def follow(
        self,
        *,
        principal: str | None = None,
        action: str | None = None,
        resource: str | None = None,
        outcome: OutcomeLike = None,
        start_time: datetime | None = None,
        account: str | None = None,
        timeout_s: float | None = None,
        trace_id: str | None = None,
    ) -> AuditTail:
        """Follows the trail: events matching the filters as they are recorded.

        Returns once the server has the follow in place: every event recorded after that is
        delivered. With start_time, the events since then come first.

        Args:
            principal: As for `query`.
            action: As for `query`.
            resource: As for `query`.
            outcome: As for `query`.
            start_time: Begin with the events of calls started at or after this time; when
                None, with events recorded from now on.
            account: As for `query`.
            timeout_s: Seconds after which to stop following (DeadlineExceeded is raised);
                None to follow until cancelled.
            trace_id: As for `query`.

        Raises:
            ValueError: `outcome` names no outcome.

        Example:
            >>> with client.audit.follow(outcome="denied") as tail:  # doctest: +SKIP
            ...     for event in tail:
            ...         print(event.principal_name, event.action, event.resource)
        """
        request = audit_pb2.FollowAuditEventsRequest(
            principal=principal or "",
            action=action or "",
            resource=resource or "",
            outcome=outcome_value(outcome),
            start_time=_timestamp(start_time),
            account=account or "",
            trace_id=trace_id or "",
        )
        call = self._stub.FollowAuditEvents(
            request, timeout=timeout_s, metadata=self._options.metadata or None
        )
        # Blocks until the server says the follow is in place (or the call has failed: the
        # first iteration then raises the error).
        call.initial_metadata()
        return AuditTail(call, self._address)
