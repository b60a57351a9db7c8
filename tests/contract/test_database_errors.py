"""The transaction helper turns a database's deadline and collision failures into Glue's errors:
OperationTimeoutException for a statement past its deadline, ConcurrentModificationException
for writers that collide."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from sluice.common.db import Database, sqlite_url
from sluice.common.errors import ConcurrentModification, InternalError, OperationTimeout
from tests.contract.conftest import POSTGRES_URL

pytestmark = pytest.mark.contract


def test_a_postgresql_statement_past_its_deadline_is_an_operation_timeout() -> None:
    db = Database(POSTGRES_URL, statement_timeout=0.05)
    try:
        timed_out = pytest.raises(OperationTimeout, match=r"did not answer within 0\.05 s")
        with timed_out, db.read() as conn:
            conn.execute(text("SELECT pg_sleep(2)"))
        with db.read() as conn:  # the pooled connection still works, with its deadline
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "50ms"
    finally:
        db.dispose()


def test_a_sqlite_writer_waiting_past_its_deadline_is_an_operation_timeout(
    tmp_path: Path,
) -> None:
    holder = Database(sqlite_url(tmp_path))
    waiter = Database(sqlite_url(tmp_path), statement_timeout=0.05)
    locked = threading.Event()
    release = threading.Event()

    def hold_the_write_lock() -> None:
        with holder.write() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            locked.set()
            release.wait(10)

    thread = threading.Thread(target=hold_the_write_lock)
    thread.start()
    try:
        assert locked.wait(10)
        with pytest.raises(OperationTimeout), waiter.write() as conn:
            conn.execute(text("CREATE TABLE u (x INTEGER)"))
    finally:
        release.set()
        thread.join(10)
        holder.dispose()
        waiter.dispose()


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("40001", ConcurrentModification),  # serialization_failure
        ("40P01", ConcurrentModification),  # deadlock_detected
        ("57014", OperationTimeout),  # query_canceled (statement_timeout)
        ("55P03", OperationTimeout),  # lock_not_available (lock_timeout)
        ("08006", InternalError),  # connection_failure
    ],
)
def test_driver_failures_map_to_glue_errors(tmp_path: Path, sqlstate: str, expected: type) -> None:
    db = Database(sqlite_url(tmp_path))
    try:
        with pytest.raises(expected), db.write():
            raise OperationalError("UPDATE ...", {}, _DriverError(sqlstate))
    finally:
        db.dispose()
