"""Catalog data migrations: rows written under an older revision read right after upgrading."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import make_url, text

from sluice.catalog.core.model import DatabaseInput, TableInput
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


def _trigram_index(db: Database) -> list[str]:
    with db.read() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND indexname = 'ix_tables_search_text_trgm'"
                )
            ).scalars()
        )


def _search(db: Database, text_: str) -> list[str]:
    store = SqlCatalogStore(db, PageTokenCodec(TOKEN_KEY))
    page = store.search_tables("acct", text_, [], [], PageRequest())
    return [f"{t.database_name}.{t.name}" for t in page.items]


def test_revision_0004_indexes_search_text_on_postgresql(fresh: Database) -> None:
    """0004 adds a trigram index on tables.search_text on PostgreSQL (pg_trgm shared by the
    database's schemas); downgrading drops the index, not the extension. SQLite: no change."""
    _upgrade_to(fresh, "0003")
    store = SqlCatalogStore(fresh, PageTokenCodec(TOKEN_KEY))
    store.create_database("acct", DatabaseInput(name="sales"))
    store.create_table("acct", "sales", TableInput(name="orders", description="Gross amounts"))
    upgrade_schema(fresh)
    assert _search(fresh, "gross amount") == ["sales.orders"]
    if fresh.dialect != "postgresql":
        return
    (index,) = _trigram_index(fresh)
    assert "USING gin (search_text" in index and "gin_trgm_ops" in index
    _downgrade_to(fresh, "0003")
    assert _trigram_index(fresh) == []
    with fresh.read() as conn:
        installed = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
        assert installed.first() is not None
    upgrade_schema(fresh)
    assert len(_trigram_index(fresh)) == 1
    assert _search(fresh, "gross amount") == ["sales.orders"]


def test_revision_0004_goes_on_without_the_index_when_pg_trgm_cannot_be_installed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A role that may not install extensions in a database without pg_trgm: the catalog is
    upgraded all the same, without the index, and SearchTables reads every table."""
    suffix = uuid.uuid4().hex[:12]
    role, database = f"sluice_notrgm_{suffix}", f"sluice_notrgm_{suffix}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'CREATE DATABASE "{database}"')
    admin = make_url(POSTGRES_URL).set(database=database)
    url = admin.set(username=role, query={"options": "-csearch_path=catalog"})
    try:
        plain = admin.render_as_string(hide_password=False)
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            found = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            assert found.fetchone() is None
            conn.execute(f'CREATE SCHEMA catalog AUTHORIZATION "{role}"')
        db = Database(url.render_as_string(hide_password=False))
        try:
            with caplog.at_level(logging.WARNING, "sluice.catalog.migrations"):
                upgrade_schema(db)
            assert "cannot install PostgreSQL's pg_trgm extension" in caplog.text
            assert _trigram_index(db) == []
            store = SqlCatalogStore(db, PageTokenCodec(TOKEN_KEY))
            store.create_database("acct", DatabaseInput(name="sales"))
            store.create_table("acct", "sales", TableInput(name="orders", description="Gross"))
            assert _search(db, "gross") == ["sales.orders"]
        finally:
            db.dispose()
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
