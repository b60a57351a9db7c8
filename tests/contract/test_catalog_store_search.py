"""SearchTables: text search, property filters, sorting, catalog scope."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Text, cast, func, insert, literal, select, true

from sluice.catalog.core.model import (
    Column,
    Comparator,
    PropertyPredicate,
    SortCriterion,
    StorageDescriptor,
    TableInput,
)
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.catalog.core.store.sql_base import DATABASES, TABLES
from sluice.common.errors import InvalidInput
from sluice.common.paging import PageRequest
from tests.contract.conftest import Backend, Catalog, new_catalog_id, statements_run

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


def test_a_table_found_by_its_text_and_its_database_name_is_found_once(
    store: SqlCatalogStore, tables: Catalog
) -> None:
    store.update_table(
        tables.id, "sales", TableInput(name="refunds", description="refunds of SALES")
    )
    tables.database("presales")
    tables.table("presales", "leads")
    expected = ["presales.leads", "sales.orders", "sales.refunds"]
    assert _search(store, tables, "sales") == expected
    assert _search(store, tables, "sales", max_results=1) == expected
    by_name = (SortCriterion("name", ascending=False),)
    descending = ["sales.refunds", "sales.orders", "presales.leads"]
    assert _search(store, tables, "sales", sort=by_name, max_results=2) == descending
    filters = (PropertyPredicate("owner", "alice"),)
    assert _search(store, tables, "sales", filters) == ["sales.orders"]


def test_search_text_can_use_the_trigram_index_on_postgresql(
    backend: Backend, store: SqlCatalogStore, tables: Catalog
) -> None:
    """The text's question is one the planner answers from the pg_trgm index (catalog
    migration 0004) once the catalog holds many tables, instead of reading them all (as an OR
    of the text and the database's name made it do): the plan of the statement SearchTables
    runs, over 3,000 more tables of the catalog (added, analysed and explained in one
    transaction that is rolled back)."""
    if backend.name != "postgresql":
        pytest.skip("the trigram index is PostgreSQL's")
    with statements_run(backend.db, "search_text") as seen:
        assert _search(store, tables, "gross amount") == ["sales.orders"]
    statement, parameters = seen[-1]
    with backend.db.engine.connect() as conn:
        transaction = conn.begin()
        try:
            _add_many_tables(conn, tables.id)
            conn.exec_driver_sql("ANALYZE databases")
            conn.exec_driver_sql("ANALYZE tables")
            # At this size reading 3,000 rows (in order of any B-tree) costs less than the
            # trigram index: price those out (with an OR the planner cannot use it at all).
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
            plan = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
        finally:
            transaction.rollback()
    assert any("ix_tables_search_text_trgm" in line for line in plan), "\n".join(plan)


def _add_many_tables(conn: Any, catalog_id: str) -> None:
    """300 more databases in the catalog, each with 10 copies of its table sales.orders under
    other names and texts."""
    n = func.generate_series(1, 300).table_valued("n").render_derived()
    named = {"name": DATABASES.c.name + "_" + cast(n.c.n, Text)}
    names = [c.name for c in DATABASES.c if c.name != "id"]
    conn.execute(
        insert(DATABASES).from_select(
            names,
            select(*(named.get(name, DATABASES.c[name]) for name in names))
            .select_from(DATABASES.join(n, true()))
            .where(DATABASES.c.catalog_id == catalog_id, DATABASES.c.name == "sales"),
        )
    )
    orders = select(TABLES).join(DATABASES, TABLES.c.database_id == DATABASES.c.id)
    orders = orders.where(DATABASES.c.catalog_id == catalog_id, TABLES.c.name == "orders")
    source = orders.subquery("orders")
    copies = DATABASES.alias("copies")
    k = func.generate_series(1, 10).table_valued("k").render_derived()
    copied = {
        "database_id": copies.c.id,
        "name": source.c.name + "_" + cast(k.c.k, Text),
        "search_text": literal("filler table ") + copies.c.name + cast(k.c.k, Text),
    }
    names = [c.name for c in TABLES.c if c.name != "id"]
    conn.execute(
        insert(TABLES).from_select(
            names,
            select(*(copied.get(name, source.c[name]) for name in names))
            .select_from(source.join(copies, true()).join(k, true()))
            .where(copies.c.catalog_id == catalog_id, copies.c.name.like("sales\\_%")),
        )
    )
