"""The batched writer: records written in order, in batches, and never dropped when writes fail."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import cast

import grpc
import pytest

from sluice.control_plane.audit.model import AuditRecord, Completion
from sluice.control_plane.audit.store import AuditStore
from sluice.control_plane.audit.writer import AuditBacklogged, BatchWriter

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


def record(name: str) -> AuditRecord:
    return AuditRecord(trace_id="a" * 32, span_id="b" * 16, name=name, start_ns=1, end_ns=2)


@pytest.fixture
def ended() -> list[AuditRecord]:
    return [record(f"s{i}") for i in range(7)]


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def writer_for(store: FakeStore, **kwargs: float) -> BatchWriter:
    return BatchWriter(cast(AuditStore, store), **kwargs)  # type: ignore[arg-type]


def test_records_are_written_in_order_in_batches(
    store: FakeStore, ended: list[AuditRecord]
) -> None:
    writer = writer_for(store, flush_interval_s=60, max_batch=3)
    writer.start()
    try:
        for item in ended:
            writer.add(item)
        assert writer.flush(10)
    finally:
        writer.close()

    assert store.names() == [f"s{i}" for i in range(7)]
    assert all(len(records) <= 3 for records, _ in store.batches)
    assert writer.stats().written == 7 and writer.stats().pending == 0


def test_a_full_batch_is_written_without_waiting_for_the_interval(
    store: FakeStore, ended: list[AuditRecord]
) -> None:
    writer = writer_for(store, flush_interval_s=60, max_batch=3)
    writer.start()
    try:
        for item in ended[:3]:
            writer.add(item)
        wait_for(lambda: bool(store.names()))
        assert store.names() == ["s0", "s1", "s2"]
    finally:
        writer.close()


def test_failed_writes_are_retried_and_nothing_is_lost(
    store: FakeStore, ended: list[AuditRecord], caplog: pytest.LogCaptureFixture
) -> None:
    store.failures = 3
    writer = writer_for(store, flush_interval_s=0.01, max_batch=2)
    writer.start()
    try:
        with caplog.at_level(logging.WARNING):
            for item in ended:
                writer.add(item)
            assert writer.flush(20)
    finally:
        writer.close()

    assert store.names() == [f"s{i}" for i in range(7)]
    assert writer.stats().failed_attempts == 3
    assert "will retry" in caplog.text


def test_completions_and_sequencing_requests_reach_the_store(
    store: FakeStore, ended: list[AuditRecord]
) -> None:
    writer = writer_for(store)
    done = record("done")

    writer.add_completion(Completion(done, 7))
    assert writer.flush()  # not started: written in this thread
    assert store.batches == [([], [Completion(done, 7)])]

    writer.request_sequencing()
    assert writer.flush()
    assert store.batches[-1] == ([], [])


def test_close_writes_what_is_queued(store: FakeStore, ended: list[AuditRecord]) -> None:
    writer = writer_for(store, flush_interval_s=60)
    writer.start()
    for item in ended:
        writer.add(item)
    writer.close()

    assert store.names() == [f"s{i}" for i in range(7)]


def test_flush_without_a_thread_reports_a_failed_write(
    store: FakeStore, ended: list[AuditRecord]
) -> None:
    store.failures = 1
    writer = writer_for(store)
    writer.add(ended[0])

    assert not writer.flush()
    assert writer.stats().pending == 1
    assert writer.flush()
    assert store.names() == ["s0"]


def test_items_are_converted_once_in_the_writers_thread(store: FakeStore) -> None:
    converted: list[tuple[str, str]] = []

    def convert(item: object) -> AuditRecord | None:
        converted.append((str(item), threading.current_thread().name))
        return None if item == "junk" else record(f"from {item}")

    store.failures = 1
    writer = BatchWriter(
        cast(AuditStore, store), convert=convert, flush_interval_s=0.01, max_batch=10
    )
    writer.start()
    try:
        for item in ("a", "junk", "b"):
            writer.add(item)
        assert writer.flush(10)
    finally:
        writer.close()

    assert store.names() == ["from a", "from b"]
    assert [item for item, _ in converted] == ["a", "junk", "b"]  # not again on the retry
    assert {thread for _, thread in converted} == {"sluice-audit-writer"}


def test_a_conversion_that_fails_is_reported_and_skipped(
    store: FakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    def convert(item: object) -> AuditRecord | None:
        if item == "bad":
            raise KeyError("no such attribute")
        return record(str(item))

    writer = BatchWriter(cast(AuditStore, store), convert=convert)
    writer.add("bad")
    writer.add("good")
    with caplog.at_level(logging.ERROR):
        assert writer.flush()

    assert store.names() == ["good"]
    assert "cannot make an audit record" in caplog.text


class StalledStore(FakeStore):
    """A store that cannot keep up: write_batch waits until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.released = threading.Event()

    def write_batch(
        self, records: Sequence[AuditRecord], completions: Sequence[Completion] = ()
    ) -> int:
        self.entered.set()
        assert self.released.wait(30), "the test never released the store"
        return super().write_batch(records, completions)


def stalled_writer(store: StalledStore, timeout_s: float) -> BatchWriter:
    """A writer with room for two queued records, whose first write is stalled."""
    writer = BatchWriter(
        cast(AuditStore, store),
        flush_interval_s=0.01,
        max_queue=2,
        enqueue_timeout_s=timeout_s,
    )
    writer.start()
    writer.add(record("r0"))
    assert store.entered.wait(10), "the writer never wrote"
    writer.add(record("r1"))
    writer.add(record("r2"))
    return writer


def test_a_full_queue_makes_the_producer_wait_then_fail_without_queueing() -> None:
    store = StalledStore()
    writer = stalled_writer(store, timeout_s=0.3)
    try:
        began = time.monotonic()
        with pytest.raises(AuditBacklogged) as refused:
            writer.add(record("r3"))
        assert time.monotonic() - began >= 0.3
        assert refused.value.code is grpc.StatusCode.UNAVAILABLE
        assert "cannot keep up" in refused.value.message
        with pytest.raises(AuditBacklogged):
            writer.add_completion(Completion(record("r4"), 1))
        assert writer.stats().refused == 2
        assert writer.stats().pending == 2

        store.released.set()
        assert writer.flush(10)
    finally:
        store.released.set()
        writer.close()
    # What was queued is written; what was refused was never queued.
    assert store.names() == ["r0", "r1", "r2"]


def test_a_waiting_producer_goes_on_once_the_store_catches_up() -> None:
    store = StalledStore()
    writer = stalled_writer(store, timeout_s=30)
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            writer.add(record("r3"))
        except BaseException as error:
            errors.append(error)

    producer = threading.Thread(target=produce)
    try:
        producer.start()
        wait_for(lambda: writer.stats().blocked == 1)
        assert writer.stats().pending == 2  # it waits: the queue holds no more

        store.released.set()
        producer.join(10)
        assert not producer.is_alive()
        assert writer.flush(10)
    finally:
        store.released.set()
        writer.close()
    assert errors == []
    assert store.names() == ["r0", "r1", "r2", "r3"]
    assert writer.stats().refused == 0
