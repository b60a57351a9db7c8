"""The PostgreSQL pool: a connection idle a while is pinged before use, and replaced when the
server closed it; one in steady use is not pinged (one round trip a call less)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text

import sluice.common.db as dbm
from sluice.common.errors import InternalError
from tests.contract.conftest import POSTGRES_URL


@pytest.fixture
def pg() -> Iterator[dbm.Database]:
    db = dbm.Database(POSTGRES_URL)
    try:
        yield db
    finally:
        db.dispose()


def _backend_pid(db: dbm.Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_the_server_closed_is_replaced(
    pg: dbm.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(pg)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    # Idle "long enough" at once: the next checkout pings, finds it dead, reconnects.
    monkeypatch.setattr(dbm, "PING_AFTER_IDLE_S", 0.0)
    assert _backend_pid(pg) != first


def test_a_connection_in_steady_use_is_not_pinged(
    pg: dbm.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not pinged, so a connection the server closed within PING_AFTER_IDLE_S fails one call
    # (the pool then drops it): the price of saving a round trip on every call.
    monkeypatch.setattr(dbm, "PING_AFTER_IDLE_S", 3600.0)
    first = _backend_pid(pg)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    with pytest.raises(InternalError):
        _backend_pid(pg)
    assert _backend_pid(pg) != first
