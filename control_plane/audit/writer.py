"""The background writer: records of calls that changed nothing (reads, denials, failures) and
of every other ended span, written in batches so that the request path does no database I/O.

Producers only append to a deque (thread-safe, no lock): records, or items `convert` makes
records of in the writer's thread (the trail queues ended calls, whose spans are made there).
One thread wakes every flush_interval_s, or as soon as max_batch items wait, and writes them in
one transaction that also sequences them. A batch that fails stays queued, in order, and is
tried again with backoff: records are not dropped while the server runs.

The queue is bounded (max_queue): when the store cannot keep up, a producer waits for room for
up to enqueue_timeout_s, then gets AuditBacklogged, so the call it records fails rather than
succeed with its record dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from sluice.common.errors import SluiceError
from sluice.control_plane.audit.model import AuditRecord, Completion
from sluice.control_plane.audit.store import AuditStore

DEFAULT_FLUSH_INTERVAL_S = 0.1
DEFAULT_MAX_BATCH = 500
# About 100 MB of records at most; minutes of a busy server's calls.
DEFAULT_MAX_QUEUE = 100_000
DEFAULT_ENQUEUE_TIMEOUT_S = 5.0
_RETRY_FIRST_S = 0.1
_RETRY_MAX_S = 5.0


@dataclass(frozen=True)
class _Marker:
    """Set once everything queued before it is written and sequenced (for flush)."""

    done: threading.Event = field(default_factory=threading.Event)


# A record, a completion, a flush marker, or anything `convert` makes a record of.
_Item = Any


class AuditBacklogged(SluiceError):
    """The audit writer's queue stayed full for the whole wait: the store cannot keep up, and
    the call is refused rather than left without its record. Retryable."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "OperationTimeoutException"


@dataclass(frozen=True)
class WriterStats:
    """What the writer has done: records written, waiting, and failed write attempts;
    producers waiting for room and producers refused after waiting."""

    written: int
    pending: int
    failed_attempts: int
    blocked: int = 0
    refused: int = 0


class BatchWriter:
    """Writes queued records to an AuditStore in batches, from a thread of its own.

    Args:
        store: Where records go.
        convert: Makes the record of a queued item that is not one already (in the writer's
            thread, once, before its batch is first written); returning None drops the item.
        flush_interval_s: The longest a record waits before its batch is written.
        max_batch: Records per transaction; a full batch is written at once.
        max_queue: Items queued at most (plus one per producer thread racing for the last
            place); a producer finding it full waits.
        enqueue_timeout_s: How long a producer waits for room before AuditBacklogged.
        logger: Where write failures are reported.
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        convert: Callable[[Any], AuditRecord | None] | None = None,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_queue: int = DEFAULT_MAX_QUEUE,
        enqueue_timeout_s: float = DEFAULT_ENQUEUE_TIMEOUT_S,
        logger: logging.Logger | None = None,
    ) -> None:
        if flush_interval_s <= 0:
            raise ValueError("flush_interval_s must be positive")
        if max_batch < 1:
            raise ValueError("max_batch must be positive")
        if max_queue < 1 or enqueue_timeout_s < 0:
            raise ValueError("max_queue must be positive and enqueue_timeout_s not negative")
        self._store = store
        self._convert = convert
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._enqueue_timeout_s = enqueue_timeout_s
        # Producers wait on it for room; the writer notifies it after each batch it takes.
        self._room = threading.Condition()
        self._blocked = 0
        self._refused = 0
        self._log = logger or logging.getLogger(__name__)
        self._queue: deque[_Item] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._sequence_needed = False
        self._thread: threading.Thread | None = None
        self._written = 0
        self._failed_attempts = 0

    # Producers (any thread)

    def add(self, item: AuditRecord | object) -> None:
        """Queues a record, or an item for `convert`; cheap enough for the request path.

        Raises:
            AuditBacklogged: the queue stayed full for enqueue_timeout_s; item is not queued.
        """
        if len(self._queue) >= self._max_queue:
            self._wait_for_room()
        self._queue.append(item)
        # is_set() first: set() takes a lock, and the request path should not.
        if len(self._queue) >= self._max_batch and not self._wake.is_set():
            self._wake.set()

    def add_completion(self, completion: Completion) -> None:
        """Queues the completion of a record written with its change (inserted if missing).

        Raises:
            AuditBacklogged: the queue stayed full for enqueue_timeout_s; nothing is queued.
        """
        if len(self._queue) >= self._max_queue:
            self._wait_for_room()
        self._queue.append(completion)
        self._wake.set()

    def _wait_for_room(self) -> None:
        if threading.current_thread() is self._thread:
            return  # the writer itself (a span ended while converting) would wait for itself
        deadline = time.monotonic() + self._enqueue_timeout_s
        self._wake.set()  # write what is queued now rather than at the next interval
        with self._room:
            self._blocked += 1
            try:
                while len(self._queue) >= self._max_queue:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._refused += 1
                        raise AuditBacklogged(
                            f"the audit trail cannot keep up ({len(self._queue)} records wait "
                            f"to be written, no room for {self._enqueue_timeout_s:g} s): the "
                            "call cannot be recorded, so it is refused; try again"
                        )
                    self._room.wait(left)
            finally:
                self._blocked -= 1

    def request_sequencing(self) -> None:
        """Asks for complete records written elsewhere to be sequenced at the next batch."""
        self._sequence_needed = True

    # Lifecycle

    def start(self) -> None:
        """Starts the writing thread."""
        if self._thread is not None:
            raise RuntimeError("the audit writer is already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sluice-audit-writer", daemon=True)
        self._thread.start()

    def flush(self, timeout_s: float | None = 10.0) -> bool:
        """Waits until everything queued so far is written and sequenced; False on timeout."""
        marker = _Marker()
        self._queue.append(marker)
        self._wake.set()
        if self._thread is None:
            # Not started: write in the caller's thread, once.
            while self._queue and self._write_batch(self._max_batch) is not None:
                pass
            return marker.done.is_set()
        return marker.done.wait(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Writes what is queued (trying for up to timeout_s), then stops the thread."""
        thread = self._thread
        if thread is None:
            return
        self.flush(timeout_s)
        self._stopping.set()
        self._wake.set()
        thread.join(timeout_s)
        self._thread = None
        left = sum(1 for item in self._queue if not isinstance(item, _Marker))
        if left:
            self._log.error("audit writer stopped with %d records not written", left)

    def stats(self) -> WriterStats:
        """Counters of the writer."""
        pending = sum(1 for item in tuple(self._queue) if not isinstance(item, _Marker))
        return WriterStats(
            written=self._written,
            pending=pending,
            failed_attempts=self._failed_attempts,
            blocked=self._blocked,
            refused=self._refused,
        )

    # The writing thread

    def _converted(self, item: object) -> AuditRecord | None:
        if self._convert is None:
            raise TypeError(f"the audit writer cannot write a {type(item).__name__}")
        try:
            return self._convert(item)
        except Exception:
            # An item that cannot be converted never will be: report it rather than retry it.
            self._log.exception("cannot make an audit record of %r", item)
            return None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception:
                # A bug must not end the thread: records would pile up unwritten.
                self._log.exception("audit writer failed; it goes on")
                self._stopping.wait(_RETRY_MAX_S)

    def _drain(self) -> None:
        """Writes what is queued now, in batches; what arrives meanwhile waits for the next
        wake-up, so that batches stay big (each costs a transaction). A failed write is
        retried after a pause."""
        left = len(self._queue)
        failures = 0
        while left > 0 or self._sequence_needed:
            written = self._write_batch(max(1, min(left, self._max_batch)))
            if written is not None:
                left -= written
                failures = 0
                continue
            failures += 1
            pause = min(_RETRY_MAX_S, _RETRY_FIRST_S * 2 ** (failures - 1))
            if self._stopping.wait(pause):
                return

    def _write_batch(self, limit: int) -> int | None:
        """Writes up to limit queued items (fewer after a flush marker); how many it took
        from the queue, or None if the write failed (they are queued again)."""
        batch: list[_Item] = []
        while self._queue and len(batch) < limit:
            item = self._queue.popleft()
            batch.append(item)
            if isinstance(item, _Marker):
                break
        if batch and self._blocked:
            with self._room:
                self._room.notify_all()
        sequence = self._sequence_needed
        self._sequence_needed = False
        records: list[AuditRecord] = []
        completions: list[Completion] = []
        markers: list[_Marker] = []
        # What goes back to the queue if the write fails: items converted once stay converted.
        again: list[_Item] = []
        for item in batch:
            if isinstance(item, AuditRecord):
                records.append(item)
            elif isinstance(item, Completion):
                completions.append(item)
            elif isinstance(item, _Marker):
                markers.append(item)
            else:
                record = self._converted(item)
                if record is None:
                    continue
                records.append(record)
                item = record
            again.append(item)
        if records or completions or sequence or markers:
            try:
                self._store.write_batch(records, completions)
            except Exception as error:
                # Whatever the database raised, the batch stays queued, in order, for later.
                self._failed_attempts += 1
                self._queue.extendleft(reversed(again))
                self._sequence_needed = self._sequence_needed or sequence
                self._log.warning(
                    "cannot write %d audit records (will retry): %s",
                    len(records) + len(completions),
                    error,
                )
                return None
            self._written += len(records) + len(completions)
        for marker in markers:
            marker.done.set()
        return len(batch)
