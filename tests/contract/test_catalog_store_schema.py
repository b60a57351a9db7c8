"""The catalog schema: the migrations build exactly what the store's tables describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from sluice.catalog.core.schema import VERSION_TABLE, upgrade_schema
from sluice.catalog.core.store.rows import (
    SqlConnection,
    SqlConnectionTag,
    SqlDatabase,
    SqlDatabaseTag,
    SqlPartition,
    SqlTable,
    SqlTableParameter,
    SqlTableVersion,
    SqlUserDefinedFunction,
)
from tests.contract.conftest import Backend

pytestmark = pytest.mark.contract

ROWS = (
    SqlDatabase,
    SqlTable,
    SqlTableVersion,
    SqlTableParameter,
    SqlPartition,
    SqlConnection,
    SqlUserDefinedFunction,
    SqlDatabaseTag,
    SqlConnectionTag,
)


# Migration 0004's trigram index: PostgreSQL's only, and left out where pg_trgm cannot be
# installed, so no table describes it (test_catalog_migrations checks it).
OPTIONAL_INDEXES = frozenset({"ix_tables_search_text_trgm"})


def _described(_obj: object, name: str | None, type_: str, _reflected: bool, _to: object) -> bool:
    return not (type_ == "index" and name in OPTIONAL_INDEXES)


def test_migrations_create_exactly_the_tables_the_store_uses(backend: Backend) -> None:
    metadata = MetaData()
    for row in ROWS:
        row.__table__.to_metadata(metadata)
    with backend.db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "version_table": VERSION_TABLE,
                "compare_type": True,
                "include_object": _described,
            },
        )
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_upgrade_schema_is_idempotent(backend: Backend) -> None:
    before = sorted(inspect(backend.db.engine).get_table_names())
    upgrade_schema(backend.db)
    upgrade_schema(backend.db)
    assert sorted(inspect(backend.db.engine).get_table_names()) == before
    assert VERSION_TABLE in before
