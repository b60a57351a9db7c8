"""The trail's OpenTelemetry side: its own TracerProvider, the span processor that turns every
ended span into an audit record, and conversions between spans and records.

The provider is an instance owned by the trail, never the global one; it samples everything,
because an audit span must never be sampled away.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.status import Status, StatusCode

from sluice.control_plane.audit.model import GRPC_UNKNOWN, Attr, AuditRecord, Outcome
from sluice.control_plane.security.calls import CallInfo

TRACER_NAME = "sluice.audit"
DEFAULT_SERVICE_NAME = "sluice"
# A request's parameters beyond this many bytes of JSON keep their keys, not their values.
MAX_PARAMETER_BYTES = 4096
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_PROPAGATOR = TraceContextTextMapPropagator()
# Enum .name is a descriptor lookup; these run for every span.
_KIND_NAMES = {kind: kind.name for kind in SpanKind}
_STATUS_NAMES = {code: code.name for code in StatusCode}


class AuditSpanProcessor(SpanProcessor):
    """Hands every ended span of the provider to sink, in the thread that ends it.

    sink must be quick (the trail queues the span for the batched writer), because it runs on
    the request path.
    """

    def __init__(self, sink: Callable[[ReadableSpan], None]) -> None:
        self._sink = sink

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        self._sink(span)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def make_resource(service_name: str = DEFAULT_SERVICE_NAME) -> Resource:
    """The resource every span of the trail is reported with."""
    return Resource.create({"service.name": service_name})


def make_tracer_provider(
    processor: SpanProcessor, resource: Resource, id_generator: IdGenerator | None = None
) -> TracerProvider:
    """A provider of its own (not the global one) that samples every span into processor."""
    # shutdown_on_exit=False: no atexit hook; the trail shuts the provider down itself.
    provider = TracerProvider(
        sampler=ALWAYS_ON,
        resource=resource,
        shutdown_on_exit=False,
        id_generator=id_generator,
    )
    provider.add_span_processor(processor)
    return provider


class PresetIds(IdGenerator):
    """Random ids, except for the span made right after `preset` in the same thread.

    A call's span is made after the call, but its ids were chosen (and handed to its children)
    when it started: the trail presets them for the span it then makes.
    """

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self._next = threading.local()

    @staticmethod
    def new_trace_id() -> int:
        """A random trace id, for a call that starts a trace."""
        # getrandbits directly: this runs in every call, and 0 (invalid) is one in 2**128.
        return random.getrandbits(128) or 1

    @staticmethod
    def new_span_id() -> int:
        """A random span id, for a call's span."""
        return random.getrandbits(64) or 1

    def preset(self, trace_id: int, span_id: int) -> None:
        """The ids the next span made in this thread gets (a trace id only if it is a root)."""
        self._next.trace_id = trace_id
        self._next.span_id = span_id

    def clear(self) -> None:
        """Forgets ids preset and not taken."""
        self._next.trace_id = 0
        self._next.span_id = 0

    def generate_span_id(self) -> int:
        span_id = getattr(self._next, "span_id", 0)
        if span_id:
            self._next.span_id = 0
            return int(span_id)
        return self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        trace_id = getattr(self._next, "trace_id", 0)
        if trace_id:
            self._next.trace_id = 0
            return int(trace_id)
        return self._random.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        return True


# Trace context


def parent_context(metadata: Sequence[tuple[str, Any]] | None) -> Context:
    """The context to start a call's span in: the caller's W3C traceparent if it sent one,
    else an empty one (the call's span is a root)."""
    carrier: dict[str, str] = {}
    for key, value in metadata or ():
        if key in (TRACEPARENT, TRACESTATE) and isinstance(value, str):
            carrier[key] = value
    if TRACEPARENT not in carrier:
        return Context()
    return _PROPAGATOR.extract(carrier, context=Context())


def remote_parent(metadata: Sequence[tuple[str, Any]] | None) -> SpanContext | None:
    """The caller's span from its W3C traceparent, or None when it sent no valid one."""
    for key, _value in metadata or ():
        if key == TRACEPARENT:
            break
    else:
        return None
    parent = trace.get_current_span(parent_context(metadata)).get_span_context()
    return parent if parent.is_valid else None


def span_context_in(parent: SpanContext | None) -> Context:
    """A context whose current span is parent (an empty one for None)."""
    if parent is None:
        return Context()
    return trace.set_span_in_context(trace.NonRecordingSpan(parent), Context())


def traceparent(span_context: SpanContext) -> str:
    """The W3C traceparent header of a span context; "" for an invalid one."""
    if not span_context.is_valid:
        return ""
    return (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
        f"-{int(span_context.trace_flags):02x}"
    )


def current_traceparent() -> str:
    """The traceparent of the span current in this thread (the call's, inside an audited
    call), to carry a trace into other processes; "" when there is none."""
    return traceparent(trace.get_current_span().get_span_context())


def context_from_traceparent(value: str) -> Context:
    """A context whose parent is the span a traceparent names, to start child spans in (for
    example a job run's, long after its StartJobRun call); empty if value is not one."""
    if not value:
        return Context()
    return _PROPAGATOR.extract({TRACEPARENT: value}, context=Context())


def attach_span(span: trace.Span) -> object:
    """Makes span current in this thread; returns the token for detach_span."""
    return otel_context.attach(trace.set_span_in_context(span, Context()))


def attach_span_context(context: Context) -> object:
    """Makes a context (one made by trace.set_span_in_context) current in this thread;
    returns the token for detach_span."""
    return otel_context.attach(context)


def detach_span(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]


# Attributes


def call_attributes(info: CallInfo) -> dict[str, Any]:
    """The attributes the CallInfo of a call gives its span: who, where, what, on what."""
    attributes: dict[str, Any] = {
        Attr.ACCOUNT: info.account,
        Attr.ACTION: info.action,
        Attr.RESOURCE: info.resource,
        Attr.READ_ONLY: info.read_only,
        Attr.PARAMETERS: parameters_json(info.parameters),
    }
    principal = info.principal
    if principal is not None:
        attributes[Attr.PRINCIPAL] = principal.id or principal.name
        attributes[Attr.PRINCIPAL_NAME] = principal.name
        attributes[Attr.ROLES] = ",".join(principal.roles)
        if principal.operator:
            attributes[Attr.OPERATOR] = True
        if principal.run_id:
            attributes[Attr.RUN_ID] = principal.run_id
    if info.denied_reason:
        attributes[Attr.DENIED_REASON] = info.denied_reason
    if info.door:
        attributes[Attr.DOOR] = info.door
    return attributes


def parameters_json(parameters: Mapping[str, object]) -> str:
    """The request's parameters (already redacted) as compact JSON with sorted keys.

    A parameter whose JSON is longer than MAX_PARAMETER_BYTES is replaced by a note of its
    size, so that one big request does not bloat the trail.
    """
    if not parameters:
        return "{}"
    text = _dumps(parameters)
    if len(text) <= MAX_PARAMETER_BYTES:
        return text
    kept: dict[str, object] = {}
    for key, value in parameters.items():
        size = len(_dumps(value))
        kept[key] = value if size <= MAX_PARAMETER_BYTES else f"<{size} bytes>"
    return _dumps(kept)


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# Spans and records


def record_from_span(
    span: ReadableSpan, attributes: Mapping[str, Any] | None = None
) -> AuditRecord:
    """The audit record of a span, ended or still in flight (end_ns 0, no outcome).

    attributes, when given, are taken as all of the span's attributes (copying them out of the
    span costs more than the rest of the conversion).
    """
    context = span.get_span_context()
    parent = span.parent
    status = span.status
    return make_record(
        trace_id=context.trace_id,
        span_id=context.span_id,
        parent_span_id=parent.span_id if parent is not None else 0,
        name=span.name,
        kind=_KIND_NAMES.get(span.kind, "INTERNAL"),
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        status_code=_STATUS_NAMES[status.status_code],
        status_message=status.description or "",
        attributes=dict(span.attributes or {}) if attributes is None else attributes,
    )


def make_record(
    *,
    trace_id: int,
    span_id: int,
    parent_span_id: int,
    name: str,
    kind: str,
    start_ns: int,
    end_ns: int,
    status_code: str,
    status_message: str,
    attributes: Mapping[str, Any],
) -> AuditRecord:
    """The audit record of a span given by its parts; the columns come from its attributes."""
    outcome = _outcome(attributes, status_code, ended=end_ns > 0)
    principal = attributes.get(Attr.PRINCIPAL, "")
    return AuditRecord(
        trace_id=f"{trace_id:032x}",
        span_id=f"{span_id:016x}",
        parent_span_id=f"{parent_span_id:016x}" if parent_span_id else "",
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=end_ns,
        status_code=status_code,
        status_message=status_message,
        attributes=attributes,
        account=str(attributes.get(Attr.ACCOUNT, "")),
        principal=str(principal),
        principal_name=str(attributes.get(Attr.PRINCIPAL_NAME, principal)),
        action=str(attributes.get(Attr.ACTION) or attributes.get(Attr.RPC_METHOD) or name),
        resource=str(attributes.get(Attr.RESOURCE, "")),
        outcome=outcome,
        grpc_code=_grpc_code(attributes, outcome),
        read_only=bool(attributes.get(Attr.READ_ONLY, True)),
        request_id=str(attributes.get(Attr.REQUEST_ID, "")),
    )


def _outcome(attributes: Mapping[str, Any], status_code: str, *, ended: bool) -> Outcome | None:
    if not ended:
        return None
    stated = attributes.get(Attr.OUTCOME)
    if stated:
        try:
            return Outcome(stated)
        except ValueError:
            pass
    return Outcome.FAILURE if status_code == "ERROR" else Outcome.SUCCESS


def _grpc_code(attributes: Mapping[str, Any], outcome: Outcome | None) -> int:
    code = attributes.get(Attr.GRPC_STATUS_CODE)
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if outcome is None:
        return -1
    return 0 if outcome is Outcome.SUCCESS else GRPC_UNKNOWN


def span_from_record(
    record: AuditRecord, resource: Resource, scope: InstrumentationScope | None = None
) -> ReadableSpan:
    """The span a record was made from, with its own ids and times, for an exporter."""
    flags = TraceFlags(TraceFlags.SAMPLED)
    context = SpanContext(
        trace_id=int(record.trace_id, 16),
        span_id=int(record.span_id, 16),
        is_remote=False,
        trace_flags=flags,
    )
    parent = None
    if record.parent_span_id:
        parent = SpanContext(
            trace_id=context.trace_id,
            span_id=int(record.parent_span_id, 16),
            is_remote=False,
            trace_flags=flags,
        )
    return ReadableSpan(
        name=record.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=_attribute_values(record.attributes),
        kind=_kind(record.kind),
        status=Status(_status_code(record.status_code), record.status_message or None),
        start_time=record.start_ns,
        end_time=record.end_ns,
        instrumentation_scope=scope or InstrumentationScope(TRACER_NAME),
    )


def _attribute_values(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # Stored JSON gives sequences back as lists; OpenTelemetry wants homogeneous sequences.
    return {key: tuple(v) if isinstance(v, list) else v for key, v in attributes.items()}


def _kind(name: str) -> SpanKind:
    try:
        return SpanKind[name]
    except KeyError:
        return SpanKind.INTERNAL


def _status_code(name: str) -> StatusCode:
    try:
        return StatusCode[name]
    except KeyError:
        return StatusCode.UNSET
