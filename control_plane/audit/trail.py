"""The audit trail of one server: tracer, span processor, store, batched writer, OTLP exporter.

How a call's record is kept (the interceptor drives it):
- The call's span is started when the call arrives. If the call writes to the database, its
  record is inserted by a before-commit hook inside the first write transaction (`prewrite`),
  so the record commits, or rolls back, with the change.
- When the span ends, a record written so is completed at once by an UPDATE (or inserted, if
  its transaction rolled back); any other span is queued for the batched writer, so a call that
  wrote nothing does no database I/O for its record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Tracer
from sqlalchemy import Connection

from common.db import Database
from common.paging import PageTokenCodec
from control_plane.audit import otlp, writer
from control_plane.audit.model import Completion
from control_plane.audit.otlp import ExportStats, OtlpOutboxExporter
from control_plane.audit.sql_store import SqlAuditStore
from control_plane.audit.store import AuditStore
from control_plane.audit.tracing import (
    DEFAULT_SERVICE_NAME,
    TRACER_NAME,
    AuditSpanProcessor,
    make_resource,
    make_tracer_provider,
    record_from_span,
)
from control_plane.audit.writer import BatchWriter, WriterStats

if TYPE_CHECKING:
    from control_plane.interceptors.audit import AuditInterceptor


@dataclass(frozen=True)
class AuditConfig:
    """How the trail is kept and exported.

    Attributes:
        service_name: The `service.name` of the spans' resource.
        otlp_endpoint: host:port of an OTLP/gRPC collector (plaintext); no export when empty.
        flush_interval_s: The longest a record of a call that wrote nothing waits to be written.
        max_batch: Records per batch of the writer; a full batch is written at once.
        otlp_batch_size: Spans per OTLP export call.
        otlp_poll_interval_s: How often the exporter looks for new records when idle.
        otlp_timeout_s: The time one OTLP export call may take.
        otlp_backoff_first_s: The exporter's pause after a failed attempt; it doubles...
        otlp_backoff_max_s: ...up to this.
    """

    service_name: str = DEFAULT_SERVICE_NAME
    otlp_endpoint: str = ""
    flush_interval_s: float = writer.DEFAULT_FLUSH_INTERVAL_S
    max_batch: int = writer.DEFAULT_MAX_BATCH
    otlp_batch_size: int = otlp.DEFAULT_BATCH_SIZE
    otlp_poll_interval_s: float = otlp.DEFAULT_POLL_INTERVAL_S
    otlp_timeout_s: float = otlp.DEFAULT_TIMEOUT_S
    otlp_backoff_first_s: float = otlp.DEFAULT_BACKOFF_FIRST_S
    otlp_backoff_max_s: float = otlp.DEFAULT_BACKOFF_MAX_S


@dataclass(frozen=True)
class TrailStats:
    """Counters of the trail: its writer's and, when exporting, its OTLP exporter's."""

    writer: WriterStats
    export: ExportStats | None


class AuditTrail:
    """Everything the audit trail of one server needs, started and stopped together.

    Args:
        db: The database of the audited stores (records commit with their changes in it); its
            audit schema must be upgraded (control_plane.audit.schema.upgrade_schema).
        page_tokens: Signs the next_tokens of audit queries.
        config: How the trail is kept and exported.
        store: The store to use instead of a SqlAuditStore over db.
        logger: Where the trail reports its troubles.
    """

    def __init__(
        self,
        db: Database,
        page_tokens: PageTokenCodec,
        config: AuditConfig | None = None,
        *,
        store: AuditStore | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._config = config or AuditConfig()
        self._log = logger or logging.getLogger("sluice.audit")
        self._store = store or SqlAuditStore(db, page_tokens)
        self._resource = make_resource(self._config.service_name)
        self._writer = BatchWriter(
            self._store,
            flush_interval_s=self._config.flush_interval_s,
            max_batch=self._config.max_batch,
            logger=self._log,
        )
        self._provider = make_tracer_provider(AuditSpanProcessor(self._on_end), self._resource)
        self._tracer = self._provider.get_tracer(TRACER_NAME)
        self._exporter: OtlpOutboxExporter | None = None
        if self._config.otlp_endpoint:
            self._exporter = OtlpOutboxExporter(
                self._store,
                self._config.otlp_endpoint,
                self._resource,
                batch_size=self._config.otlp_batch_size,
                poll_interval_s=self._config.otlp_poll_interval_s,
                timeout_s=self._config.otlp_timeout_s,
                backoff_first_s=self._config.otlp_backoff_first_s,
                backoff_max_s=self._config.otlp_backoff_max_s,
                logger=self._log,
            )
        # Span id -> row id, of spans in flight whose record was written with a change.
        self._prewritten: dict[int, int] = {}
        # Span id -> all attributes, of spans being ended by end_span (in this thread).
        self._ending: dict[int, Mapping[str, Any]] = {}
        self._started = False

    @property
    def config(self) -> AuditConfig:
        """The configuration the trail was made with."""
        return self._config

    @property
    def store(self) -> AuditStore:
        """Where the trail is kept; what the AuditService queries."""
        return self._store

    @property
    def tracer(self) -> Tracer:
        """The tracer of the trail: every span it makes becomes an audit record when it ends.

        Make a call's child spans with it, e.g. `tracer.start_span("claim environment",
        context=tracing.context_from_traceparent(run.trace_parent))`.
        """
        return self._tracer

    def interceptor(self) -> AuditInterceptor:
        """The server interceptor that makes every call's span and record."""
        # Imported here: the interceptor module imports this one.
        from control_plane.interceptors.audit import AuditInterceptor

        return AuditInterceptor(self)

    def start(self) -> None:
        """Completes records left in flight by a previous process, starts the writer and,
        if configured, the OTLP exporter."""
        if self._started:
            raise RuntimeError("the audit trail is already started")
        interrupted = self._store.recover_interrupted(time.time_ns())
        if interrupted:
            self._log.warning(
                "%d audit records of calls interrupted by a stop were completed as failures",
                interrupted,
            )
        self._writer.start()
        if self._exporter is not None:
            self._exporter.start()
        self._started = True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Writes what is queued, stops the exporter (it resumes from its cursor next time)
        and shuts the tracer provider down. Spans ended afterwards are not recorded."""
        if not self._started:
            return
        self._started = False
        self._writer.close(timeout_s)
        if self._exporter is not None:
            self._exporter.stop(timeout_s)
        self._provider.shutdown()

    def flush(self, timeout_s: float | None = 10.0) -> bool:
        """Waits until every span ended so far is written and sequenced; False on timeout."""
        done = self._writer.flush(timeout_s)
        if done and self._exporter is not None:
            self._exporter.wake()
        return done

    def stats(self) -> TrailStats:
        """The writer's counters and, when exporting, the exporter's."""
        export = None if self._exporter is None else self._exporter.stats()
        return TrailStats(writer=self._writer.stats(), export=export)

    # Used by the interceptor

    def prewrite(self, conn: Connection, span: ReadableSpan, *, again: bool) -> None:
        """Writes the record of a span in flight on conn, in the transaction of a change.

        again says an earlier transaction of the same call may have written it already (it
        did unless that transaction rolled back); then it is written only if it is missing.
        """
        span_id = span.get_span_context().span_id
        row_id = self._prewritten.get(span_id)
        if again and row_id is not None and self._store.exists(conn, row_id, f"{span_id:016x}"):
            return
        self._prewritten[span_id] = self._store.insert(conn, record_from_span(span))

    def end_span(self, span: ReadableSpan, attributes: Mapping[str, Any]) -> None:
        """Ends a span of this trail's tracer whose attributes are all in attributes (the
        record then takes them as they are, rather than copying them out of the span)."""
        span_id = span.get_span_context().span_id
        self._ending[span_id] = attributes
        try:
            span.end()  # type: ignore[attr-defined]
        finally:
            self._ending.pop(span_id, None)

    def _on_end(self, span: ReadableSpan) -> None:
        span_id = span.get_span_context().span_id
        attributes = self._ending.get(span_id)
        row_id = self._prewritten.pop(span_id, None)
        if row_id is None:
            self._writer.add(span, attributes)
            return
        completion = Completion(record_from_span(span, attributes), row_id)
        try:
            found = self._store.complete(completion)
        except Exception as error:
            # The change and its record are committed; the writer completes it later.
            self._log.warning("cannot complete audit record now (queued): %s", error)
            self._writer.add_completion(completion)
            return
        if found:
            self._writer.request_sequencing()
        else:
            # Its transaction rolled back: the call changed nothing after all.
            self._writer.add(span, attributes)
