"""Connections: CRUD, types, filters, catalog scope."""

from __future__ import annotations

import pytest

from sluice.catalog.core.model import (
    ConnectionInput,
    GetConnectionsFilter,
    PhysicalConnectionRequirements,
)
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.common.errors import AlreadyExists, EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest
from tests.contract.conftest import Catalog, new_catalog_id

pytestmark = pytest.mark.contract

JDBC = ConnectionInput(
    name="Warehouse",
    connection_type="JDBC",
    description="the warehouse",
    match_criteria=("prod", "eu"),
    connection_properties={
        "JDBC_CONNECTION_URL": "jdbc:postgresql://db:5432/dw",
        "USERNAME": "etl",
        "PASSWORD": "s3cret",
    },
    physical_connection_requirements=PhysicalConnectionRequirements(
        subnet_id="subnet-1", security_group_id_list=("sg-1", "sg-2"), availability_zone="eu-1a"
    ),
)


def test_create_and_get_connection_round_trip(store: SqlCatalogStore, cat: str) -> None:
    created = store.create_connection(cat, JDBC, created_by="alice")
    fetched = store.get_connection(cat, "WAREHOUSE")
    assert fetched == created
    assert fetched.name == "warehouse"
    assert fetched.catalog_id == cat
    assert fetched.connection_properties == JDBC.connection_properties
    assert fetched.match_criteria == ("prod", "eu")
    assert fetched.physical_connection_requirements == JDBC.physical_connection_requirements
    assert fetched.last_updated_by == "alice"
    assert fetched.creation_time == fetched.last_updated_time
    assert fetched.creation_time.tzinfo is not None


def test_connection_errors(store: SqlCatalogStore, cat: str) -> None:
    with pytest.raises(EntityNotFound, match="Connection warehouse not found"):
        store.get_connection(cat, "warehouse")
    store.create_connection(cat, JDBC)
    with pytest.raises(AlreadyExists):
        store.create_connection(cat, ConnectionInput(name="warehouse", connection_type="KAFKA"))


@pytest.mark.parametrize(
    "connection_input",
    [
        ConnectionInput(name="c", connection_type="ODBC"),
        ConnectionInput(name="c", connection_type="jdbc"),
        ConnectionInput(name="c", connection_type=""),
        ConnectionInput(name="bad name", connection_type="JDBC"),
        ConnectionInput(name="c", connection_type="JDBC", description="d" * 2049),
        ConnectionInput(name="c", connection_type="JDBC", match_criteria=("",)),
        ConnectionInput(name="c", connection_type="JDBC", match_criteria=tuple("abcdefghijk")),
    ],
)
def test_create_connection_rejects_invalid_input(
    store: SqlCatalogStore, cat: str, connection_input: ConnectionInput
) -> None:
    with pytest.raises(InvalidInput):
        store.create_connection(cat, connection_input)


def test_update_connection(store: SqlCatalogStore, cat: str) -> None:
    created = store.create_connection(cat, JDBC, created_by="alice")
    updated = store.update_connection(
        cat,
        "warehouse",
        ConnectionInput(name="warehouse", connection_type="KAFKA", description="moved"),
        updated_by="bob",
    )
    assert updated == store.get_connection(cat, "warehouse")
    assert updated.connection_type == "KAFKA"
    assert updated.connection_properties == {}
    assert updated.physical_connection_requirements is None
    assert updated.last_updated_by == "bob"
    assert updated.creation_time == created.creation_time
    assert updated.last_updated_time >= created.last_updated_time
    with pytest.raises(InvalidInput):
        store.update_connection(cat, "warehouse", ConnectionInput(name="x", connection_type="JDBC"))
    with pytest.raises(EntityNotFound):
        store.update_connection(cat, "nope", ConnectionInput(name="nope", connection_type="JDBC"))


def test_delete_connection(store: SqlCatalogStore, cat: str) -> None:
    store.create_connection(cat, JDBC)
    store.delete_connection(cat, "Warehouse")
    with pytest.raises(EntityNotFound):
        store.get_connection(cat, "warehouse")
    with pytest.raises(EntityNotFound):
        store.delete_connection(cat, "warehouse")


@pytest.mark.parametrize(
    ("connection_filter", "expected"),
    [
        (GetConnectionsFilter(), ["a", "b", "c", "d"]),
        (GetConnectionsFilter(connection_type="JDBC"), ["a", "b"]),
        (GetConnectionsFilter(match_criteria=("prod",)), ["a", "c"]),
        (GetConnectionsFilter(match_criteria=("prod", "eu")), ["a"]),
        (GetConnectionsFilter(match_criteria=("pro",)), []),
        (GetConnectionsFilter(match_criteria=("10%",)), ["d"]),
        (GetConnectionsFilter(match_criteria=("1_%",)), []),
        (GetConnectionsFilter(connection_type="KAFKA", match_criteria=("prod",)), ["c"]),
        (GetConnectionsFilter(connection_type="SFTP"), []),
    ],
)
def test_get_connections_filter(
    store: SqlCatalogStore,
    catalog: Catalog,
    connection_filter: GetConnectionsFilter,
    expected: list[str],
) -> None:
    for name, kind, criteria in [
        ("a", "JDBC", ("prod", "eu")),
        ("b", "JDBC", ("dev",)),
        ("c", "KAFKA", ("us", "prod")),
        ("d", "NETWORK", ("10%",)),
    ]:
        store.create_connection(catalog.id, ConnectionInput(name, kind, match_criteria=criteria))
    found = catalog.all(lambda p: store.get_connections(catalog.id, connection_filter, p), 1)
    assert [c.name for c in found] == expected


def test_get_connections_rejects_unknown_type(store: SqlCatalogStore, cat: str) -> None:
    with pytest.raises(InvalidInput):
        store.get_connections(cat, GetConnectionsFilter(connection_type="FTP"), PageRequest())


def test_connections_are_isolated_by_catalog(store: SqlCatalogStore, cat: str) -> None:
    other = new_catalog_id()
    store.create_connection(cat, JDBC)
    store.create_connection(other, ConnectionInput(name="warehouse", connection_type="KAFKA"))
    assert store.get_connection(cat, "warehouse").connection_type == "JDBC"
    assert [
        c.catalog_id
        for c in store.get_connections(other, GetConnectionsFilter(), PageRequest()).items
    ] == [other]
