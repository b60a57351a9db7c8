"""The SDK against a real server: every part of the catalog API, typed errors, paging, batches."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from sluice import sdk
from sluice.sdk.catalog import CatalogClient

pytestmark = pytest.mark.integration

ORDERS: dict[str, Any] = {
    "name": "orders",
    "description": "Orders by day",
    "table_type": "EXTERNAL_TABLE",
    "storage_descriptor": {
        "location": "s3://bucket/orders/",
        "columns": [{"name": "id", "type": "bigint"}, {"name": "amount", "type": "double"}],
    },
    "partition_keys": [{"name": "year", "type": "string"}, {"name": "month", "type": "string"}],
    "parameters": {"classification": "parquet"},
}


@pytest.fixture
def client(server: Any, catalog_id: str) -> Iterator[sdk.Client]:
    with sdk.connect(server.address, options=sdk.ClientOptions(catalog_id=catalog_id)) as c:
        yield c


@pytest.fixture
def catalog(client: sdk.Client) -> CatalogClient:
    return client.catalog


@pytest.fixture
def orders(catalog: CatalogClient) -> CatalogClient:
    """A catalog holding database sales with table orders (partitioned by year, month)."""
    catalog.create_database({"name": "sales", "description": "Sales"})
    catalog.create_table("sales", ORDERS)
    return catalog


def test_database_lifecycle(catalog: CatalogClient, catalog_id: str) -> None:
    catalog.create_database(
        {"name": "Sales", "description": "Sales data", "parameters": {"owner": "ann"}}
    )

    database = catalog.get_database("sales")
    assert (database.name, database.description, database.catalog_id) == (
        "sales",
        "Sales data",
        catalog_id,
    )
    assert dict(database.parameters) == {"owner": "ann"}
    assert database.HasField("create_time")

    catalog.update_database("sales", {"name": "sales", "description": "Renamed"})
    assert catalog.get_database("sales").description == "Renamed"

    catalog.delete_database("sales")
    with pytest.raises(sdk.EntityNotFound, match="sales"):
        catalog.get_database("sales")


def test_typed_errors(catalog: CatalogClient) -> None:
    catalog.create_database({"name": "sales"})

    with pytest.raises(sdk.AlreadyExists) as exists:
        catalog.create_database({"name": "sales"})
    with pytest.raises(sdk.InvalidInput):
        catalog.create_database({"name": "not a valid name!"})
    with pytest.raises(sdk.EntityNotFound) as missing:
        catalog.get_table("sales", "nope")

    assert exists.value.reason == "AlreadyExistsException"
    assert missing.value.reason == "EntityNotFoundException"
    assert missing.value.request_id


def test_catalogs_are_separate(client: sdk.Client, catalog_id: str) -> None:
    client.catalog.create_database({"name": "sales"})

    other = f"{catalog_id}-other"
    with pytest.raises(sdk.EntityNotFound):
        client.catalog.get_database("sales", catalog_id=other)
    assert list(client.catalog.get_databases(catalog_id=other)) == []


def test_databases_page_transparently(catalog: CatalogClient) -> None:
    names = [f"db_{i:02d}" for i in range(23)]
    for name in names:
        catalog.create_database({"name": name})

    listed = [d.name for d in catalog.get_databases(page_size=4)]

    assert sorted(listed) == names
    assert len(listed) == len(set(listed))


def test_segments_split_a_list(catalog: CatalogClient) -> None:
    names = {f"db_{i:02d}" for i in range(12)}
    for name in names:
        catalog.create_database({"name": name})

    parts = [
        {d.name for d in catalog.get_databases(segment={"segment_number": s, "total_segments": 3})}
        for s in range(3)
    ]

    assert set().union(*parts) == names
    assert sum(len(p) for p in parts) == len(names)


def test_tables_list_with_expression_and_pages(orders: CatalogClient) -> None:
    for i in range(9):
        orders.create_table("sales", {"name": f"events_{i}"})

    every = [t.name for t in orders.get_tables("sales", page_size=2)]
    matching = [t.name for t in orders.get_tables("sales", "events_1|events_2|ord*", page_size=2)]

    assert sorted(every) == sorted(["orders", *(f"events_{i}" for i in range(9))])
    assert sorted(matching) == ["events_1", "events_2", "orders"]


def test_table_versions_and_concurrent_modification(orders: CatalogClient) -> None:
    first = orders.get_table("sales", "orders")

    orders.update_table("sales", {**ORDERS, "description": "v2"}, version_id=first.version_id)
    with pytest.raises(sdk.ConcurrentModification):
        orders.update_table("sales", {**ORDERS, "description": "lost"}, version_id=first.version_id)

    current = orders.get_table("sales", "orders")
    assert current.description == "v2"
    assert current.version_id != first.version_id

    versions = list(orders.get_table_versions("sales", "orders", page_size=1))
    assert [v.version_id for v in versions] == [current.version_id, first.version_id]
    old = orders.get_table_version("sales", "orders", first.version_id)
    assert old.table.description == "Orders by day"
    assert orders.get_table_version("sales", "orders").version_id == current.version_id

    with pytest.raises(sdk.InvalidInput):
        orders.delete_table_version("sales", "orders", current.version_id)
    orders.delete_table_version("sales", "orders", first.version_id)
    with pytest.raises(sdk.EntityNotFound):
        orders.get_table_version("sales", "orders", first.version_id)


def test_batch_delete_table_reports_missing_tables(orders: CatalogClient) -> None:
    for i in range(3):
        orders.create_table("sales", {"name": f"t{i}"})

    response = orders.batch_delete_table("sales", ["t0", "t1", "ghost"])

    assert [(e.table_name, e.error_detail.error_code) for e in response.errors] == [
        ("ghost", "EntityNotFoundException")
    ]
    assert sorted(t.name for t in orders.get_tables("sales")) == ["orders", "t2"]


def test_search_tables(orders: CatalogClient) -> None:
    orders.create_database({"name": "marketing"})
    orders.create_table("marketing", {"name": "campaigns", "owner": "bob"})
    orders.create_table("marketing", {"name": "order_leads", "owner": "ann"})

    found = {(t.database_name, t.name) for t in orders.search_tables("order", page_size=1)}
    by_owner = [
        t.name
        for t in orders.search_tables(
            filters=[{"key": "owner", "value": "bob", "comparator": "COMPARATOR_EQUALS"}]
        )
    ]
    sorted_names = [
        t.name
        for t in orders.search_tables(
            sort_criteria=[{"field_name": "name", "sort": "SORT_DIRECTION_DESCENDING"}]
        )
    ]

    assert found == {("sales", "orders"), ("marketing", "order_leads")}
    assert by_owner == ["campaigns"]
    assert sorted_names == ["orders", "order_leads", "campaigns"]


def month_partitions(years: range) -> list[dict[str, Any]]:
    return [
        {
            "values": [str(year), f"{month:02d}"],
            "storage_descriptor": {"location": f"s3://bucket/orders/{year}/{month:02d}/"},
        }
        for year in years
        for month in range(1, 13)
    ]


def test_batch_create_over_1000_partitions_and_page_through_them(orders: CatalogClient) -> None:
    partitions = month_partitions(range(1800, 2025))  # 2700 partitions: three calls

    response = orders.batch_create_partition("sales", "orders", partitions)

    assert list(response.errors) == []
    listed = [tuple(p.values) for p in orders.get_partitions("sales", "orders", page_size=1000)]
    assert sorted(listed) == sorted(tuple(p["values"]) for p in partitions)
    selected = orders.get_partitions(
        "sales", "orders", "year = '2024' AND month IN ('01', '12')", page_size=1
    )
    assert sorted(tuple(p.values) for p in selected) == [("2024", "01"), ("2024", "12")]


def test_batch_create_reports_per_partition_errors(orders: CatalogClient) -> None:
    orders.create_partition("sales", "orders", {"values": ["2024", "01"]})

    response = orders.batch_create_partition(
        "sales", "orders", [{"values": ["2024", "01"]}, {"values": ["2024", "02"]}]
    )

    assert [(list(e.partition_values), e.error_detail.error_code) for e in response.errors] == [
        (["2024", "01"], "AlreadyExistsException")
    ]
    assert orders.get_partition("sales", "orders", ["2024", "02"]).values == ["2024", "02"]


def test_partition_lifecycle(orders: CatalogClient) -> None:
    orders.create_partition(
        "sales",
        "orders",
        {"values": ["2024", "01"], "storage_descriptor": {"location": "s3://a/"}},
    )
    with pytest.raises(sdk.AlreadyExists):
        orders.create_partition("sales", "orders", {"values": ["2024", "01"]})
    with pytest.raises(sdk.InvalidInput):
        orders.create_partition("sales", "orders", {"values": ["2024"]})

    orders.update_partition(
        "sales",
        "orders",
        ["2024", "01"],
        {"values": ["2024", "01"], "storage_descriptor": {"location": "s3://b/"}},
    )
    partition = orders.get_partition("sales", "orders", ["2024", "01"])
    assert partition.storage_descriptor.location == "s3://b/"
    assert (partition.database_name, partition.table_name) == ("sales", "orders")

    orders.delete_partition("sales", "orders", ["2024", "01"])
    with pytest.raises(sdk.EntityNotFound):
        orders.get_partition("sales", "orders", ["2024", "01"])


def test_partition_batches_get_update_delete(orders: CatalogClient) -> None:
    partitions = month_partitions(range(1900, 2010))  # 1320 partitions
    orders.batch_create_partition("sales", "orders", partitions)
    keys = [p["values"] for p in partitions]

    fetched = orders.batch_get_partition("sales", "orders", [*keys, ["1800", "01"]])
    assert len(fetched.partitions) == len(keys)
    assert list(fetched.unprocessed_keys) == []

    updated = orders.batch_update_partition(
        "sales",
        "orders",
        [
            {
                "partition_value_list": k,
                "partition_input": {"values": k, "parameters": {"checked": "yes"}},
            }
            for k in [*keys[:1100], ["1800", "01"]]
        ],
    )
    assert [list(e.partition_value_list) for e in updated.errors] == [["1800", "01"]]
    assert orders.get_partition("sales", "orders", keys[1099]).parameters["checked"] == "yes"

    deleted = orders.batch_delete_partition("sales", "orders", [*keys[:1200], ["1800", "01"]])
    assert [list(e.partition_values) for e in deleted.errors] == [["1800", "01"]]
    remaining = sorted(tuple(p.values) for p in orders.get_partitions("sales", "orders"))
    assert remaining == sorted(tuple(k) for k in keys[1200:])


def test_bad_partition_expression_is_invalid_input(orders: CatalogClient) -> None:
    with pytest.raises(sdk.InvalidInput):
        list(orders.get_partitions("sales", "orders", "year = = 2"))


def test_connections(catalog: CatalogClient) -> None:
    catalog.create_connection(
        {
            "name": "warehouse",
            "connection_type": "JDBC",
            "connection_properties": {
                "JDBC_CONNECTION_URL": "jdbc:postgresql://db/dw",
                "USERNAME": "etl",
                "PASSWORD": "secret",
            },
        }
    )
    catalog.create_connection({"name": "files", "connection_type": "SFTP"})

    full = catalog.get_connection("warehouse")
    hidden = catalog.get_connection("warehouse", hide_password=True)
    assert full.connection_properties["PASSWORD"] == "secret"
    assert "PASSWORD" not in hidden.connection_properties
    jdbc = [c.name for c in catalog.get_connections(filter={"connection_type": "JDBC"})]
    assert jdbc == ["warehouse"]
    assert sorted(c.name for c in catalog.get_connections(page_size=1)) == ["files", "warehouse"]

    catalog.update_connection(
        "warehouse", {"name": "warehouse", "connection_type": "JDBC", "description": "DW"}
    )
    assert catalog.get_connection("warehouse").description == "DW"
    catalog.delete_connection("warehouse")
    with pytest.raises(sdk.EntityNotFound):
        catalog.get_connection("warehouse")


def test_user_defined_functions(catalog: CatalogClient) -> None:
    catalog.create_database({"name": "sales"})
    catalog.create_database({"name": "hr"})
    function = {
        "function_name": "to_cents",
        "class_name": "com.example.ToCents",
        "owner_name": "ann",
        "owner_type": "PRINCIPAL_TYPE_USER",
        "resource_uris": [{"resource_type": "RESOURCE_TYPE_JAR", "uri": "s3://b/udf.jar"}],
    }
    catalog.create_user_defined_function("sales", function)
    catalog.create_user_defined_function("hr", {**function, "function_name": "age"})
    with pytest.raises(sdk.AlreadyExists):
        catalog.create_user_defined_function("sales", function)

    got = catalog.get_user_defined_function("sales", "to_cents")
    assert (got.class_name, got.database_name) == ("com.example.ToCents", "sales")
    assert got.resource_uris[0].uri == "s3://b/udf.jar"
    everywhere = {f.function_name for f in catalog.get_user_defined_functions(page_size=1)}
    assert everywhere == {"to_cents", "age"}
    assert [f.function_name for f in catalog.get_user_defined_functions("sales", "to_*")] == [
        "to_cents"
    ]

    catalog.update_user_defined_function(
        "sales", "to_cents", {**function, "class_name": "com.example.V2"}
    )
    assert catalog.get_user_defined_function("sales", "to_cents").class_name == "com.example.V2"
    catalog.delete_user_defined_function("sales", "to_cents")
    with pytest.raises(sdk.EntityNotFound):
        catalog.get_user_defined_function("sales", "to_cents")


def test_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        # Bound but not listening: connections to it are refused.
        with sdk.connect(address) as client, pytest.raises(sdk.Unavailable, match=address):
            client.catalog.get_database("sales")
