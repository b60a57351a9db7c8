"""The tables of the SQL audit store.

The Sql* classes describe the schema (control_plane/audit/migrations creates it); they never
leave the store, which reads and writes them with SQLAlchemy Core and returns
sluice.control_plane.audit.model objects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from sluice.catalog.core.store.rows import BIG_ID, UtcDateTime

# Matched with LIKE for globs and prefixes: byte order on PostgreSQL, so its indexes serve them.
MATCHED = String(1024).with_variant(String(1024, collation="C"), "postgresql")
KEY = String(255).with_variant(String(255, collation="C"), "postgresql")


class SqlAuditEvent(SQLModel, table=True):
    """One span of the trail.

    seq is the export and follow order. It is NULL until the trail's single sequencer numbers
    the record (once it is complete), so seqs are dense and committed in order even when
    transactions carrying records commit out of order.
    """

    __tablename__ = "audit_events"
    # Every index costs every insert, and a server writes a row per call: a record is found by
    # id when it is completed, and searched by time (within an account for all but the
    # operator); the other filters narrow those scans.
    __table_args__: Any = (
        UniqueConstraint("seq", name="uq_audit_events_seq"),
        Index("ix_audit_events_time_id", "time", "id"),
        Index("ix_audit_events_account_time_id", "account", "time", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    trace_id: str = Field(sa_column=Column(String(32), nullable=False))
    span_id: str = Field(sa_column=Column(String(16), nullable=False))
    parent_span_id: str = Field(sa_column=Column(String(16), nullable=False))
    name: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    start_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    # 0 while the call is in flight.
    end_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    status_code: str = Field(sa_column=Column(String(8), nullable=False))
    status_message: str = Field(sa_column=Column(Text, nullable=False))
    attributes: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    account: str = Field(sa_column=Column(KEY, nullable=False))
    principal: str = Field(sa_column=Column(KEY, nullable=False))
    principal_name: str = Field(sa_column=Column(KEY, nullable=False))
    action: str = Field(sa_column=Column(KEY, nullable=False))
    resource: str = Field(sa_column=Column(MATCHED, nullable=False))
    # "" while the call is in flight.
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    grpc_code: int = Field(sa_column=Column(Integer, nullable=False))
    read_only: bool = Field(sa_column=Column(Boolean, nullable=False))
    request_id: str = Field(sa_column=Column(String(128), nullable=False))


class SqlAuditCursor(SQLModel, table=True):
    """How far an exporter has sent the trail: the seq of the last record it delivered."""

    __tablename__ = "audit_export_cursors"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


AUDIT_EVENTS = SqlAuditEvent.__table__
AUDIT_CURSORS = SqlAuditCursor.__table__
