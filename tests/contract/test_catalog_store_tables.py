"""Tables: CRUD, names, limits, listing patterns and batch deletes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from sluice.catalog.core.model import (
    Column,
    Order,
    PartitionInput,
    SerDeInfo,
    StorageDescriptor,
    TableInput,
)
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.errors import AlreadyExists, EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest
from tests.contract.conftest import Catalog, new_catalog_id

pytestmark = pytest.mark.contract

FULL_TABLE = TableInput(
    name="Orders",
    description="orders by day",
    owner="alice",
    last_access_time=datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
    retention=30,
    storage_descriptor=StorageDescriptor(
        columns=(
            Column("ID", "bigint", "the key", {"pii": "no"}),
            Column("amount", "decimal(10,2)"),
        ),
        location="s3://bucket/orders",
        additional_locations=("s3://bucket/more",),
        input_format="org.apache.hadoop.mapred.TextInputFormat",
        output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        compressed=True,
        number_of_buckets=4,
        serde_info=SerDeInfo("serde", "org.openx.data.jsonserde.JsonSerDe", {"a": "b"}),
        bucket_columns=("id",),
        sort_columns=(Order("id", 0),),
        parameters={"classification": "json"},
        stored_as_sub_directories=True,
    ),
    partition_keys=(Column("Year", "int"), Column("dt", "date", "day")),
    view_original_text="",
    view_expanded_text="",
    table_type="EXTERNAL_TABLE",
    parameters={"has_encrypted_data": "false", "EXTERNAL": "TRUE"},
)


def test_create_and_get_table_round_trip(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database("sales")
    created = store.create_table(catalog.id, "Sales", FULL_TABLE, created_by="bob")
    fetched = store.get_table(catalog.id, "SALES", "ORDERS")
    assert fetched == created
    assert fetched.name == "orders"
    assert fetched.database_name == "sales"
    assert fetched.catalog_id == catalog.id
    assert fetched.version_id == "1"
    assert fetched.created_by == "bob"
    assert fetched.last_access_time == FULL_TABLE.last_access_time
    assert fetched.create_time == fetched.update_time
    assert fetched.create_time.tzinfo is not None
    assert [c.name for c in fetched.partition_keys] == ["year", "dt"]
    assert fetched.storage_descriptor is not None
    assert [c.name for c in fetched.storage_descriptor.columns] == ["id", "amount"]
    assert fetched.storage_descriptor.columns[0].parameters == {"pii": "no"}
    assert fetched.storage_descriptor.serde_info == FULL_TABLE.storage_descriptor.serde_info
    assert fetched.storage_descriptor.sort_columns == (Order("id", 0),)
    assert fetched.parameters == FULL_TABLE.parameters


def test_table_without_storage_descriptor(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database()
    store.create_table(catalog.id, "sales", TableInput(name="v", table_type="VIRTUAL_VIEW"))
    fetched = store.get_table(catalog.id, "sales", "v")
    assert fetched.storage_descriptor is None
    assert fetched.partition_keys == ()


def test_create_table_errors(store: SqlCatalogStore, catalog: Catalog) -> None:
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.create_table(catalog.id, "sales", TableInput(name="orders"))
    catalog.database("sales")
    catalog.table("sales", "orders")
    with pytest.raises(AlreadyExists, match=r"sales\.orders"):
        store.create_table(catalog.id, "sales", TableInput(name="ORDERS"))


@pytest.mark.parametrize(
    "table_input",
    [
        TableInput(name="bad name"),
        TableInput(name="t", description="d" * 2049),
        TableInput(name="t", parameters={"k": "v" * 512_001}),
        TableInput(name="t", partition_keys=tuple(Column(f"k{i}", "string") for i in range(11))),
        TableInput(name="t", partition_keys=(Column("a", "int"), Column("A", "string"))),
        TableInput(name="t", storage_descriptor=StorageDescriptor(columns=(Column(""),))),
        TableInput(name="t", retention=-1),
    ],
)
def test_create_table_rejects_invalid_input(
    store: SqlCatalogStore, catalog: Catalog, table_input: TableInput
) -> None:
    catalog.database()
    with pytest.raises(InvalidInput):
        store.create_table(catalog.id, "sales", table_input)
    assert store.get_tables(catalog.id, "sales", "", PageRequest()).items == ()


def test_get_missing_table_names_it(store: SqlCatalogStore, catalog: Catalog) -> None:
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.get_table(catalog.id, "sales", "orders")
    catalog.database()
    with pytest.raises(EntityNotFound, match=r"Table sales\.orders not found"):
        store.get_table(catalog.id, "sales", "orders")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", ["ab_c", "abxc", "customers", "order_items", "orders"]),
        ("*", ["ab_c", "abxc", "customers", "order_items", "orders"]),
        ("ORDER*", ["order_items", "orders"]),
        ("orders", ["orders"]),
        ("*item*|cust*", ["customers", "order_items"]),
        ("ab_c", ["ab_c"]),
        ("ab%c", []),
        ("nothing*", []),
        # A regular expression, as in Glue (Terraform's examples use 'test_.*').
        ("order_.*", ["order_items"]),
        ("ab.c", ["ab_c", "abxc"]),
        ("ab[_]c", ["ab_c"]),
        ("(orders|customers)", ["customers", "orders"]),
        ("[a-c].*s", ["customers"]),
        ("order.", ["orders"]),
        ("orders?", ["orders"]),
    ],
)
def test_get_tables_pattern(
    store: SqlCatalogStore, catalog: Catalog, pattern: str, expected: list[str]
) -> None:
    catalog.database()
    for name in ("orders", "order_items", "customers", "ab_c", "abxc"):
        catalog.table("sales", name)
    tables = catalog.all(lambda p: store.get_tables(catalog.id, "sales", pattern, p), 2)
    assert [t.name for t in tables] == expected
    assert all(t.database_name == "sales" and t.catalog_id == catalog.id for t in tables)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("(orders", "is not a valid regular expression: missing )"),
        ("(?=a)", "is not a valid regular expression"),
        ("(a)\\1", "is not a valid regular expression"),
        ("((a{500}){500}){500}", "is not a valid regular expression"),
        ("a" * 2049, "longer than 2048 characters"),
    ],
)
def test_get_tables_refuses_bad_or_costly_expressions(
    store: SqlCatalogStore, catalog: Catalog, expression: str, message: str
) -> None:
    catalog.database()
    with pytest.raises(InvalidInput, match=re.escape(message)):
        store.get_tables(catalog.id, "sales", expression, PageRequest())


def test_get_tables_regex_pages_past_many_non_matching_names(
    store: SqlCatalogStore, catalog: Catalog
) -> None:
    catalog.database()
    for i in range(30):
        catalog.table("sales", f"t{i:02d}")
    # Backtracking would take ages on '(a+)+$'-style patterns; RE2 is linear.
    tables = catalog.all(lambda p: store.get_tables(catalog.id, "sales", "(t+)+[0-9]*5", p), 1)
    assert [t.name for t in tables] == ["t05", "t15", "t25"]


def test_get_tables_of_missing_database(store: SqlCatalogStore, cat: str) -> None:
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.get_tables(cat, "sales", "", PageRequest())


def test_delete_table_removes_partitions_and_versions(
    store: SqlCatalogStore, catalog: Catalog
) -> None:
    catalog.database()
    catalog.table(keys=(("year", "int"),))
    store.update_table(
        catalog.id, "sales", TableInput(name="orders", partition_keys=(Column("year", "int"),))
    )
    store.create_partition(catalog.id, "sales", "orders", PartitionInput(values=("2024",)))

    store.delete_table(catalog.id, "sales", "ORDERS")

    with pytest.raises(EntityNotFound, match=r"Table sales\.orders not found"):
        store.delete_table(catalog.id, "sales", "orders")
    catalog.table(keys=(("year", "int"),))
    assert store.get_partitions(catalog.id, "sales", "orders", "", PageRequest()).items == ()
    versions = store.get_table_versions(catalog.id, "sales", "orders", PageRequest()).items
    assert [v.version_id for v in versions] == ["1"]


def test_batch_delete_table_reports_each_failure(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database()
    for name in ("a", "b", "c"):
        catalog.table("sales", name)

    errors = store.batch_delete_table(catalog.id, "sales", ["A", "missing", "bad name", "c"])

    assert {(e.table_name, e.error_detail.error_code) for e in errors} == {
        ("missing", "EntityNotFoundException"),
        ("bad name", "InvalidInputException"),
    }
    assert [t.name for t in store.get_tables(catalog.id, "sales", "", PageRequest()).items] == ["b"]


def test_batch_delete_table_limit_leaves_catalog_unchanged(
    store: SqlCatalogStore, catalog: Catalog
) -> None:
    catalog.database()
    catalog.table("sales", "a")
    with pytest.raises(InvalidInput):
        store.batch_delete_table(catalog.id, "sales", ["a"] + [f"t{i}" for i in range(100)])
    assert store.get_table(catalog.id, "sales", "a").name == "a"
    assert store.batch_delete_table(catalog.id, "sales", ["a"] + [f"t{i}" for i in range(99)])


def test_batch_delete_table_in_missing_database(store: SqlCatalogStore, cat: str) -> None:
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.batch_delete_table(cat, "sales", ["a"])


def test_tables_are_isolated_by_catalog(store: SqlCatalogStore, catalog: Catalog) -> None:
    other = Catalog(store, new_catalog_id())
    for c in (catalog, other):
        c.database()
    catalog.table("sales", "orders", description="mine")
    other.table("sales", "orders", description="theirs")
    other.table("sales", "extra")

    assert store.get_table(catalog.id, "sales", "orders").description == "mine"
    assert [t.name for t in store.get_tables(catalog.id, "sales", "", PageRequest()).items] == [
        "orders"
    ]
    store.delete_table(other.id, "sales", "orders")
    assert store.get_table(catalog.id, "sales", "orders").description == "mine"
