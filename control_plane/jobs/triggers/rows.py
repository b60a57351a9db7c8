"""The tables of the SQL trigger store (control_plane/jobs/migrations creates them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from sluice.catalog.core.store.rows import BIG_ID, NAME, UtcDateTime


class SqlTrigger(SQLModel, table=True):
    """A trigger. next_fire_at: a SCHEDULED trigger's next due time while ACTIVATED (firing is
    the conditional update of it); activated_on: runs ending before it do not count for a
    CONDITIONAL trigger; event_count and first_event_at: an EVENT trigger's pending batch."""

    __tablename__ = "triggers"
    __table_args__ = (
        UniqueConstraint("account", "name", name="uq_triggers_account_name"),
        Index("ix_triggers_state_type", "state", "type"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    trigger_id: str = Field(sa_column=Column(String(80), nullable=False))
    account: str = Field(sa_column=Column(String(255), nullable=False))
    name: str = Field(sa_column=Column(NAME, nullable=False))
    workflow_name: str = Field(sa_column=Column(NAME, nullable=False))
    type: str = Field(sa_column=Column(String(16), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    schedule: str = Field(sa_column=Column(Text, nullable=False))
    time_zone: str = Field(sa_column=Column(String(64), nullable=False))
    actions: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    predicate: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    batch_size: int = Field(sa_column=Column(Integer, nullable=False))
    batch_window: int = Field(sa_column=Column(Integer, nullable=False))
    tags: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    next_fire_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True)
    )
    activated_on: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True)
    )
    event_count: int = Field(sa_column=Column(Integer, nullable=False))
    first_event_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True)
    )
    created_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_modified_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlTriggerConsumedRun(SQLModel, table=True):
    """A finished run a CONDITIONAL trigger has taken into account: each is counted once (the
    primary key refuses a second), and only runs without a row here are new to the trigger."""

    __tablename__ = "trigger_consumed_runs"
    __table_args__ = (
        PrimaryKeyConstraint("trigger_pk", "run_pk", name="pk_trigger_consumed_runs"),
    )

    trigger_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("triggers.id", ondelete="CASCADE"), nullable=False)
    )
    run_pk: int = Field(
        sa_column=Column(BIG_ID, ForeignKey("job_runs.id", ondelete="CASCADE"), nullable=False)
    )


class SqlTriggerConsumedCrawl(SQLModel, table=True):
    """A finished crawl a CONDITIONAL trigger has taken into account (as SqlTriggerConsumedRun;
    keyed by crawls.crawl_id, never reused; without a foreign key: the crawlers' migrations run
    after these)."""

    __tablename__ = "trigger_consumed_crawls"
    __table_args__ = (
        PrimaryKeyConstraint("trigger_pk", "crawl_id", name="pk_trigger_consumed_crawls"),
    )

    trigger_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("triggers.id", ondelete="CASCADE"), nullable=False)
    )
    crawl_id: str = Field(sa_column=Column(String(80), nullable=False))


TRIGGERS = SqlTrigger.__table__
TRIGGER_CONSUMED_RUNS = SqlTriggerConsumedRun.__table__
TRIGGER_CONSUMED_CRAWLS = SqlTriggerConsumedCrawl.__table__
