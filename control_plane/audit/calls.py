"""A call as the audit trail records it: the facts the audit interceptor gathers in flight.

The request path only gathers facts: ids, times, the CallInfo, how the call ended. The call's
OpenTelemetry span is made from them when the call has ended, by the trail (in the writer's
batch for a call that wrote nothing, at once for a call that did): doing the SDK's work in a
batch costs the server a fraction of doing it inside every call. While the call runs, its span
context (the ids its span will have) is current, so child spans and traceparents link to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanContext, TraceFlags

from sluice.control_plane.audit.model import Attr, Outcome
from sluice.control_plane.audit.tracing import call_attributes
from sluice.control_plane.security.calls import CallInfo

# gRPC status codes of a refusal: not authenticated, not authorised.
DENIED_CODES = frozenset({16, 7})
OK = 0


class MethodNames:
    """What every call of one method shares: its span name, service and method names."""

    __slots__ = ("method", "name", "service", "span_name")

    def __init__(self, method: str) -> None:
        self.method = method
        self.span_name = method[1:]
        self.service, _, self.name = self.span_name.partition("/")


@dataclass(slots=True, eq=False)
class Call:
    """One call: filled in by the audit interceptor, turned into a span by the trail.

    Attributes:
        method: the method called.
        info: the CallInfo the auth interceptor filled in.
        trace_id: the trace of the call's span: the caller's, or a new one.
        span_id: the id of the call's span.
        parent: the caller's span, when the caller sent a traceparent.
        client_port: the client's port, when it has one.
        start_ns: when the call started, nanoseconds since the epoch.
        end_ns: when it ended; 0 while in flight.
        code: its gRPC status code (0 OK).
        message: its status message, when it did not succeed.
        row_id: the row of its record, once a write transaction of the call has written it.
    """

    method: MethodNames
    info: CallInfo
    trace_id: int
    span_id: int
    parent: SpanContext | None
    client_port: int | None
    start_ns: int
    end_ns: int = 0
    code: int = OK
    message: str = ""
    row_id: int | None = None

    def span_context(self) -> SpanContext:
        """The context of the call's span (which is made once the call has ended)."""
        flags = TraceFlags.SAMPLED
        # As the SDK marks it: a trace id of ours is random; a caller's is as the caller said.
        if self.parent is None or self.parent.trace_flags.random_trace_id:
            flags |= TraceFlags.RANDOM_TRACE_ID
        return SpanContext(self.trace_id, self.span_id, False, TraceFlags(flags))

    def outcome(self) -> Outcome:
        """How the call ended, as the trail sees it."""
        if self.info.denied_reason or self.code in DENIED_CODES:
            return Outcome.DENIED
        return Outcome.SUCCESS if self.code == OK else Outcome.FAILURE

    def attributes(self) -> dict[str, Any]:
        """Every attribute of the call's span; outcome and status only once it has ended."""
        method, info = self.method, self.info
        attributes: dict[str, Any] = {
            Attr.RPC_SYSTEM: "grpc",
            Attr.RPC_SERVICE: method.service,
            Attr.RPC_METHOD: method.name,
            Attr.REQUEST_ID: info.request_id,
            Attr.CLIENT_ADDRESS: info.client_address,
        }
        if self.client_port is not None:
            attributes[Attr.CLIENT_PORT] = self.client_port
        attributes.update(call_attributes(info))
        if self.end_ns:
            attributes[Attr.OUTCOME] = self.outcome().value
            attributes[Attr.GRPC_STATUS_CODE] = self.code
        return attributes
