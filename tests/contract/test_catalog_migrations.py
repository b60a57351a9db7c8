"""Catalog data migrations: rows written under an older revision read right after upgrading."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from sluice.catalog.core.schema import MIGRATIONS, VERSION_TABLE, upgrade_schema
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.db import Database, sqlite_url
from sluice.common.errors import EntityNotFound
from sluice.common.paging import PageRequest, PageTokenCodec
from tests.contract.conftest import POSTGRES_URL, TOKEN_KEY

pytestmark = pytest.mark.contract

OFFSET = 2**63


def _upgrade_to(db: Database, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes["version_table"] = VERSION_TABLE
        command.upgrade(cfg, revision)


def _downgrade_to(db: Database, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes["version_table"] = VERSION_TABLE
        command.downgrade(cfg, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each kind, migrated by the test itself."""
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path))
        try:
            yield db
        finally:
            db.dispose()
        return
    schema = f"sluice_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    db = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        yield db
    finally:
        db.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _old_int(n: int) -> str:
    return str(n + OFFSET).zfill(20)


def test_partitions_of_revision_0001_are_re_keyed_by_their_values(fresh: Database) -> None:
    _upgrade_to(fresh, "0001")
    now = datetime(2024, 1, 1, tzinfo=UTC)
    keys = [{"name": "year", "type": "int"}, {"name": "price", "type": "decimal(10,2)"}]
    # Revision 0001 keyed partitions by their encodings: '07' was stored as the number 7, and
    # decimal values as the strings they were written as.
    old = [
        (["07", "9.5"], [_old_int(7), "9.5"]),
        (["2024", "10.25"], [_old_int(2024), "10.25"]),
        (["-1", "100"], [_old_int(-1), "100"]),
    ]
    with fresh.write() as conn:
        conn.execute(
            text(
                "INSERT INTO databases (id, catalog_id, name, description, location_uri, "
                "parameters, create_time) VALUES (1, 'acct', 'sales', '', '', '{}', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO tables (id, database_id, name, description, owner, table_type, "
                "retention, view_original_text, view_expanded_text, partition_keys, parameters, "
                "created_by, create_time, update_time, version, search_text) VALUES (1, 1, "
                "'events', '', '', '', 0, '', '', :keys, '{}', '', :now, :now, 1, 'events')"
            ),
            {"keys": json.dumps(keys), "now": now},
        )
        for i, (values, slots) in enumerate(old, start=1):
            conn.execute(
                text(
                    "INSERT INTO partitions (id, table_id, values_json, values_key, k0, k1, "
                    "parameters, creation_time) VALUES (:id, 1, :values, :key, :k0, :k1, '{}', "
                    ":now)"
                ),
                {
                    "id": i,
                    "values": json.dumps(values),
                    "key": "\x1f".join(slots),
                    "k0": slots[0],
                    "k1": slots[1],
                    "now": now,
                },
            )
    upgrade_schema(fresh)
    store = SqlCatalogStore(fresh, PageTokenCodec(TOKEN_KEY))

    def found(expression: str) -> set[tuple[str, ...]]:
        page = store.get_partitions("acct", "sales", "events", expression, PageRequest())
        return {p.values for p in page.items}

    assert found("") == {("07", "9.5"), ("2024", "10.25"), ("-1", "100")}
    assert found("price > 10") == {("2024", "10.25"), ("-1", "100")}
    assert found("year = 7") == {("07", "9.5")}
    assert store.get_partition("acct", "sales", "events", ["07", "9.5"]).values == ("07", "9.5")
    with pytest.raises(EntityNotFound):
        store.get_partition("acct", "sales", "events", ["7", "9.5"])

    # Downgrading restores revision 0001's keys and slots.
    _downgrade_to(fresh, "0001")
    with fresh.read() as conn:
        rows = conn.execute(text("SELECT values_key, k0, k1 FROM partitions ORDER BY id")).all()
    assert [tuple(row) for row in rows] == [("\x1f".join(slots), *slots) for _, slots in old]
