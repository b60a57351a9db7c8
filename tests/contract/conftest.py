"""The catalog store contract suite runs unchanged against SQLite and PostgreSQL.

Each backend is migrated once per session (PostgreSQL in a fresh schema, dropped at the end);
every test works in a catalog_id of its own, so tests are independent while sharing a schema.
PostgreSQL must be reachable: the suite fails, never skips, when it is not.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import event

from sluice.catalog.core.model import Column, DatabaseInput, StorageDescriptor, TableInput
from sluice.catalog.core.schema import upgrade_schema
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.db import Database, sqlite_url
from sluice.common.paging import Page, PageRequest, PageTokenCodec

T = TypeVar("T")

POSTGRES_URL = os.environ.get(
    "SLUICE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TOKEN_KEY = b"contract-test-page-token-key"


@dataclass(frozen=True)
class Backend:
    name: str
    db: Database


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path_factory.mktemp("catalog")))
        try:
            upgrade_schema(db)
            yield Backend("sqlite", db)
        finally:
            db.dispose()
        return
    schema = f"sluice_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    db = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        upgrade_schema(db)
        yield Backend("postgresql", db)
    finally:
        db.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(backend: Backend) -> SqlCatalogStore:
    return SqlCatalogStore(backend.db, PageTokenCodec(TOKEN_KEY))


def new_catalog_id() -> str:
    return f"test-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def cat() -> str:
    """A catalog_id no other test uses."""
    return new_catalog_id()


class Catalog:
    """Shorthands for setting up a test's catalog and reading whole lists."""

    def __init__(self, store: SqlCatalogStore, catalog_id: str) -> None:
        self.store = store
        self.id = catalog_id

    def database(self, name: str = "sales") -> None:
        self.store.create_database(self.id, DatabaseInput(name=name))

    def table(
        self,
        database: str = "sales",
        name: str = "orders",
        keys: tuple[tuple[str, str], ...] = (),
        **fields: Any,
    ) -> None:
        self.store.create_table(
            self.id,
            database,
            TableInput(
                name=name,
                storage_descriptor=StorageDescriptor(columns=(Column("id", "bigint"),)),
                partition_keys=tuple(Column(key, kind) for key, kind in keys),
                **fields,
            ),
        )

    @staticmethod
    def all(
        list_call: Callable[[PageRequest], Page[T]], max_results: int = 0, **page: Any
    ) -> list[T]:
        """Every item of a list call, following next_token until it is empty."""
        items: list[T] = []
        token = ""
        for _ in range(100_000):
            result = list_call(PageRequest(max_results=max_results, next_token=token, **page))
            items.extend(result.items)
            token = result.next_token
            if not token:
                return items
        raise AssertionError("paging did not end")


@pytest.fixture
def catalog(store: SqlCatalogStore, cat: str) -> Catalog:
    return Catalog(store, cat)


@contextmanager
def statements_run(db: Database, needle: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) that db runs inside the block and that hold
    needle, in order: what a test explains to see how a store's query is planned."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if needle in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
