"""The audit trail of one server: tracer, span processor, store, batched writer, OTLP exporter.

How a call's record is kept (the interceptor drives it, see calls.py):
- While the call runs, only its facts are gathered (ids, times, CallInfo). If it writes to the
  database, its record is inserted by a before-commit hook inside its first write transaction
  (`prewrite`), so the record commits, or rolls back, with the change.
- When it has ended, its span is made with the trail's tracer (with the ids its children
  already link to, and its real start and end) and the span processor turns it into its
  record. A call that wrote nothing is queued, and its span made in the writer's next batch:
  no database I/O, and little work, on the request path. A call that wrote has its span made
  at once, and its record completed by an UPDATE (or inserted, if its transaction rolled back)
  before the call returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, Tracer
from sqlalchemy import Connection

from sluice.common.db import Database
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.audit import otlp, writer
from sluice.control_plane.audit.calls import Call, MethodNames
from sluice.control_plane.audit.model import AuditRecord, Completion
from sluice.control_plane.audit.otlp import ExportStats, OtlpOutboxExporter
from sluice.control_plane.audit.sql_store import SqlAuditStore
from sluice.control_plane.audit.store import AuditStore
from sluice.control_plane.audit.tracing import (
    DEFAULT_SERVICE_NAME,
    TRACER_NAME,
    AuditSpanProcessor,
    PresetIds,
    make_record,
    make_resource,
    make_tracer_provider,
    record_from_span,
    span_context_in,
)
from sluice.control_plane.audit.writer import BatchWriter, WriterStats
from sluice.control_plane.security.calls import CallInfo

if TYPE_CHECKING:
    from sluice.control_plane.interceptors.audit import AuditInterceptor


@dataclass(frozen=True)
class AuditConfig:
    """How the trail is kept and exported.

    Attributes:
        service_name: The `service.name` of the spans' resource.
        otlp_endpoint: host:port of an OTLP/gRPC collector (plaintext); no export when empty.
        flush_interval_s: The longest a record of a call that wrote nothing waits to be written.
        max_batch: Records per batch of the writer; a full batch is written at once.
        max_queue: Records waiting to be written at most; beyond, a call waits for room.
        enqueue_timeout_s: How long a call waits for room before it fails (UNAVAILABLE).
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
    max_queue: int = writer.DEFAULT_MAX_QUEUE
    enqueue_timeout_s: float = writer.DEFAULT_ENQUEUE_TIMEOUT_S
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
            audit schema must be upgraded (sluice.control_plane.audit.schema.upgrade_schema).
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
            convert=self._record_of_call,
            flush_interval_s=self._config.flush_interval_s,
            max_batch=self._config.max_batch,
            max_queue=self._config.max_queue,
            enqueue_timeout_s=self._config.enqueue_timeout_s,
            logger=self._log,
        )
        self._ids = PresetIds()
        self._provider = make_tracer_provider(
            AuditSpanProcessor(self._on_end), self._resource, self._ids
        )
        self._tracer = self._provider.get_tracer(TRACER_NAME)
        # Per thread: the record of the span being made by _record_of_call.
        self._made = threading.local()
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
        from sluice.control_plane.interceptors.audit import AuditInterceptor

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
        """Waits until every call and span ended so far is written and sequenced; False on
        timeout."""
        done = self._writer.flush(timeout_s)
        if done and self._exporter is not None:
            self._exporter.wake()
        return done

    def prune(self, before: datetime, limit: int) -> int:
        """Deletes up to limit records of calls started before `before` (AuditStore.prune),
        keeping those the OTLP exporter, when there is one, has not delivered yet."""
        delivered = None
        if self._exporter is not None:
            delivered = self._store.get_cursor(self._exporter.cursor_name)
        return self._store.prune(before, limit, max_seq=delivered)

    def stats(self) -> TrailStats:
        """The writer's counters and, when exporting, the exporter's."""
        export = None if self._exporter is None else self._exporter.stats()
        return TrailStats(writer=self._writer.stats(), export=export)

    # Used by the interceptor

    def begin_call(
        self,
        method: MethodNames,
        info: CallInfo,
        parent: SpanContext | None,
        client_port: int | None,
    ) -> Call:
        """A call that starts now; parent is the caller's span, if it sent a traceparent."""
        return Call(
            method=method,
            info=info,
            trace_id=parent.trace_id if parent is not None else self._ids.new_trace_id(),
            span_id=self._ids.new_span_id(),
            parent=parent,
            client_port=client_port,
            start_ns=time.time_ns(),
        )

    def prewrite(self, conn: Connection, call: Call) -> None:
        """Writes the record of a call in flight on conn, in the transaction of a change.

        Once per call: a later transaction of the call writes it only if the transaction that
        did rolled back.
        """
        if call.row_id is not None and self._store.exists(
            conn, call.row_id, f"{call.span_id:016x}"
        ):
            return
        call.row_id = self._store.insert(conn, self._record_in_flight(call))

    def end_call(self, call: Call) -> None:
        """Records a call that has ended (its end, code and message set).

        Raises:
            AuditBacklogged: the writer's queue stayed full; the call must fail, since its
                record is not queued (a call that wrote keeps its record in flight in the
                store, completed as interrupted at the next start).
        """
        if call.row_id is None:
            self._writer.add(call)
            return
        completion = Completion(self._record_of_call(call), call.row_id)
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
            self._writer.add(completion.record)

    def _record_in_flight(self, call: Call) -> AuditRecord:
        return _direct_record(call, call.attributes())

    def _record_of_call(self, call: Call) -> AuditRecord:
        """Makes the span of an ended call, with its ids and times; the record of that span."""
        attributes = call.attributes()
        made = self._made
        made.attributes = attributes
        made.record = None
        if call.parent is None:
            self._ids.preset(call.trace_id, call.span_id)
        else:
            self._ids.preset(0, call.span_id)
        try:
            span = self._tracer.start_span(
                call.method.span_name,
                context=span_context_in(call.parent),
                kind=SpanKind.SERVER,
                attributes=attributes,
                start_time=call.start_ns,
            )
            if call.code:
                span.set_status(Status(StatusCode.ERROR, call.message or None))
            span.end(end_time=call.end_ns)
        finally:
            self._ids.clear()
            made.attributes = None
        record: AuditRecord | None = made.record
        made.record = None
        if record is None:
            # The provider is shut down (the server is stopping): the record, without a span.
            return _direct_record(call, attributes)
        return record

    def _on_end(self, span: ReadableSpan) -> None:
        """The span processor's work: an ended span becomes its record."""
        try:
            made = self._made
            attributes: Mapping[str, Any] | None = getattr(made, "attributes", None)
            if attributes is not None:
                # The span of a call, made by _record_of_call in this thread.
                made.record = record_from_span(span, attributes)
                return
            self._writer.add(record_from_span(span))
        except Exception:
            # Ending a span must not fail the caller's work; the loss is reported loudly.
            self._log.exception("cannot record span %s in the audit trail", span.name)


def _direct_record(call: Call, attributes: Mapping[str, Any]) -> AuditRecord:
    """The record of a call made from its facts alone (in flight unless it has ended)."""
    failed = call.end_ns > 0 and call.code != 0
    return make_record(
        trace_id=call.trace_id,
        span_id=call.span_id,
        parent_span_id=call.parent.span_id if call.parent is not None else 0,
        name=call.method.span_name,
        kind="SERVER",
        start_ns=call.start_ns,
        end_ns=call.end_ns,
        status_code="ERROR" if failed else "UNSET",
        status_message=call.message if failed else "",
        attributes=attributes,
    )
