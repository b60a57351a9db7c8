"""The trail's OpenTelemetry side: spans into records and back, attributes, trace context."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from sluice.control_plane.audit.calls import Call, MethodNames
from sluice.control_plane.audit.model import Attr, Outcome
from sluice.control_plane.audit.tracing import (
    MAX_PARAMETER_BYTES,
    AuditSpanProcessor,
    PresetIds,
    attach_span,
    call_attributes,
    context_from_traceparent,
    current_traceparent,
    detach_span,
    make_resource,
    make_tracer_provider,
    parameters_json,
    parent_context,
    record_from_span,
    remote_parent,
    span_from_record,
    traceparent,
)
from sluice.control_plane.interceptors.audit import client_of
from sluice.control_plane.security.calls import CallInfo, Principal

pytestmark = pytest.mark.unit

INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_SPAN = "00f067aa0ba902b7"
INCOMING = f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01"


class Spans:
    """A provider made as the trail makes it, keeping the spans that end."""

    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []
        self.provider = make_tracer_provider(
            AuditSpanProcessor(self.ended.append), make_resource("sluice-test")
        )
        self.tracer = self.provider.get_tracer("test")

    def only(self) -> ReadableSpan:
        assert len(self.ended) == 1
        return self.ended[0]


@pytest.fixture
def spans() -> Iterator[Spans]:
    made = Spans()
    yield made
    made.provider.shutdown()


def call_info(**changes: object) -> CallInfo:
    info = CallInfo(
        method="/sluice.catalog.v1.CatalogService/CreateTable",
        request_id="req-1",
        client_address="10.0.0.7",
        principal=Principal("p-42", "alice", "acct-a", roles=("etl", "reader")),
        account="acct-a",
        action="glue:CreateTable",
        resource="sluice:catalog:acct-a:table/sales/orders",
        read_only=False,
        parameters={"database_name": "sales", "table_input": {"name": "orders"}},
    )
    for key, value in changes.items():
        setattr(info, key, value)
    return info


# The provider


def test_the_provider_is_its_own_and_samples_everything(spans: Spans) -> None:
    assert trace.get_tracer_provider() is not spans.provider
    assert isinstance(spans.provider, TracerProvider)
    for _ in range(50):
        span = spans.tracer.start_span("x", context=Context())
        assert span.get_span_context().trace_flags.sampled
        span.end()
    assert len(spans.ended) == 50
    assert spans.ended[0].resource.attributes["service.name"] == "sluice-test"


# Spans into records


def test_a_call_span_becomes_a_record_with_its_columns(spans: Spans) -> None:
    attributes = {
        Attr.RPC_SYSTEM: "grpc",
        Attr.RPC_SERVICE: "sluice.catalog.v1.CatalogService",
        Attr.RPC_METHOD: "CreateTable",
        Attr.REQUEST_ID: "req-1",
        **call_attributes(call_info()),
        Attr.OUTCOME: "success",
        Attr.GRPC_STATUS_CODE: 0,
    }
    span = spans.tracer.start_span(
        "sluice.catalog.v1.CatalogService/CreateTable",
        context=Context(),
        kind=SpanKind.SERVER,
        attributes=attributes,
    )
    span.end()

    ended = spans.only()
    record = record_from_span(ended)
    context = ended.get_span_context()
    assert record.trace_id == f"{context.trace_id:032x}" and len(record.trace_id) == 32
    assert record.span_id == f"{context.span_id:016x}" and record.parent_span_id == ""
    assert (record.name, record.kind) == ("sluice.catalog.v1.CatalogService/CreateTable", "SERVER")
    assert record.start_ns == ended.start_time and record.end_ns == ended.end_time
    assert record.complete and record.end_ns >= record.start_ns
    assert (record.account, record.principal, record.principal_name) == ("acct-a", "p-42", "alice")
    assert record.action == "glue:CreateTable"
    assert record.resource == "sluice:catalog:acct-a:table/sales/orders"
    assert (record.outcome, record.grpc_code, record.read_only) == (Outcome.SUCCESS, 0, False)
    assert record.request_id == "req-1"
    assert record.attributes[Attr.ROLES] == "etl,reader"
    assert json.loads(str(record.attributes[Attr.PARAMETERS])) == {
        "database_name": "sales",
        "table_input": {"name": "orders"},
    }
    assert record_from_span(ended, attributes) == record


def test_a_span_in_flight_has_no_outcome_yet(spans: Spans) -> None:
    span = spans.tracer.start_span("work", context=Context())
    record = record_from_span(span)  # type: ignore[arg-type]
    span.end()

    assert (record.end_ns, record.outcome, record.grpc_code) == (0, None, -1)
    assert not record.complete


def test_an_internal_span_gets_its_outcome_from_its_status(spans: Spans) -> None:
    ok = spans.tracer.start_span("claim environment", context=Context())
    ok.end()
    bad = spans.tracer.start_span("run script", context=Context())
    bad.set_status(Status(StatusCode.ERROR, "exit code 1"))
    bad.end()

    first, second = (record_from_span(s) for s in spans.ended)
    assert (first.outcome, first.grpc_code, first.action, first.kind) == (
        Outcome.SUCCESS,
        0,
        "claim environment",
        "INTERNAL",
    )
    assert (second.outcome, second.grpc_code) == (Outcome.FAILURE, 2)
    assert (second.status_code, second.status_message) == ("ERROR", "exit code 1")


def test_a_child_span_links_to_its_parent(spans: Spans) -> None:
    parent = spans.tracer.start_span("StartJobRun", context=Context(), kind=SpanKind.SERVER)
    child = spans.tracer.start_span(
        "start spark", context=context_from_traceparent(traceparent(parent.get_span_context()))
    )
    child.end()
    parent.end()

    child_record, parent_record = (record_from_span(s) for s in spans.ended)
    assert child_record.trace_id == parent_record.trace_id
    assert child_record.parent_span_id == parent_record.span_id
    assert parent_record.parent_span_id == ""


# Trace context


def test_a_call_continues_the_callers_traceparent(spans: Spans) -> None:
    metadata = (("x-request-id", "r"), ("traceparent", INCOMING), ("tracestate", "k=v"))
    span = spans.tracer.start_span("call", context=parent_context(metadata), kind=SpanKind.SERVER)
    span.end()

    record = record_from_span(spans.only())
    assert record.trace_id == INCOMING_TRACE
    assert record.parent_span_id == INCOMING_SPAN
    assert record.span_id != INCOMING_SPAN


@pytest.mark.parametrize(
    "metadata",
    [(), (("traceparent", "garbage"),), (("traceparent", f"00-{'0' * 32}-{INCOMING_SPAN}-01"),)],
)
def test_without_a_valid_traceparent_a_call_is_a_root(
    spans: Spans, metadata: tuple[tuple[str, str], ...]
) -> None:
    span = spans.tracer.start_span("call", context=parent_context(metadata))
    span.end()

    record = record_from_span(spans.only())
    assert record.parent_span_id == "" and record.trace_id != "0" * 32


def test_a_call_ignores_a_span_current_in_its_thread(spans: Spans) -> None:
    leftover = spans.tracer.start_span("leftover", context=Context())
    token = attach_span(leftover)
    try:
        span = spans.tracer.start_span("call", context=parent_context(()))
        span.end()
    finally:
        detach_span(token)
    leftover.end()

    assert record_from_span(spans.ended[0]).parent_span_id == ""


def test_the_current_traceparent_is_the_attached_spans(spans: Spans) -> None:
    assert current_traceparent() == ""
    span = spans.tracer.start_span("call", context=Context())
    token = attach_span(span)
    try:
        value = current_traceparent()
    finally:
        detach_span(token)
    span.end()

    context = span.get_span_context()
    flags = int(context.trace_flags)
    assert value == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    assert flags & 1  # sampled
    assert current_traceparent() == ""
    assert context_from_traceparent("") == Context()


# Records back into spans, for export


def test_a_record_rebuilds_its_span(spans: Spans) -> None:
    parent = spans.tracer.start_span("parent", context=Context())
    child = spans.tracer.start_span(
        "child",
        context=context_from_traceparent(traceparent(parent.get_span_context())),
        kind=SpanKind.SERVER,
        attributes={"roles": ("a", "b"), Attr.READ_ONLY: True, Attr.GRPC_STATUS_CODE: 5},
    )
    child.set_status(Status(StatusCode.ERROR, "not found"))
    child.end()
    original = spans.ended[0]
    record = record_from_span(original)
    # As the store gives it back: attributes through JSON.
    stored = replace(record, attributes=json.loads(json.dumps(dict(record.attributes))))

    rebuilt = span_from_record(stored, make_resource("sluice-test"))

    assert rebuilt.get_span_context().trace_id == original.get_span_context().trace_id
    assert rebuilt.get_span_context().span_id == original.get_span_context().span_id
    assert rebuilt.get_span_context().trace_flags.sampled
    assert rebuilt.parent is not None and original.parent is not None
    assert rebuilt.parent.span_id == original.parent.span_id
    assert (rebuilt.start_time, rebuilt.end_time) == (original.start_time, original.end_time)
    assert rebuilt.kind is SpanKind.SERVER and rebuilt.name == "child"
    assert rebuilt.status.status_code is StatusCode.ERROR
    assert rebuilt.status.description == "not found"
    assert dict(rebuilt.attributes or {}) == dict(original.attributes or {})
    assert rebuilt.resource.attributes["service.name"] == "sluice-test"
    parent.end()


# Attributes of a call


def test_call_attributes_say_who_did_what_to_what(spans: Spans) -> None:
    operator = Principal("p-0", "admin", "root", roles=("admin",), operator=True, run_id="")
    attributes = call_attributes(
        call_info(principal=operator, account="acct-b", denied_reason="no policy allows it")
    )

    assert attributes[Attr.PRINCIPAL] == "p-0"
    assert attributes[Attr.PRINCIPAL_NAME] == "admin"
    assert attributes[Attr.ROLES] == "admin"
    assert attributes[Attr.OPERATOR] is True
    assert attributes[Attr.ACCOUNT] == "acct-b"
    assert attributes[Attr.DENIED_REASON] == "no policy allows it"
    assert attributes[Attr.READ_ONLY] is False


def test_an_unauthenticated_call_has_no_principal() -> None:
    attributes = call_attributes(CallInfo(method="/sluice.x/Y"))

    assert Attr.PRINCIPAL not in attributes and attributes[Attr.ACCOUNT] == ""
    assert attributes[Attr.PARAMETERS] == "{}" and attributes[Attr.READ_ONLY] is True


def test_a_run_principal_is_named_by_its_run() -> None:
    run = Principal("p-run", "run-jr_1", "acct-a", run_id="jr_1")
    assert call_attributes(call_info(principal=run))[Attr.RUN_ID] == "jr_1"


def test_parameters_are_sorted_compact_json_with_big_values_left_out() -> None:
    assert parameters_json({"b": 1, "a": {"y": 2, "x": [1]}}) == '{"a":{"x":[1],"y":2},"b":1}'
    big = "v" * (MAX_PARAMETER_BYTES + 10)
    shown = json.loads(parameters_json({"name": "orders", "blob": big}))
    assert shown == {"name": "orders", "blob": f"<{len(big) + 2} bytes>"}


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("ipv4:127.0.0.1:5555", ("127.0.0.1", 5555)),
        ("ipv6:[::1]:40000", ("::1", 40000)),
        ("ipv6:%5B::1%5D:40000", ("::1", 40000)),
        ("unix:/tmp/sock", ("unix:/tmp/sock", None)),
        ("", ("", None)),
    ],
)
def test_the_client_address_comes_from_the_peer(
    peer: str, expected: tuple[str, int | None]
) -> None:
    assert client_of(peer) == expected


# Calls: the facts of a call, and the ids its span is made with afterwards


def test_preset_ids_go_to_the_next_span_of_the_same_thread_only() -> None:
    ids = PresetIds()
    ended: list[ReadableSpan] = []
    provider = make_tracer_provider(AuditSpanProcessor(ended.append), make_resource(), ids)
    tracer = provider.get_tracer("test")
    elsewhere: list[int] = []

    ids.preset(0xABC, 0xDEF)
    other = threading.Thread(
        target=lambda: elsewhere.append(
            tracer.start_span("other", context=Context()).get_span_context().span_id
        )
    )
    other.start()
    other.join()
    tracer.start_span("preset", context=Context()).end()
    tracer.start_span("next", context=Context()).end()
    provider.shutdown()

    preset, following = ended
    assert (preset.get_span_context().trace_id, preset.get_span_context().span_id) == (0xABC, 0xDEF)
    assert following.get_span_context().span_id not in (0xDEF, 0)
    assert elsewhere and elsewhere[0] != 0xDEF


def call_of(info: CallInfo, code: int = 0, *, ended: bool = True) -> Call:
    call = Call(
        method=MethodNames("/sluice.catalog.v1.CatalogService/CreateTable"),
        info=info,
        trace_id=1,
        span_id=2,
        parent=None,
        client_port=4242,
        start_ns=10,
    )
    if ended:
        call.end_ns, call.code = 20, code
    return call


@pytest.mark.parametrize(
    ("code", "denied_reason", "outcome"),
    [
        (0, "", Outcome.SUCCESS),
        (5, "", Outcome.FAILURE),
        (13, "", Outcome.FAILURE),
        (7, "", Outcome.DENIED),
        (16, "", Outcome.DENIED),
        (5, "another account's resource", Outcome.DENIED),
    ],
)
def test_a_calls_outcome(code: int, denied_reason: str, outcome: Outcome) -> None:
    assert call_of(call_info(denied_reason=denied_reason), code).outcome() is outcome


def test_a_calls_attributes_say_how_it_ended_only_once_it_has() -> None:
    in_flight = call_of(call_info(), ended=False).attributes()
    ended = call_of(call_info(), 5).attributes()

    assert Attr.OUTCOME not in in_flight and Attr.GRPC_STATUS_CODE not in in_flight
    assert (ended[Attr.OUTCOME], ended[Attr.GRPC_STATUS_CODE]) == ("failure", 5)
    assert ended[Attr.RPC_SERVICE] == "sluice.catalog.v1.CatalogService"
    assert ended[Attr.RPC_METHOD] == "CreateTable" and ended[Attr.RPC_SYSTEM] == "grpc"
    assert (ended[Attr.CLIENT_ADDRESS], ended[Attr.CLIENT_PORT]) == ("10.0.0.7", 4242)
    assert ended[Attr.REQUEST_ID] == "req-1" and ended[Attr.PRINCIPAL] == "p-42"


def test_a_calls_span_context_is_sampled_and_continues_the_callers_flags() -> None:
    own = call_of(call_info()).span_context()
    assert (own.trace_id, own.span_id, own.trace_flags.sampled) == (1, 2, True)
    assert own.trace_flags.random_trace_id

    caller = remote_parent((("traceparent", INCOMING),))
    assert caller is not None and caller.is_remote
    continued = replace(call_of(call_info()), parent=caller).span_context()
    assert continued.trace_flags.sampled and not continued.trace_flags.random_trace_id
    assert remote_parent((("x-request-id", "r"),)) is None
