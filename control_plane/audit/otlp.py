"""OTLP export of the trail, as an outbox: the database is the queue.

A thread reads sequenced records after a persisted cursor, rebuilds their spans (same trace and
span ids, times and attributes) and sends them with OTLPSpanExporter over insecure gRPC. Only a
delivered batch moves the cursor. A failed one is logged, counted and sent again after a
backoff, so an outage of the collector delays spans but never loses them, and a restarted
server resumes from the cursor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from sluice.control_plane.audit.model import AuditRecord
from sluice.control_plane.audit.store import AuditStore
from sluice.control_plane.audit.tracing import span_from_record

DEFAULT_CURSOR = "otlp"
DEFAULT_BATCH_SIZE = 512
DEFAULT_POLL_INTERVAL_S = 0.5
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_BACKOFF_FIRST_S = 0.5
DEFAULT_BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class ExportStats:
    """Counters of an exporter.

    Attributes:
        exported: spans delivered since it started.
        failed_attempts: batches the collector did not accept (each is retried).
        pending: sequenced records not delivered yet.
        cursor: the seq of the last delivered record.
    """

    exported: int
    failed_attempts: int
    pending: int
    cursor: int


class OtlpOutboxExporter:
    """Sends the trail to an OTLP/gRPC collector from a thread of its own.

    Args:
        store: The trail.
        endpoint: host:port of the collector (plaintext gRPC).
        resource: The resource the spans are reported with.
        cursor_name: Names this exporter's cursor in the store.
        batch_size: Spans per export call.
        poll_interval_s: How often to look for new records when there were none.
        timeout_s: How long one export call (with the exporter's own quick retries) may take.
        backoff_first_s: Pause after a first failure; it doubles up to backoff_max_s.
        backoff_max_s: The longest pause between attempts.
        exporter_factory: Makes the span exporter; OTLPSpanExporter by default.
        logger: Where failures are reported.
    """

    def __init__(
        self,
        store: AuditStore,
        endpoint: str,
        resource: Resource,
        *,
        cursor_name: str = DEFAULT_CURSOR,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        backoff_first_s: float = DEFAULT_BACKOFF_FIRST_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        exporter_factory: Callable[[], SpanExporter] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not endpoint:
            raise ValueError("endpoint must not be empty")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        if min(poll_interval_s, timeout_s, backoff_first_s, backoff_max_s) <= 0:
            raise ValueError("intervals and timeouts must be positive")
        self._store = store
        self._endpoint = endpoint
        self._resource = resource
        self._cursor_name = cursor_name
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._timeout_s = timeout_s
        self._backoff_first_s = backoff_first_s
        self._backoff_max_s = backoff_max_s
        self._factory = exporter_factory or self._otlp_exporter
        self._log = logger or logging.getLogger(__name__)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._exporter: SpanExporter | None = None
        self._cursor = 0
        self._exported = 0
        self._failed_attempts = 0
        self._pending = 0

    @property
    def endpoint(self) -> str:
        """host:port of the collector."""
        return self._endpoint

    @property
    def cursor_name(self) -> str:
        """The name of this exporter's cursor in the store."""
        return self._cursor_name

    def _otlp_exporter(self) -> SpanExporter:
        return OTLPSpanExporter(endpoint=self._endpoint, insecure=True, timeout=self._timeout_s)

    def start(self) -> None:
        """Starts the exporting thread; it resumes after the persisted cursor."""
        if self._thread is not None:
            raise RuntimeError("the OTLP exporter is already started")
        self._stopping.clear()
        self._exporter = self._factory()
        self._thread = threading.Thread(target=self._run, name="sluice-audit-otlp", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops exporting; what is not delivered yet is sent after the next start."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        if self._exporter is not None:
            # Interrupts the exporter's own retries of a call in flight.
            self._exporter.shutdown()
        thread.join(timeout_s)
        self._thread = None
        self._exporter = None

    def wake(self) -> None:
        """Looks for new records now rather than at the next poll."""
        self._wake.set()

    def stats(self) -> ExportStats:
        """The exporter's counters; pending as of its last look at the trail."""
        return ExportStats(
            exported=self._exported,
            failed_attempts=self._failed_attempts,
            pending=self._pending,
            cursor=self._cursor,
        )

    # The exporting thread

    def _run(self) -> None:
        failures = 0
        batch: Sequence[AuditRecord] = ()
        loaded = False
        while not self._stopping.is_set():
            try:
                if not loaded:
                    self._cursor = self._store.get_cursor(self._cursor_name)
                    loaded = True
                if not batch:
                    batch = self._store.after(self._cursor, limit=self._batch_size).records
                    self._pending = max(0, self._store.last_seq() - self._cursor)
                if not batch:
                    self._pause(self._poll_interval_s)
                    continue
                if self._send(batch):
                    failures = 0
                    self._cursor = batch[-1].seq
                    self._exported += len(batch)
                    self._pending = max(0, self._pending - len(batch))
                    batch = ()
                    self._store.set_cursor(self._cursor_name, self._cursor)
                    continue
            except Exception as error:
                # The database is unavailable: what is read or delivered is kept, and retried.
                self._log.warning("audit export to %s stalled: %s", self._endpoint, error)
            failures += 1
            self._pause(min(self._backoff_max_s, self._backoff_first_s * 2 ** (failures - 1)))

    def _send(self, batch: Sequence[AuditRecord]) -> bool:
        spans: list[ReadableSpan] = [span_from_record(r, self._resource) for r in batch]
        exporter = self._exporter
        result = SpanExportResult.FAILURE if exporter is None else exporter.export(spans)
        if result is SpanExportResult.SUCCESS:
            return True
        if not self._stopping.is_set():
            self._failed_attempts += 1
            self._log.warning(
                "cannot export %d audit spans to %s (attempt failed; will retry)",
                len(spans),
                self._endpoint,
            )
        return False

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()
