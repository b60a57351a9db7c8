"""The SQL audit store: SQLite or PostgreSQL through the same code."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from sluice.common.db import Database
from sluice.common.errors import InvalidInput
from sluice.common.paging import Page, PageRequest, PageTokenCodec
from sluice.control_plane.audit.model import (
    GRPC_UNKNOWN,
    Attr,
    AuditFilter,
    AuditRecord,
    Completion,
    FollowBatch,
    Outcome,
    ns_to_datetime,
)
from sluice.control_plane.audit.rows import AUDIT_CURSORS, AUDIT_EVENTS
from sluice.control_plane.audit.store import AuditStore

T = AUDIT_EVENTS
_LIKE_ESCAPE = "\\"
INTERRUPTED_MESSAGE = "interrupted: the server stopped before the call ended"


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqlAuditStore(AuditStore):
    """AuditStore over a common.db.Database whose schema sluice.control_plane.audit.schema upgraded.

    Args:
        db: The database; the same one as the stores whose changes are audited, so that a
            record can commit in the transaction of its change.
        page_tokens: Signs and checks the next_tokens of queries.
        clock: The time cursors are stamped with.
    """

    def __init__(
        self,
        db: Database,
        page_tokens: PageTokenCodec,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._tokens = page_tokens
        self._clock = clock

    # Writing

    def insert(self, conn: Connection, record: AuditRecord) -> int:
        result = conn.execute(insert(T).values(**_row(record, seq=None)))
        return int(result.inserted_primary_key[0])

    def exists(self, conn: Connection, row_id: int, span_id: str) -> bool:
        found = conn.execute(select(T.c.id).where(T.c.id == row_id, T.c.span_id == span_id))
        return found.first() is not None

    def complete(self, completion: Completion) -> bool:
        with self._db.write() as conn:
            return _complete(conn, completion)

    def write_batch(
        self, records: Sequence[AuditRecord], completions: Sequence[Completion] = ()
    ) -> int:
        with self._db.write() as conn:
            missing = [c.record for c in completions if not _complete(conn, c)]
            return _sequence(conn, [*missing, *records])

    def recover_interrupted(self, end_ns: int) -> int:
        with self._db.write() as conn:
            rows = conn.execute(
                select(T.c.id, T.c.start_ns, T.c.attributes).where(T.c.end_ns == 0)
            ).all()
            for row in rows:
                attributes = dict(row.attributes)
                attributes.update(
                    {
                        Attr.OUTCOME: str(Outcome.FAILURE),
                        Attr.GRPC_STATUS_CODE: GRPC_UNKNOWN,
                        Attr.INTERRUPTED: True,
                    }
                )
                conn.execute(
                    update(T)
                    .where(T.c.id == row.id)
                    .values(
                        end_ns=max(end_ns, row.start_ns + 1),
                        outcome=str(Outcome.FAILURE),
                        grpc_code=GRPC_UNKNOWN,
                        status_code="ERROR",
                        status_message=INTERRUPTED_MESSAGE,
                        attributes=attributes,
                    )
                )
            _sequence(conn, [])
            return len(rows)

    # Reading

    def query(self, audit_filter: AuditFilter, page: PageRequest) -> Page[AuditRecord]:
        query = self._tokens.page_query(page, list, "QueryAuditEvents", *_scope(audit_filter))
        conditions = _conditions(audit_filter)
        if query.after is not None:
            time, row_id = _position(query.after)
            conditions.append(or_(T.c.time < time, and_(T.c.time == time, T.c.id < row_id)))
        with self._db.read() as conn:
            rows = conn.execute(
                select(T)
                .where(*conditions)
                .order_by(T.c.time.desc(), T.c.id.desc())
                .limit(query.limit + 1)
            ).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: [row.time.isoformat(), row.id])
        return Page(items=tuple(_record(row) for row in kept), next_token=token)

    def after(
        self, seq: int, audit_filter: AuditFilter | None = None, limit: int = 100
    ) -> FollowBatch:
        if limit < 1:
            raise ValueError("limit must be positive")
        conditions = [] if audit_filter is None else _conditions(audit_filter)
        with self._db.read() as conn:
            # Bounded by the top read first: every seq up to it has committed (one sequencer,
            # in order), so continuing from it later skips nothing.
            top = _last_seq(conn)
            if top <= seq:
                return FollowBatch(records=(), next_seq=seq)
            rows = conn.execute(
                select(T)
                .where(T.c.seq > seq, T.c.seq <= top, *conditions)
                .order_by(T.c.seq)
                .limit(limit)
            ).all()
        records = tuple(_record(row) for row in rows)
        next_seq = records[-1].seq if len(records) == limit else top
        return FollowBatch(records=records, next_seq=next_seq)

    def last_seq(self) -> int:
        with self._db.read() as conn:
            return _last_seq(conn)

    def seq_before(self, time: datetime) -> int:
        with self._db.read() as conn:
            first = conn.execute(
                select(func.min(T.c.seq)).where(T.c.time >= time, T.c.seq.is_not(None))
            ).scalar()
            if first is None:
                return _last_seq(conn)
            return int(first) - 1

    # Retention

    def prune(self, before: datetime, limit: int, max_seq: int | None = None) -> int:
        if limit < 1:
            raise ValueError("limit must be positive")
        with self._db.write() as conn:
            top = _last_seq(conn)
            conditions = [T.c.time < before, T.c.seq.is_not(None), T.c.seq < top]
            if max_seq is not None:
                conditions.append(T.c.seq <= max_seq)
            # By the (time, id) index, oldest first; the batch bounds the transaction.
            oldest = select(T.c.id).where(*conditions).order_by(T.c.time, T.c.id).limit(limit)
            ids = conn.execute(oldest).scalars().all()
            if not ids:
                return 0
            return conn.execute(delete(T).where(T.c.id.in_(ids))).rowcount

    # Export cursors

    def get_cursor(self, name: str) -> int:
        with self._db.read() as conn:
            seq = conn.execute(
                select(AUDIT_CURSORS.c.seq).where(AUDIT_CURSORS.c.name == name)
            ).scalar()
        return 0 if seq is None else int(seq)

    def set_cursor(self, name: str, seq: int) -> None:
        now = self._clock()
        with self._db.write() as conn:
            changed = conn.execute(
                update(AUDIT_CURSORS)
                .where(AUDIT_CURSORS.c.name == name)
                .values(seq=seq, updated_on=now)
            ).rowcount
            if not changed:
                conn.execute(insert(AUDIT_CURSORS).values(name=name, seq=seq, updated_on=now))


# Rows


def _row(record: AuditRecord, *, seq: int | None) -> dict[str, Any]:
    return {
        "seq": seq,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        **_mutable(record),
    }


def _mutable(record: AuditRecord) -> dict[str, Any]:
    """Every column a record's completion may change."""
    attributes = record.attributes
    return {
        "parent_span_id": record.parent_span_id,
        "name": record.name,
        "kind": record.kind,
        "start_ns": record.start_ns,
        "end_ns": record.end_ns,
        "status_code": record.status_code,
        "status_message": record.status_message,
        "attributes": attributes if isinstance(attributes, dict) else dict(attributes),
        "time": ns_to_datetime(record.start_ns),
        "account": record.account,
        "principal": record.principal,
        "principal_name": record.principal_name,
        "action": record.action,
        "resource": record.resource,
        "outcome": "" if record.outcome is None else str(record.outcome),
        "grpc_code": record.grpc_code,
        "read_only": record.read_only,
        "request_id": record.request_id,
    }


def _record(row: Row) -> AuditRecord:
    return AuditRecord(
        trace_id=row.trace_id,
        span_id=row.span_id,
        parent_span_id=row.parent_span_id,
        name=row.name,
        kind=row.kind,
        start_ns=row.start_ns,
        end_ns=row.end_ns,
        status_code=row.status_code,
        status_message=row.status_message,
        attributes=_attributes(row.attributes),
        account=row.account,
        principal=row.principal,
        principal_name=row.principal_name,
        action=row.action,
        resource=row.resource,
        outcome=Outcome(row.outcome) if row.outcome else None,
        grpc_code=row.grpc_code,
        read_only=bool(row.read_only),
        request_id=row.request_id,
        seq=row.seq or 0,
    )


def _attributes(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # a driver that hands JSON back as text
        value = json.loads(value)
    return dict(value or {})


def _complete(conn: Connection, completion: Completion) -> bool:
    record = completion.record
    changed = conn.execute(
        update(T)
        .where(T.c.id == completion.row_id, T.c.span_id == record.span_id)
        .values(**_mutable(record))
    ).rowcount
    return bool(changed)


def _last_seq(conn: Connection) -> int:
    top = conn.execute(select(func.max(T.c.seq))).scalar()
    return 0 if top is None else int(top)


def _sequence(conn: Connection, new: Sequence[AuditRecord]) -> int:
    """Numbers the complete unsequenced records, then inserts new ones numbered after them.

    Sequencers take turns: on SQLite a write transaction holds the database's write lock, on
    PostgreSQL this takes a transaction-scoped advisory lock. So seqs commit in order, and a
    reader that sees seq N has seen every record before it.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEQUENCER_LOCK})
    top = _last_seq(conn)
    waiting = (
        conn.execute(
            select(T.c.id).where(T.c.seq.is_(None), T.c.end_ns > 0).order_by(T.c.end_ns, T.c.id)
        )
        .scalars()
        .all()
    )
    if waiting:
        conn.execute(
            update(T).where(T.c.id == bindparam("b_id")).values(seq=bindparam("b_seq")),
            [{"b_id": row_id, "b_seq": top + i} for i, row_id in enumerate(waiting, 1)],
        )
        top += len(waiting)
    rows = []
    numbered = 0
    sqlite = conn.dialect.name == "sqlite"
    for record in new:
        seq = None
        if record.complete:
            numbered += 1
            seq = top + numbered
        rows.append(_values(record, seq, sqlite=sqlite))
    if rows:
        conn.exec_driver_sql(_INSERT_SQLITE if sqlite else _INSERT_POSTGRESQL, rows)
    return len(waiting) + numbered


# The advisory lock key of the sequencer (any constant unique to it; "sluiceaq" in ASCII).
_SEQUENCER_LOCK = 0x736C756963656171
_COLUMNS = (
    "seq",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_ns",
    "end_ns",
    "status_code",
    "status_message",
    "attributes",
    "time",
    "account",
    "principal",
    "principal_name",
    "action",
    "resource",
    "outcome",
    "grpc_code",
    "read_only",
    "request_id",
)
# The writer's batches go to the driver as they are: SQLAlchemy's per-row parameter handling
# cost more than the rest of a record's insert, on the thread that competes with requests.
_INSERT = f"INSERT INTO audit_events ({', '.join(_COLUMNS)}) VALUES "
_INSERT_SQLITE = _INSERT + "(" + ", ".join("?" for _ in _COLUMNS) + ")"
_INSERT_POSTGRESQL = (
    _INSERT
    + "("
    + ", ".join("CAST(%s AS json)" if c == "attributes" else "%s" for c in _COLUMNS)
    + ")"
)


def _values(record: AuditRecord, seq: int | None, *, sqlite: bool) -> tuple[Any, ...]:
    """A record as parameters of _INSERT_*, converted as the column types would."""
    time: Any
    if sqlite:
        # As UtcDateTime and DateTime store it on SQLite: naive UTC, microseconds always.
        naive = _EPOCH + timedelta(microseconds=record.start_ns // 1000)
        time = naive.isoformat(" ", "microseconds")
    else:
        time = ns_to_datetime(record.start_ns)
    return (
        seq,
        record.trace_id,
        record.span_id,
        record.parent_span_id,
        record.name,
        record.kind,
        record.start_ns,
        record.end_ns,
        record.status_code,
        record.status_message,
        _JSON.encode(record.attributes),
        time,
        record.account,
        record.principal,
        record.principal_name,
        record.action,
        record.resource,
        "" if record.outcome is None else record.outcome.value,
        record.grpc_code,
        record.read_only,
        record.request_id,
    )


_EPOCH = datetime(1970, 1, 1)
# One encoder for every batch: json.dumps with options builds a new one per call.
_JSON = json.JSONEncoder(separators=(",", ":"), default=str)


# Filters


def _scope(audit_filter: AuditFilter) -> tuple[object, ...]:
    """What a query's tokens are bound to: every field of its filter."""
    return (
        audit_filter.account,
        audit_filter.principal,
        audit_filter.action,
        audit_filter.resource,
        audit_filter.outcome,
        audit_filter.start_time,
        audit_filter.end_time,
        audit_filter.trace_id,
    )


def _position(value: list[Any]) -> tuple[datetime, int]:
    try:
        time_text, row_id = value
        time = datetime.fromisoformat(time_text)
    except (TypeError, ValueError):
        raise InvalidInput("next_token is not valid for this request") from None
    if not isinstance(row_id, int) or isinstance(row_id, bool):
        raise InvalidInput("next_token is not valid for this request")
    return time, row_id


def _conditions(audit_filter: AuditFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if audit_filter.account is not None:
        conditions.append(T.c.account == audit_filter.account)
    if audit_filter.principal:
        who = audit_filter.principal
        conditions.append(or_(T.c.principal == who, T.c.principal_name == who))
    if audit_filter.action:
        conditions.append(_action_condition(audit_filter.action))
    if audit_filter.resource:
        resource = audit_filter.resource
        pattern = glob_to_like(resource) if is_glob(resource) else like_literal(resource) + "%"
        conditions.append(T.c.resource.like(pattern, escape=_LIKE_ESCAPE))
    if audit_filter.outcome is not None:
        conditions.append(T.c.outcome == str(audit_filter.outcome))
    if audit_filter.start_time is not None:
        conditions.append(T.c.time >= audit_filter.start_time)
    if audit_filter.end_time is not None:
        conditions.append(T.c.time < audit_filter.end_time)
    if audit_filter.trace_id:
        conditions.append(T.c.trace_id == audit_filter.trace_id)
    return conditions


def _action_condition(action: str) -> ColumnElement[bool]:
    if is_glob(action):
        return T.c.action.like(glob_to_like(action), escape=_LIKE_ESCAPE)
    if ":" in action:
        return T.c.action == action
    # GetTable matches glue:GetTable: people name actions without their service prefix.
    return or_(
        T.c.action == action,
        T.c.action.like("%:" + like_literal(action), escape=_LIKE_ESCAPE),
    )


def is_glob(pattern: str) -> bool:
    """Whether a filter value is a glob (has * or ?) rather than a literal."""
    return "*" in pattern or "?" in pattern


def like_literal(text: str) -> str:
    """text as a LIKE pattern matching exactly itself (escaped with a backslash)."""
    return (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )


def glob_to_like(pattern: str) -> str:
    """A glob (`*` any run, `?` one character) as a LIKE pattern."""
    out = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        else:
            out.append(like_literal(char))
    return "".join(out)
