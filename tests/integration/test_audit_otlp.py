"""OTLP export of the trail to a real OTLP/gRPC receiver started by the test.

The receiver implements opentelemetry.proto's TraceService on a free loopback port and keeps
every span it is sent. Spans come from an audited in-process server (one call) and straight
from the trail's tracer (a parent and its child, as a job run's steps would be).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import wrappers_pb2
from opentelemetry.context import Context
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from opentelemetry.trace import SpanKind

from sluice.common.db import Database, sqlite_url
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.audit import AuditConfig, AuditFilter, AuditTrail
from sluice.control_plane.audit.model import Attr
from sluice.control_plane.audit.schema import upgrade_schema
from sluice.control_plane.audit.tracing import context_from_traceparent, traceparent
from sluice.control_plane.interceptors import ErrorInterceptor

pytestmark = pytest.mark.integration

KEY = b"audit-otlp-integration-test-key0"
ECHO = "/sluice.test.v1.Echo/Echo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@dataclass
class Received:
    """A span as the receiver got it."""

    span: OtlpSpan
    resource: dict[str, Any]

    @property
    def attributes(self) -> dict[str, Any]:
        return {kv.key: _value(kv.value) for kv in self.span.attributes}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """A real OTLP/gRPC trace receiver that keeps what it is sent."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.spans: list[Received] = []
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        with self._lock:
            for resource_spans in request.resource_spans:
                resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(Received(span, resource))
        return trace_service_pb2.ExportTraceServiceResponse()

    def start(self) -> None:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, server)
        server.add_insecure_port(f"127.0.0.1:{self.port}")
        server.start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(0).wait()
            self._server = None

    def by_span_id(self) -> dict[str, Received]:
        with self._lock:
            return {r.span.span_id.hex(): r for r in self.spans}

    def count(self) -> int:
        with self._lock:
            return len(self.spans)


@dataclass
class Setup:
    tmp: Path
    collector: Collector
    db: Database
    trails: list[AuditTrail] = field(default_factory=list)

    def trail(self) -> AuditTrail:
        trail = AuditTrail(
            self.db,
            PageTokenCodec(KEY),
            AuditConfig(
                service_name="sluice-otlp-test",
                otlp_endpoint=f"127.0.0.1:{self.collector.port}",
                flush_interval_s=0.05,
                otlp_poll_interval_s=0.05,
                otlp_timeout_s=1.0,
                otlp_backoff_first_s=0.05,
                otlp_backoff_max_s=0.2,
            ),
        )
        trail.start()
        self.trails.append(trail)
        return trail


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    db = Database(sqlite_url(tmp_path))
    upgrade_schema(db)
    made = Setup(tmp=tmp_path, collector=Collector(free_port()), db=db)
    try:
        yield made
    finally:
        for trail in made.trails:
            trail.stop()
        made.collector.stop()
        db.dispose()


def job_like_spans(trail: AuditTrail, count: int = 2) -> list[str]:
    """A parent span and count - 1 children, as a job run's steps; their span ids."""
    parent = trail.tracer.start_span(
        "StartJobRun", context=Context(), kind=SpanKind.SERVER, attributes={Attr.ACCOUNT: "a1"}
    )
    ids = [f"{parent.get_span_context().span_id:016x}"]
    for i in range(count - 1):
        child = trail.tracer.start_span(
            f"step {i}",
            context=context_from_traceparent(traceparent(parent.get_span_context())),
            attributes={Attr.ACCOUNT: "a1", "sluice.step": i, "tags": ("x", "y")},
        )
        child.end()
        ids.append(f"{child.get_span_context().span_id:016x}")
    parent.end()
    return ids


def audited_call(trail: AuditTrail) -> str:
    """One call through an audited server; the span id of its record."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=[trail.interceptor(), ErrorInterceptor()],
    )
    handler = grpc.unary_unary_rpc_method_handler(
        lambda request, context: request,
        request_deserializer=wrappers_pb2.StringValue.FromString,
        response_serializer=wrappers_pb2.StringValue.SerializeToString,
    )
    service, method = ECHO[1:].split("/")
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, {method: handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            echo = channel.unary_unary(
                ECHO,
                request_serializer=wrappers_pb2.StringValue.SerializeToString,
                response_deserializer=wrappers_pb2.StringValue.FromString,
            )
            _, call = echo.with_call(wrappers_pb2.StringValue(value="hi"), timeout=10)
            request_id = dict(call.trailing_metadata())["x-request-id"]
    finally:
        server.stop(0).wait()
    assert trail.flush()
    records = trail.store.query(AuditFilter(), PageRequest(max_results=1000)).items
    [record] = [r for r in records if r.request_id == request_id]
    return record.span_id


def test_spans_reach_the_collector_with_their_ids_and_attributes(setup: Setup) -> None:
    setup.collector.start()
    trail = setup.trail()
    ids = job_like_spans(trail, 3)
    call_span = audited_call(trail)

    wait_for(lambda: setup.collector.count() >= 4)
    got = setup.collector.by_span_id()
    assert set(got) == {*ids, call_span}
    parent, child = got[ids[0]], got[ids[1]]
    assert child.span.trace_id == parent.span.trace_id and len(parent.span.trace_id) == 16
    assert child.span.parent_span_id.hex() == ids[0]
    assert parent.span.parent_span_id == b""
    assert parent.span.kind == OtlpSpan.SPAN_KIND_SERVER
    assert child.span.kind == OtlpSpan.SPAN_KIND_INTERNAL
    assert child.attributes["sluice.step"] == 0 and child.attributes["tags"] == ["x", "y"]
    assert child.resource["service.name"] == "sluice-otlp-test"
    assert 0 < parent.span.start_time_unix_nano <= parent.span.end_time_unix_nano

    call = got[call_span]
    assert call.span.name == ECHO[1:]
    assert call.attributes[Attr.RPC_SYSTEM] == "grpc"
    assert call.attributes[Attr.RPC_METHOD] == "Echo"
    assert call.attributes[Attr.OUTCOME] == "success"
    assert call.attributes[Attr.GRPC_STATUS_CODE] == 0

    stats = trail.stats().export
    assert stats is not None
    wait_for(lambda: trail.store.get_cursor("otlp") == trail.store.last_seq())
    assert stats.exported >= 4 and stats.failed_attempts == 0


def test_an_outage_is_retried_and_nothing_is_lost(setup: Setup) -> None:
    trail = setup.trail()  # the collector is down
    ids = job_like_spans(trail, 5)
    assert trail.flush()

    def failing() -> bool:
        stats = trail.stats().export
        return stats is not None and stats.failed_attempts >= 2

    wait_for(failing)
    stats = trail.stats().export
    assert stats is not None and stats.pending >= 5 and stats.exported == 0
    assert trail.store.get_cursor("otlp") == 0

    setup.collector.start()
    wait_for(lambda: setup.collector.count() >= 5)
    time.sleep(0.3)  # anything sent twice would have arrived by now
    assert sorted(r.span.span_id.hex() for r in setup.collector.spans) == sorted(ids)
    wait_for(lambda: (trail.stats().export or stats).pending == 0)


def test_a_restarted_exporter_resumes_from_its_cursor(setup: Setup) -> None:
    setup.collector.start()
    first = setup.trail()
    delivered = job_like_spans(first, 2)
    wait_for(lambda: setup.collector.count() >= 2)
    wait_for(lambda: first.store.get_cursor("otlp") == first.store.last_seq())

    setup.collector.stop()
    waiting = job_like_spans(first, 3)
    assert first.flush()
    first.stop()  # the server stops with 3 spans not exported

    setup.collector.start()
    second = setup.trail()
    wait_for(lambda: setup.collector.count() >= 5)
    time.sleep(0.3)
    assert sorted(r.span.span_id.hex() for r in setup.collector.spans) == sorted(
        delivered + waiting
    )
    export = second.stats().export
    assert export is not None and export.exported == 3
