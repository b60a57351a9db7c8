"""Retention of table versions, on SQLite and PostgreSQL.

A database of its own per backend: pruning spans every catalog, so it must not touch the
tables of the other catalog contract tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from sluice.catalog.core.model import DatabaseInput, TableInput
from sluice.catalog.core.schema import upgrade_schema
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.db import Database, sqlite_url
from sluice.common.paging import PageRequest, PageTokenCodec
from tests.contract.conftest import POSTGRES_URL, TOKEN_KEY, new_catalog_id

pytestmark = pytest.mark.contract


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(sqlite_url(tmp_path))
        try:
            upgrade_schema(database)
            yield database
        finally:
            database.dispose()
        return
    schema = f"sluice_retention_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    database = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        upgrade_schema(database)
        yield database
    finally:
        database.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db: Database, clock: Clock) -> SqlCatalogStore:
    return SqlCatalogStore(db, PageTokenCodec(TOKEN_KEY), clock=clock)


def table_with_versions(store: SqlCatalogStore, cat: str, name: str, count: int) -> None:
    store.create_database(cat, DatabaseInput(name="sales"))
    store.create_table(cat, "sales", TableInput(name=name, description="v1"))
    for n in range(2, count + 1):
        store.update_table(cat, "sales", TableInput(name=name, description=f"v{n}"))


def versions(store: SqlCatalogStore, cat: str, name: str) -> list[str]:
    page = store.get_table_versions(cat, "sales", name, PageRequest(max_results=100))
    return [v.version_id for v in page.items]


def test_each_table_keeps_its_newest_versions_pruned_in_bounded_batches(
    store: SqlCatalogStore,
) -> None:
    one, two = new_catalog_id(), new_catalog_id()
    table_with_versions(store, one, "orders", 6)
    table_with_versions(store, two, "items", 2)

    assert store.prune_table_versions(keep=3, limit=2) == 2
    assert store.prune_table_versions(keep=3, limit=2) == 1
    assert store.prune_table_versions(keep=3, limit=2) == 0

    assert versions(store, one, "orders") == ["6", "5", "4"]
    assert versions(store, two, "items") == ["2", "1"]
    assert store.get_table(one, "sales", "orders").description == "v6"


def test_versions_made_before_the_cutoff_go_but_never_the_current_one(
    store: SqlCatalogStore, clock: Clock
) -> None:
    cat = new_catalog_id()
    table_with_versions(store, cat, "orders", 3)  # all three made now
    table_with_versions(store, new_catalog_id(), "quiet", 1)
    clock.now += timedelta(days=30)
    store.update_table(cat, "sales", TableInput(name="orders", description="v4"))

    assert store.prune_table_versions(keep=100, limit=100, created_before=clock.now) == 3

    assert versions(store, cat, "orders") == ["4"]
    # A table never updated keeps its only (current) version, however old.
    assert store.prune_table_versions(keep=1, limit=100, created_before=clock.now) == 0
