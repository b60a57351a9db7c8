"""The batched writer: spans written in order, in batches, and never dropped when writes fail."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import cast

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan

from control_plane.audit.model import AuditRecord, Completion
from control_plane.audit.store import AuditStore
from control_plane.audit.tracing import AuditSpanProcessor, make_resource, make_tracer_provider
from control_plane.audit.writer import BatchWriter

pytestmark = pytest.mark.unit


class FakeStore:
    """Keeps what write_batch is given; fails the next `failures` calls."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[AuditRecord], list[Completion]]] = []
        self.failures = 0
        self.calls = 0
        self.lock = threading.Lock()

    def write_batch(
        self, records: Sequence[AuditRecord], completions: Sequence[Completion] = ()
    ) -> int:
        with self.lock:
            self.calls += 1
            if self.failures:
                self.failures -= 1
                raise OSError("database is locked")
            self.batches.append((list(records), list(completions)))
            return len(records)

    def names(self) -> list[str]:
        return [r.name for records, _ in self.batches for r in records]


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def ended() -> Iterator[list[ReadableSpan]]:
    spans: list[ReadableSpan] = []
    provider = make_tracer_provider(AuditSpanProcessor(spans.append), make_resource())
    tracer = provider.get_tracer("test")
    for i in range(7):
        tracer.start_span(f"s{i}", context=Context()).end()
    yield spans
    provider.shutdown()


def writer_for(store: FakeStore, **kwargs: float) -> BatchWriter:
    return BatchWriter(cast(AuditStore, store), **kwargs)  # type: ignore[arg-type]


def test_spans_are_written_in_order_in_batches(store: FakeStore, ended: list[ReadableSpan]) -> None:
    writer = writer_for(store, flush_interval_s=60, max_batch=3)
    writer.start()
    try:
        for span in ended:
            writer.add(span)
        assert writer.flush(10)
    finally:
        writer.close()

    assert store.names() == [f"s{i}" for i in range(7)]
    assert all(len(records) <= 3 for records, _ in store.batches)
    assert writer.stats().written == 7 and writer.stats().pending == 0


def test_a_full_batch_is_written_without_waiting_for_the_interval(
    store: FakeStore, ended: list[ReadableSpan]
) -> None:
    writer = writer_for(store, flush_interval_s=60, max_batch=3)
    writer.start()
    try:
        for span in ended[:3]:
            writer.add(span)
        deadline = threading.Event()
        for _ in range(100):
            if store.names():
                break
            deadline.wait(0.05)
        assert store.names() == ["s0", "s1", "s2"]
    finally:
        writer.close()


def test_failed_writes_are_retried_and_nothing_is_lost(
    store: FakeStore, ended: list[ReadableSpan], caplog: pytest.LogCaptureFixture
) -> None:
    store.failures = 3
    writer = writer_for(store, flush_interval_s=0.01, max_batch=2)
    writer.start()
    try:
        with caplog.at_level(logging.WARNING):
            for span in ended:
                writer.add(span)
            assert writer.flush(20)
    finally:
        writer.close()

    assert store.names() == [f"s{i}" for i in range(7)]
    assert writer.stats().failed_attempts == 3
    assert "will retry" in caplog.text


def test_completions_and_sequencing_requests_reach_the_store(
    store: FakeStore, ended: list[ReadableSpan]
) -> None:
    writer = writer_for(store)
    record = AuditRecord(trace_id="a" * 32, span_id="b" * 16, name="done", start_ns=1, end_ns=2)

    writer.add_completion(Completion(record, 7))
    assert writer.flush()  # not started: written in this thread
    assert store.batches == [([], [Completion(record, 7)])]

    writer.request_sequencing()
    assert writer.flush()
    assert store.batches[-1] == ([], [])


def test_close_writes_what_is_queued(store: FakeStore, ended: list[ReadableSpan]) -> None:
    writer = writer_for(store, flush_interval_s=60)
    writer.start()
    for span in ended:
        writer.add(span, {"given": True})
    writer.close()

    assert store.names() == [f"s{i}" for i in range(7)]
    assert all(r.attributes == {"given": True} for records, _ in store.batches for r in records)


def test_flush_without_a_thread_reports_a_failed_write(
    store: FakeStore, ended: list[ReadableSpan]
) -> None:
    store.failures = 1
    writer = writer_for(store)
    writer.add(ended[0])

    assert not writer.flush()
    assert writer.stats().pending == 1
    assert writer.flush()
    assert store.names() == ["s0"]
