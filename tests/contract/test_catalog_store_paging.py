"""Paging and segments, the same for every list call: each item exactly once, tokens that only
work for the query that issued them, and parallel-scan segments that split the items."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sluice.catalog.core.model import (
    ConnectionInput,
    GetConnectionsFilter,
    PartitionInput,
    TableInput,
    UserDefinedFunctionInput,
)
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.errors import InvalidInput
from sluice.common.paging import Page, PageRequest, Segment
from tests.contract.conftest import Catalog, new_catalog_id

pytestmark = pytest.mark.contract

COUNT = 7


@dataclass(frozen=True)
class Listing:
    """One list call over COUNT items, and how to tell its items apart."""

    call: Callable[[PageRequest], Page[Any]]
    key: Callable[[Any], object]


def _databases(store: SqlCatalogStore, catalog: Catalog) -> Listing:
    for i in range(COUNT):
        catalog.database(f"db{i}")
    return Listing(lambda p: store.get_databases(catalog.id, p), lambda d: d.name)


def _tables(store: SqlCatalogStore, catalog: Catalog) -> Listing:
    catalog.database()
    for i in range(COUNT):
        catalog.table("sales", f"t{i}")
    return Listing(lambda p: store.get_tables(catalog.id, "sales", "t*", p), lambda t: t.name)


def _versions(store: SqlCatalogStore, catalog: Catalog) -> Listing:
    catalog.database()
    catalog.table()
    for i in range(COUNT - 1):
        store.update_table(catalog.id, "sales", TableInput(name="orders", description=str(i)))
    return Listing(
        lambda p: store.get_table_versions(catalog.id, "sales", "orders", p),
        lambda v: v.version_id,
    )


def _partitions(store: SqlCatalogStore, catalog: Catalog) -> Listing:
    catalog.database()
    catalog.table(keys=(("n", "int"),))
    inputs = [PartitionInput((str(i),)) for i in range(COUNT)]
    store.batch_create_partition(catalog.id, "sales", "orders", inputs)
    return Listing(
        lambda p: store.get_partitions(catalog.id, "sales", "orders", "n >= 0", p),
        lambda x: x.values,
    )


def _connections(store: SqlCatalogStore, catalog: Catalog) -> Listing:
    for i in range(COUNT):
        store.create_connection(catalog.id, ConnectionInput(name=f"c{i}", connection_type="JDBC"))
    return Listing(
        lambda p: store.get_connections(catalog.id, GetConnectionsFilter(), p), lambda c: c.name
    )


def _functions(store: SqlCatalogStore, catalog: Catalog) -> Listing:
    catalog.database("a")
    catalog.database("b")
    for i in range(COUNT):
        store.create_user_defined_function(
            catalog.id, "ab"[i % 2], UserDefinedFunctionInput(function_name=f"f{i}", class_name="F")
        )
    return Listing(
        lambda p: store.get_user_defined_functions(catalog.id, "", "", p),
        lambda f: (f.database_name, f.function_name),
    )


def _search(store: SqlCatalogStore, catalog: Catalog) -> Listing:
    catalog.database("a")
    catalog.database("b")
    for i in range(COUNT):
        catalog.table("ab"[i % 2], f"t{i}")
    return Listing(
        lambda p: store.search_tables(catalog.id, "", [], [], p),
        lambda t: (t.database_name, t.name),
    )


LISTINGS = {
    "databases": _databases,
    "tables": _tables,
    "versions": _versions,
    "partitions": _partitions,
    "connections": _connections,
    "functions": _functions,
    "search": _search,
}


@pytest.fixture(params=list(LISTINGS))
def listing(request: pytest.FixtureRequest, store: SqlCatalogStore, catalog: Catalog) -> Listing:
    return LISTINGS[request.param](store, catalog)


def _keys(listing: Listing, items: list[Any]) -> list[object]:
    return [listing.key(item) for item in items]


@pytest.mark.parametrize("max_results", [1, 2, 3, COUNT, 1000, 0])
def test_every_item_once(listing: Listing, max_results: int) -> None:
    everything = _keys(listing, list(listing.call(PageRequest(max_results=1000)).items))
    assert len(set(everything)) == COUNT

    pages, token, seen = 0, "", []
    while True:
        page = listing.call(PageRequest(max_results=max_results, next_token=token))
        assert len(page.items) <= (max_results or 100)
        seen += _keys(listing, list(page.items))
        pages += 1
        token = page.next_token
        if not token:
            break
    assert seen == everything
    assert pages == (-(-COUNT // max_results) if max_results else 1)


def test_segments_split_the_items(listing: Listing) -> None:
    everything = set(_keys(listing, Catalog.all(listing.call)))
    parts = [
        _keys(listing, Catalog.all(listing.call, 1, segment=Segment(number, 3)))
        for number in range(3)
    ]
    assert sum(len(part) for part in parts) == COUNT
    assert set().union(*parts) == everything


def test_altered_token_is_invalid_input(listing: Listing) -> None:
    token = listing.call(PageRequest(max_results=2)).next_token
    payload, tag = token.split(".")
    forged = [
        "not-a-token",
        f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{tag}",
        f"{payload}.{tag[::-1]}",
        token[:-3],
    ]
    for bad in forged:
        with pytest.raises(InvalidInput):
            listing.call(PageRequest(max_results=2, next_token=bad))


def test_token_of_another_segment_is_invalid_input(listing: Listing) -> None:
    token = listing.call(PageRequest(max_results=1, segment=Segment(0, 2))).next_token
    assert token
    with pytest.raises(InvalidInput):
        listing.call(PageRequest(max_results=1, next_token=token, segment=Segment(1, 2)))
    with pytest.raises(InvalidInput):
        listing.call(PageRequest(max_results=1, next_token=token))


@pytest.mark.parametrize(
    "page",
    [
        PageRequest(max_results=-1),
        PageRequest(max_results=1001),
        PageRequest(segment=Segment(0, 11)),
        PageRequest(segment=Segment(3, 3)),
        PageRequest(segment=Segment(-1, 2)),
    ],
)
def test_out_of_range_paging_is_invalid_input(listing: Listing, page: PageRequest) -> None:
    with pytest.raises(InvalidInput):
        listing.call(page)


def test_token_of_another_query_is_invalid_input(store: SqlCatalogStore, catalog: Catalog) -> None:
    catalog.database()
    catalog.table(keys=(("n", "int"),))
    catalog.table("sales", "other", keys=(("n", "int"),))
    for table in ("orders", "other"):
        store.batch_create_partition(
            catalog.id, "sales", table, [PartitionInput((str(i),)) for i in range(5)]
        )
        catalog.table("sales", f"{table}_x")
    first = store.get_partitions(catalog.id, "sales", "orders", "n > 0", PageRequest(max_results=1))

    def reuse(call: Callable[[PageRequest], object]) -> None:
        with pytest.raises(InvalidInput):
            call(PageRequest(max_results=1, next_token=first.next_token))

    reuse(lambda p: store.get_partitions(catalog.id, "sales", "orders", "n > 1", p))
    reuse(lambda p: store.get_partitions(catalog.id, "sales", "orders", "", p))
    reuse(lambda p: store.get_partitions(catalog.id, "sales", "other", "n > 0", p))
    reuse(lambda p: store.get_tables(catalog.id, "sales", "", p))
    other = Catalog(store, new_catalog_id())
    other.database()
    other.table(keys=(("n", "int"),))
    store.batch_create_partition(
        other.id, "sales", "orders", [PartitionInput((str(i),)) for i in range(5)]
    )
    reuse(lambda p: store.get_partitions(other.id, "sales", "orders", "n > 0", p))
    follow = store.get_partitions(
        catalog.id,
        "sales",
        "orders",
        "n > 0",
        PageRequest(max_results=1, next_token=first.next_token),
    )
    assert follow.items
