"""insert_rows: many rows in one go (COPY on PostgreSQL, an executemany on SQLite), with the
columns' types applied as in an INSERT and the database's refusals mapped as any write's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, Text, select

from sluice.catalog.core.store.rows import UtcDateTime
from sluice.common.db import Database, insert_rows
from sluice.common.errors import AlreadyExists, InternalError
from tests.contract.test_job_store_support import BACKENDS, open_database

pytestmark = pytest.mark.contract

METADATA = MetaData()
THINGS = Table(
    "insert_rows_things",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("doc", JSON, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("note", Text, nullable=True),
    Column("count", Integer, nullable=False, default=0),
)


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("insert-rows")) as db:
        METADATA.create_all(db.engine)
        yield db


@pytest.fixture(autouse=True)
def empty(database: Database) -> None:
    with database.write() as conn:
        conn.execute(THINGS.delete())


def row(i: int, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": f"n{i:04d}",
        "doc": {"i": i, "text": 'tab\tnew\nline \\ quote" é', "list": [1, None]},
        "at": datetime(2024, 5, 2, 12, tzinfo=UTC) + timedelta(microseconds=i),
        "flag": i % 2 == 0,
        "note": None if i % 3 == 0 else f"note {i}",
        "count": i,
    }
    return values | changes


def stored(db: Database) -> list[dict[str, object]]:
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(THINGS).order_by(THINGS.c.name))]


def test_rows_round_trip_with_their_types(database: Database) -> None:
    rows = [row(i) for i in range(300)]
    with database.write() as conn:
        insert_rows(conn, THINGS, rows)
        insert_rows(conn, THINGS, [])
    got = stored(database)
    assert [{k: v for k, v in r.items() if k != "id"} for r in got] == rows
    assert len({r["id"] for r in got}) == 300  # keys from the table's sequence
    # A local time is stored as the instant it is.
    local = datetime(2024, 5, 2, 14, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    with database.write() as conn:
        insert_rows(conn, THINGS, [row(1000, at=local)])
    assert stored(database)[-1]["at"] == datetime(2024, 5, 2, 14, tzinfo=UTC)


def test_a_refused_row_inserts_nothing_and_is_mapped_as_any_write(database: Database) -> None:
    with database.write() as conn:
        insert_rows(conn, THINGS, [row(1)])
    with pytest.raises(AlreadyExists), database.write() as conn:
        insert_rows(conn, THINGS, [row(2), row(1), row(3)])
    with pytest.raises(InternalError), database.write() as conn:
        insert_rows(conn, THINGS, [row(4, name=None)])  # NOT NULL
    assert [r["name"] for r in stored(database)] == ["n0001"]


def test_columns_left_to_python_defaults_get_them(database: Database) -> None:
    rows = [{k: v for k, v in row(i).items() if k != "count"} for i in range(3)]
    with database.write() as conn:
        insert_rows(conn, THINGS, rows)
    assert [r["count"] for r in stored(database)] == [0, 0, 0]
