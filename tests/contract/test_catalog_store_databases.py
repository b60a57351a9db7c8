"""Databases: CRUD, names, limits, catalog isolation and cascading deletes."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import text

from sluice.catalog.core.model import (
    DatabaseInput,
    PartitionInput,
    TableInput,
    UserDefinedFunctionInput,
)
from sluice.catalog.core.store.sql import CatalogQuotas, SqlCatalogStore
from sluice.common.errors import (
    AlreadyExists,
    EntityNotFound,
    InvalidInput,
    ResourceNumberLimitExceeded,
)
from sluice.common.paging import PageRequest, PageTokenCodec
from tests.contract.conftest import TOKEN_KEY, Backend, Catalog, new_catalog_id

pytestmark = pytest.mark.contract


def test_create_and_get_database_round_trip(store: SqlCatalogStore, cat: str) -> None:
    created = store.create_database(
        cat,
        DatabaseInput(
            name="Sales",
            description="all the sales\nby region",
            location_uri="s3://bucket/sales",
            parameters={"owner": "data-team", "empty": ""},
        ),
    )
    fetched = store.get_database(cat, "SALES")
    assert fetched == created
    assert fetched.name == "sales"
    assert fetched.catalog_id == cat
    assert fetched.parameters == {"owner": "data-team", "empty": ""}
    assert fetched.create_time.tzinfo is not None
    assert fetched.create_time.utcoffset() == UTC.utcoffset(None)


def test_create_database_twice_is_already_exists_whatever_the_case(
    store: SqlCatalogStore, catalog: Catalog
) -> None:
    catalog.database("sales")
    with pytest.raises(AlreadyExists, match="sales"):
        store.create_database(catalog.id, DatabaseInput(name="SALES"))


@pytest.mark.parametrize(
    "database_input",
    [
        DatabaseInput(name=""),
        DatabaseInput(name="has space"),
        DatabaseInput(name="x" * 256),
        DatabaseInput(name="ok", description="d" * 2049),
        DatabaseInput(name="ok", parameters={"k" * 256: "v"}),
        DatabaseInput(name="ok", parameters={"": "v"}),
        DatabaseInput(name="ok", parameters={"k": "v" * 512_001}),
    ],
)
def test_create_database_rejects_invalid_input(
    store: SqlCatalogStore, cat: str, database_input: DatabaseInput
) -> None:
    with pytest.raises(InvalidInput):
        store.create_database(cat, database_input)
    assert store.get_databases(cat, PageRequest()).items == ()


def test_limits_are_inclusive(store: SqlCatalogStore, cat: str) -> None:
    store.create_database(
        cat,
        DatabaseInput(
            name="x" * 255,
            description="d" * 2048,
            parameters={"k" * 255: "v" * 512_000},
        ),
    )
    assert store.get_database(cat, "x" * 255).parameters == {"k" * 255: "v" * 512_000}


def test_empty_or_malformed_catalog_id_is_invalid_input(store: SqlCatalogStore) -> None:
    with pytest.raises(InvalidInput):
        store.create_database("", DatabaseInput(name="sales"))
    with pytest.raises(InvalidInput):
        store.get_databases("not a catalog id", PageRequest())


def test_get_missing_database_names_it(store: SqlCatalogStore, cat: str) -> None:
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.get_database(cat, "Sales")


def test_update_database(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database("sales")
    created = store.get_database(catalog.id, "sales")
    updated = store.update_database(
        catalog.id, "SALES", DatabaseInput(name="Sales", description="new", parameters={"a": "b"})
    )
    assert updated == store.get_database(catalog.id, "sales")
    assert updated.description == "new"
    assert updated.parameters == {"a": "b"}
    assert updated.create_time == created.create_time


def test_update_database_errors(store: SqlCatalogStore, catalog: Catalog) -> None:
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.update_database(catalog.id, "sales", DatabaseInput(name="sales"))
    catalog.database("sales")
    with pytest.raises(InvalidInput, match="renaming"):
        store.update_database(catalog.id, "sales", DatabaseInput(name="other"))
    with pytest.raises(InvalidInput):
        store.update_database(
            catalog.id, "sales", DatabaseInput(name="sales", description="d" * 3000)
        )


def test_delete_database(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database("sales")
    store.delete_database(catalog.id, "SALES")
    with pytest.raises(EntityNotFound):
        store.get_database(catalog.id, "sales")
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.delete_database(catalog.id, "sales")


def test_delete_database_removes_everything_in_it(
    store: SqlCatalogStore, catalog: Catalog, backend: Backend
) -> None:
    catalog.database("sales")
    catalog.table("sales", "orders", keys=(("year", "int"),), parameters={"k": "v"})
    store.update_table(
        catalog.id,
        "sales",
        TableInput(
            name="orders",
            description="v2",
            partition_keys=store.get_table(catalog.id, "sales", "orders").partition_keys,
        ),
    )
    store.batch_create_partition(
        catalog.id, "sales", "orders", [PartitionInput(values=(str(y),)) for y in range(5)]
    )
    store.create_user_defined_function(
        catalog.id, "sales", UserDefinedFunctionInput(function_name="f", class_name="a.F")
    )
    table_id = _table_id(backend, catalog.id, "sales", "orders")

    store.delete_database(catalog.id, "sales")

    catalog.database("sales")
    with pytest.raises(EntityNotFound, match=r"Table sales\.orders not found"):
        store.get_table(catalog.id, "sales", "orders")
    assert store.get_user_defined_functions(catalog.id, "sales", "", PageRequest()).items == ()
    for child in ("partitions", "table_versions", "table_parameters"):
        assert (
            _count(backend, f"SELECT count(*) FROM {child} WHERE table_id = :id", id=table_id) == 0
        )


def test_catalogs_are_isolated(store: SqlCatalogStore, cat: str) -> None:
    other = new_catalog_id()
    store.create_database(cat, DatabaseInput(name="sales", description="mine"))
    store.create_database(other, DatabaseInput(name="sales", description="theirs"))
    store.create_database(other, DatabaseInput(name="hr"))

    assert store.get_database(cat, "sales").description == "mine"
    assert [d.name for d in store.get_databases(cat, PageRequest()).items] == ["sales"]
    with pytest.raises(EntityNotFound):
        store.get_database(cat, "hr")

    store.delete_database(other, "sales")
    assert store.get_database(cat, "sales").description == "mine"


def test_get_databases_lists_in_name_order(store: SqlCatalogStore, catalog: Catalog) -> None:
    for name in ("b", "a_x", "C", "a-x", "a"):
        catalog.database(name)
    names = [d.name for d in catalog.all(lambda p: store.get_databases(catalog.id, p), 2)]
    assert names == sorted(["b", "a_x", "c", "a-x", "a"])


def _table_id(backend: Backend, catalog_id: str, database: str, table: str) -> int:
    return _count(
        backend,
        "SELECT t.id FROM tables t JOIN databases d ON d.id = t.database_id "
        "WHERE d.catalog_id = :c AND d.name = :d AND t.name = :t",
        c=catalog_id,
        d=database,
        t=table,
    )


def _count(backend: Backend, sql: str, **params: object) -> int:
    with backend.db.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def test_databases_beyond_the_quota_are_refused(backend: Backend, cat: str) -> None:
    store = SqlCatalogStore(backend.db, PageTokenCodec(TOKEN_KEY), quotas=CatalogQuotas(2, 1))
    store.create_database(cat, DatabaseInput(name="a"))
    store.create_database(cat, DatabaseInput(name="b"))
    with pytest.raises(ResourceNumberLimitExceeded, match="quota of 2 databases"):
        store.create_database(cat, DatabaseInput(name="c"))
    names = [d.name for d in store.get_databases(cat, PageRequest()).items]
    assert names == ["a", "b"]  # the refused create left nothing behind
    store.create_table(cat, "a", TableInput(name="t1"))
    with pytest.raises(
        ResourceNumberLimitExceeded, match="database a already has its quota of 1 tables"
    ):
        store.create_table(cat, "a", TableInput(name="t2"))
    assert [t.name for t in store.get_tables(cat, "a", "", PageRequest()).items] == ["t1"]
    store.create_table(cat, "b", TableInput(name="t2"))  # the quota is per database
