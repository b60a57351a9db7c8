"""SearchTables: text search, property filters, sorting, catalog scope."""

from __future__ import annotations

import pytest

from sluice.catalog.core.model import (
    Column,
    Comparator,
    PropertyPredicate,
    SortCriterion,
    StorageDescriptor,
    TableInput,
)
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.errors import InvalidInput
from sluice.common.paging import PageRequest
from tests.contract.conftest import Catalog, new_catalog_id

pytestmark = pytest.mark.contract


@pytest.fixture
def tables(store: SqlCatalogStore, catalog: Catalog) -> Catalog:
    catalog.database("sales")
    catalog.database("hr")
    store.create_table(
        catalog.id,
        "sales",
        TableInput(
            name="orders",
            description="Customer ORDERS, one row per order",
            owner="alice",
            table_type="EXTERNAL_TABLE",
            storage_descriptor=StorageDescriptor(
                columns=(Column("amount", "double", "Gross Amount in EUR"),)
            ),
            parameters={"classification": "parquet", "rows": "500"},
        ),
    )
    store.create_table(
        catalog.id,
        "sales",
        TableInput(
            name="refunds",
            owner="bob",
            table_type="MANAGED_TABLE",
            partition_keys=(Column("refund_day", "date"),),
            parameters={"classification": "csv", "rows": "90"},
        ),
    )
    store.create_table(
        catalog.id,
        "hr",
        TableInput(
            name="people",
            description="50% of the staff",
            owner="alice",
            table_type="EXTERNAL_TABLE",
            parameters={"Team": "People_Ops"},
        ),
    )
    return catalog


def _search(
    store: SqlCatalogStore,
    catalog: Catalog,
    text: str = "",
    filters: tuple[PropertyPredicate, ...] = (),
    sort: tuple[SortCriterion, ...] = (),
    max_results: int = 0,
) -> list[str]:
    found = catalog.all(
        lambda p: store.search_tables(catalog.id, text, filters, sort, p), max_results
    )
    return [f"{t.database_name}.{t.name}" for t in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["hr.people", "sales.orders", "sales.refunds"]),
        ("ORDER", ["sales.orders"]),
        ("sales", ["sales.orders", "sales.refunds"]),
        ("gross amount", ["sales.orders"]),
        ("amount", ["sales.orders"]),
        ("refund_DAY", ["sales.refunds"]),
        ("classification", ["sales.orders", "sales.refunds"]),
        ("parquet", ["sales.orders"]),
        ("people_ops", ["hr.people"]),
        ("50%", ["hr.people"]),
        ("5_%", []),
        ("nowhere", []),
    ],
)
def test_search_text(
    store: SqlCatalogStore, tables: Catalog, text: str, expected: list[str]
) -> None:
    assert _search(store, tables, text) == expected


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        (PropertyPredicate("owner", "alice"), ["hr.people", "sales.orders"]),
        (PropertyPredicate("database_name", "SALES"), ["sales.orders", "sales.refunds"]),
        (PropertyPredicate("name", "Refunds"), ["sales.refunds"]),
        (PropertyPredicate("table_type", "MANAGED_TABLE"), ["sales.refunds"]),
        (PropertyPredicate("classification", "csv"), ["sales.refunds"]),
        (PropertyPredicate("Team", "People_Ops"), ["hr.people"]),
        (PropertyPredicate("team", "People_Ops"), []),
        (
            PropertyPredicate("name", "people", Comparator.GREATER_THAN),
            ["sales.refunds"],
        ),
        (
            PropertyPredicate("rows", "500", Comparator.LESS_THAN_EQUALS),
            ["sales.orders"],
        ),
        (PropertyPredicate("rows", "500", Comparator.LESS_THAN), []),
        (PropertyPredicate("rows", "9", Comparator.GREATER_THAN_EQUALS), ["sales.refunds"]),
    ],
)
def test_search_filters(
    store: SqlCatalogStore, tables: Catalog, predicate: PropertyPredicate, expected: list[str]
) -> None:
    assert _search(store, tables, filters=(predicate,)) == expected


def test_search_text_and_filters_combine(store: SqlCatalogStore, tables: Catalog) -> None:
    filters = (PropertyPredicate("owner", "alice"), PropertyPredicate("classification", "parquet"))
    assert _search(store, tables, "order", filters) == ["sales.orders"]
    assert _search(store, tables, "refund", filters) == []


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ((SortCriterion("name", ascending=False),), ["sales.refunds", "hr.people", "sales.orders"]),
        (
            (SortCriterion("database_name", ascending=False), SortCriterion("name")),
            ["sales.orders", "sales.refunds", "hr.people"],
        ),
        (
            (SortCriterion("owner"), SortCriterion("name", ascending=False)),
            ["hr.people", "sales.orders", "sales.refunds"],
        ),
        ((SortCriterion("create_time"),), ["sales.orders", "sales.refunds", "hr.people"]),
        (
            (SortCriterion("update_time", ascending=False),),
            ["hr.people", "sales.refunds", "sales.orders"],
        ),
    ],
)
def test_search_sorts(
    store: SqlCatalogStore, tables: Catalog, sort: tuple[SortCriterion, ...], expected: list[str]
) -> None:
    assert _search(store, tables, sort=sort) == expected
    assert _search(store, tables, sort=sort, max_results=1) == expected


def test_search_rejects_unknown_sort_and_bad_filters(
    store: SqlCatalogStore, tables: Catalog
) -> None:
    with pytest.raises(InvalidInput, match="sort"):
        _search(store, tables, sort=(SortCriterion("location"),))
    with pytest.raises(InvalidInput):
        _search(store, tables, filters=(PropertyPredicate("", "x"),))
    with pytest.raises(InvalidInput):
        _search(store, tables, filters=(PropertyPredicate("owner", "x", "LIKE"),))  # type: ignore[arg-type]


def test_search_follows_updates(store: SqlCatalogStore, tables: Catalog) -> None:
    store.update_table(tables.id, "sales", TableInput(name="refunds", description="Chargebacks"))
    assert _search(store, tables, "chargeback") == ["sales.refunds"]
    assert _search(store, tables, filters=(PropertyPredicate("classification", "csv"),)) == []


def test_search_stays_in_its_catalog(store: SqlCatalogStore, tables: Catalog) -> None:
    other = Catalog(store, new_catalog_id())
    other.database("sales")
    other.table("sales", "orders_elsewhere")
    assert _search(store, tables, "orders") == ["sales.orders"]
    assert _search(store, other, "") == ["sales.orders_elsewhere"]
    page = store.search_tables(tables.id, "", [], [], PageRequest(max_results=1))
    with pytest.raises(InvalidInput):
        store.search_tables(
            other.id, "", [], [], PageRequest(max_results=1, next_token=page.next_token)
        )


@pytest.mark.parametrize(
    ("search_text", "filters", "message"),
    [
        ("x" * 1025, (), "search_text is longer than 1024 characters"),
        ("", (PropertyPredicate("owner", "x" * 1025),), "a filter value is longer than 1024"),
        ("", (PropertyPredicate("k" * 1025, "x"),), "a filter key is longer than 1024"),
        ("", tuple(PropertyPredicate("owner", str(i)) for i in range(21)), "at most 20 filters"),
    ],
)
def test_search_text_and_filters_are_bounded(
    store: SqlCatalogStore,
    cat: str,
    search_text: str,
    filters: tuple[PropertyPredicate, ...],
    message: str,
) -> None:
    with pytest.raises(InvalidInput, match=message):
        store.search_tables(cat, search_text, filters, (), PageRequest())
