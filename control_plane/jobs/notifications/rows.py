"""The tables of run notifications (jobs migration 0013)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from sluice.catalog.core.store.rows import BIG_ID, UtcDateTime


class SqlRunEvent(SQLModel, table=True):
    """A run event, recorded once per run and kind (the unique constraint makes a second
    recorder's insert fail), with the state of its webhook delivery."""

    __tablename__ = "run_events"
    __table_args__ = (
        UniqueConstraint("run_id", "kind", name="uq_run_events_run_id_kind"),
        Index("ix_run_events_account_id", "account", "id"),
        Index("ix_run_events_delivery", "delivery", "next_attempt_on"),
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    account: str = Field(sa_column=Column(String(255), nullable=False))
    run_id: str = Field(sa_column=Column(String(80), nullable=False))
    job_name: str = Field(sa_column=Column(String(255), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    message: str = Field(sa_column=Column(Text, nullable=False))
    notify_delay_after: int = Field(sa_column=Column(Integer, nullable=False))
    created_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    # NONE (the account had no webhook), PENDING, DELIVERED or FAILED (retries exhausted).
    delivery: str = Field(sa_column=Column(String(16), nullable=False))
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    next_attempt_on: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True)
    )
    last_error: str = Field(sa_column=Column(Text, nullable=False))


class SqlWebhook(SQLModel, table=True):
    """An account's webhook; the secret is encrypted with the server's SecretBox."""

    __tablename__ = "webhooks"

    account: str = Field(sa_column=Column(String(255), primary_key=True))
    url: str = Field(sa_column=Column(Text, nullable=False))
    secret_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    last_modified_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


RUN_EVENTS = SqlRunEvent.__table__
WEBHOOKS = SqlWebhook.__table__
