"""Backends and builders shared by the job store contract tests (this module has no tests).

Each backend is a fresh schema: a SQLite file, or a PostgreSQL schema in database `test` reached
through `?options=-csearch_path=<schema>`. PostgreSQL being down fails the tests; it never skips
them.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from sluice.common.db import Database
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.jobs.model import CommandName, JobCommand, JobInput
from sluice.control_plane.jobs.schema import upgrade_schema
from sluice.control_plane.jobs.sql_store import SqlJobStore

BACKENDS = ("sqlite", "postgresql")
POSTGRES_URL = os.environ.get(
    "SLUICE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PAGE_TOKEN_KEY = b"job-store-contract-tests-key-0123"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


@contextmanager
def open_database(kind: str, tmp_dir: Path) -> Iterator[Database]:
    """A migrated, empty database of the given backend, dropped afterwards."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_dir / 'jobs.db'}")
        try:
            upgrade_schema(db)
            yield db
        finally:
            db.dispose()
        return
    schema = f"jobs_contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    db = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", pool_size=10)
    try:
        upgrade_schema(db)
        yield db
    finally:
        db.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def new_store(db: Database, clock: FakeClock, **kwargs: int) -> SqlJobStore:
    return SqlJobStore(db, PageTokenCodec(PAGE_TOKEN_KEY), clock=clock, **kwargs)


def new_account() -> str:
    """Tests share a database per module; each works in its own account."""
    return f"acct-{uuid.uuid4().hex[:12]}"


def job_input(name: str = "etl", **changes: object) -> JobInput:
    base = JobInput(
        name=name,
        role="arn:sluice:role/etl",
        command=JobCommand(CommandName.GLUEETL, "sluice://scripts/etl.py"),
    )
    return replace(base, **changes)
