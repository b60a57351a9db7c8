"""Table updates and versions: history, optimistic concurrency, concurrent writers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from sluice.catalog.core.model import Column, PartitionInput, Table, TableInput
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.errors import ConcurrentModification, EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest
from tests.contract.conftest import Catalog

pytestmark = pytest.mark.contract

WRITERS = 8


@pytest.fixture
def orders(store: SqlCatalogStore, catalog: Catalog) -> Table:
    catalog.database()
    return store.create_table(
        catalog.id, "sales", TableInput(name="orders", description="v1", parameters={"n": "1"})
    )


def _versions(store: SqlCatalogStore, catalog: Catalog) -> list[str]:
    versions = catalog.all(lambda p: store.get_table_versions(catalog.id, "sales", "orders", p))
    return [v.version_id for v in versions]


def test_update_table_writes_a_new_version(
    store: SqlCatalogStore, catalog: Catalog, orders: Table
) -> None:
    updated = store.update_table(
        catalog.id, "SALES", TableInput(name="ORDERS", description="v2", owner="carol")
    )
    assert updated == store.get_table(catalog.id, "sales", "orders")
    assert updated.version_id == "2"
    assert updated.description == "v2"
    assert updated.parameters == {}
    assert updated.create_time == orders.create_time
    assert updated.update_time >= orders.update_time

    versions = store.get_table_versions(catalog.id, "sales", "orders", PageRequest()).items
    assert [(v.version_id, v.table.description) for v in versions] == [("2", "v2"), ("1", "v1")]
    assert versions[1].table == orders
    assert versions[0].table == updated


def test_get_table_version(store: SqlCatalogStore, catalog: Catalog, orders: Table) -> None:
    store.update_table(catalog.id, "sales", TableInput(name="orders", description="v2"))
    first = store.get_table_version(catalog.id, "sales", "orders", "1")
    assert first.version_id == "1"
    assert first.table == orders
    current = store.get_table_version(catalog.id, "sales", "orders")
    assert current.version_id == "2"
    assert current.table == store.get_table(catalog.id, "sales", "orders")
    with pytest.raises(EntityNotFound):
        store.get_table_version(catalog.id, "sales", "orders", "3")
    with pytest.raises(InvalidInput):
        store.get_table_version(catalog.id, "sales", "orders", "one")


def test_update_with_current_version_id_succeeds_and_stale_is_aborted(
    store: SqlCatalogStore, catalog: Catalog, orders: Table
) -> None:
    store.update_table(
        catalog.id, "sales", TableInput(name="orders", description="v2"), version_id="1"
    )
    with pytest.raises(ConcurrentModification, match="not the current version"):
        store.update_table(
            catalog.id, "sales", TableInput(name="orders", description="lost"), version_id="1"
        )
    assert store.get_table(catalog.id, "sales", "orders").description == "v2"
    assert _versions(store, catalog) == ["2", "1"]


def test_skip_archive_replaces_the_previous_version(
    store: SqlCatalogStore, catalog: Catalog, orders: Table
) -> None:
    store.update_table(catalog.id, "sales", TableInput(name="orders", description="v2"))
    store.update_table(
        catalog.id, "sales", TableInput(name="orders", description="v3"), skip_archive=True
    )
    assert _versions(store, catalog) == ["3", "1"]
    assert store.get_table(catalog.id, "sales", "orders").version_id == "3"


def test_delete_table_version(store: SqlCatalogStore, catalog: Catalog, orders: Table) -> None:
    store.update_table(catalog.id, "sales", TableInput(name="orders", description="v2"))
    with pytest.raises(InvalidInput, match="current version"):
        store.delete_table_version(catalog.id, "sales", "orders", "2")
    with pytest.raises(EntityNotFound):
        store.delete_table_version(catalog.id, "sales", "orders", "7")
    store.delete_table_version(catalog.id, "sales", "orders", "1")
    assert _versions(store, catalog) == ["2"]
    with pytest.raises(EntityNotFound):
        store.delete_table_version(catalog.id, "sales", "orders", "1")


def test_update_missing_table(store: SqlCatalogStore, catalog: Catalog) -> None:
    with pytest.raises(EntityNotFound, match="Database sales not found"):
        store.update_table(catalog.id, "sales", TableInput(name="orders"))
    catalog.database()
    with pytest.raises(EntityNotFound, match=r"Table sales\.orders not found"):
        store.update_table(catalog.id, "sales", TableInput(name="orders"))


def test_partition_keys_cannot_change_while_partitions_exist(
    store: SqlCatalogStore, catalog: Catalog
) -> None:
    catalog.database()
    catalog.table(keys=(("year", "int"),))
    store.update_table(
        catalog.id, "sales", TableInput(name="orders", partition_keys=(Column("dt", "date"),))
    )
    store.create_partition(catalog.id, "sales", "orders", PartitionInput(values=("2024-01-01",)))
    with pytest.raises(InvalidInput, match="partition keys"):
        store.update_table(
            catalog.id, "sales", TableInput(name="orders", partition_keys=(Column("year", "int"),))
        )
    same_keys = TableInput(
        name="orders", description="new", partition_keys=(Column("DT", "DATE", "a comment"),)
    )
    assert store.update_table(catalog.id, "sales", same_keys).description == "new"


def test_concurrent_updates_without_version_id_are_all_kept(
    store: SqlCatalogStore, catalog: Catalog, orders: Table
) -> None:
    start = threading.Barrier(WRITERS)

    def write(i: int) -> Table:
        start.wait(timeout=30)
        return store.update_table(
            catalog.id, "sales", TableInput(name="orders", description=f"writer {i}")
        )

    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(write, range(WRITERS)))

    assert sorted(int(r.version_id) for r in results) == list(range(2, WRITERS + 2))
    assert _versions(store, catalog) == [str(v) for v in range(WRITERS + 1, 0, -1)]
    final = store.get_table(catalog.id, "sales", "orders")
    assert final.version_id == str(WRITERS + 1)
    winner = next(r for r in results if r.version_id == final.version_id)
    assert final.description == winner.description
    history = store.get_table_versions(catalog.id, "sales", "orders", PageRequest()).items
    assert {v.table.description for v in history[:-1]} == {f"writer {i}" for i in range(WRITERS)}


def test_concurrent_updates_with_the_same_version_id_let_exactly_one_win(
    store: SqlCatalogStore, catalog: Catalog, orders: Table
) -> None:
    start = threading.Barrier(WRITERS)

    def write(i: int) -> str:
        start.wait(timeout=30)
        try:
            store.update_table(
                catalog.id,
                "sales",
                TableInput(name="orders", description=f"writer {i}"),
                version_id="1",
            )
        except ConcurrentModification:
            return "aborted"
        return f"writer {i}"

    with ThreadPoolExecutor(WRITERS) as pool:
        outcomes = list(pool.map(write, range(WRITERS)))

    winners = [o for o in outcomes if o != "aborted"]
    assert len(winners) == 1
    assert _versions(store, catalog) == ["2", "1"]
    assert store.get_table(catalog.id, "sales", "orders").description == winners[0]
