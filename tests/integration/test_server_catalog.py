"""Every RPC family of CatalogService end to end through the stub, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from sluice.catalog.v1 import catalog_pb2 as api
from sluice.catalog.v1 import catalog_pb2_grpc
from sluice.catalog.v1 import types_pb2 as pb

pytestmark = pytest.mark.integration

Stub = catalog_pb2_grpc.CatalogServiceStub


@pytest.fixture(params=["sqlite", "postgresql"])
def stub(request: pytest.FixtureRequest) -> Stub:
    name = "catalog_stub" if request.param == "sqlite" else "pg_catalog_stub"
    return request.getfixturevalue(name)


def _code(call: Callable[[], Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()  # type: ignore[attr-defined]


def _pages(fetch: Callable[[str], tuple[list[Any], str]]) -> list[Any]:
    """Every item of a paged list, following next_token to the end."""
    items: list[Any] = []
    token = ""
    while True:
        page, token = fetch(token)
        items.extend(page)
        if not token:
            return items


def _table_input(name: str, columns: int = 2, *, partitioned: bool = True) -> pb.TableInput:
    return pb.TableInput(
        name=name,
        description=f"the {name} table",
        owner="analytics",
        table_type="EXTERNAL_TABLE",
        parameters={"classification": "parquet"},
        storage_descriptor=pb.StorageDescriptor(
            columns=[pb.Column(name=f"c{i}", type="string") for i in range(columns)],
            location=f"s3://bucket/{name}/",
            serde_info=pb.SerDeInfo(serialization_library="parquet.serde"),
        ),
        partition_keys=(
            [pb.Column(name="year", type="int"), pb.Column(name="month", type="int")]
            if partitioned
            else []
        ),
    )


def _create_database(stub: Stub, catalog_id: str, name: str) -> None:
    stub.CreateDatabase(
        api.CreateDatabaseRequest(
            catalog_id=catalog_id,
            database_input=pb.DatabaseInput(name=name, description="d", parameters={"k": "v"}),
        )
    )


def _create_table(stub: Stub, catalog_id: str, db: str, table: pb.TableInput) -> None:
    stub.CreateTable(
        api.CreateTableRequest(catalog_id=catalog_id, database_name=db, table_input=table)
    )


def _partition(year: int, month: int) -> pb.PartitionInput:
    return pb.PartitionInput(
        values=[str(year), str(month)],
        parameters={"rows": str(year * 100 + month)},
        storage_descriptor=pb.StorageDescriptor(
            columns=[pb.Column(name="c0", type="string")],
            location=f"s3://bucket/t/year={year}/month={month}/",
        ),
    )


def test_databases(stub: Stub, catalog_id: str) -> None:
    names = [f"db{i}" for i in range(5)]
    for name in reversed(names):
        _create_database(stub, catalog_id, name)
    got = stub.GetDatabase(api.GetDatabaseRequest(catalog_id=catalog_id, name="DB3")).database
    assert (got.name, got.catalog_id, dict(got.parameters)) == ("db3", catalog_id, {"k": "v"})
    assert got.HasField("create_time")

    def page(token: str) -> tuple[list[Any], str]:
        reply = stub.GetDatabases(
            api.GetDatabasesRequest(catalog_id=catalog_id, max_results=2, next_token=token)
        )
        assert len(reply.database_list) <= 2
        return [d.name for d in reply.database_list], reply.next_token

    assert _pages(page) == names

    segments = [
        {
            d.name
            for d in stub.GetDatabases(
                api.GetDatabasesRequest(
                    catalog_id=catalog_id,
                    segment=pb.Segment(segment_number=i, total_segments=3),
                )
            ).database_list
        }
        for i in range(3)
    ]
    assert set().union(*segments) == set(names)
    assert sum(len(s) for s in segments) == len(names)

    stub.UpdateDatabase(
        api.UpdateDatabaseRequest(
            catalog_id=catalog_id,
            name="db1",
            database_input=pb.DatabaseInput(name="db1", description="new", location_uri="s3://x"),
        )
    )
    updated = stub.GetDatabase(api.GetDatabaseRequest(catalog_id=catalog_id, name="db1")).database
    assert (updated.description, updated.location_uri) == ("new", "s3://x")

    stub.DeleteDatabase(api.DeleteDatabaseRequest(catalog_id=catalog_id, name="db1"))
    gone = api.GetDatabaseRequest(catalog_id=catalog_id, name="db1")
    assert _code(lambda: stub.GetDatabase(gone)) == grpc.StatusCode.NOT_FOUND


def test_default_catalog_is_used_when_catalog_id_is_empty(stub: Stub, catalog_id: str) -> None:
    name = f"d{catalog_id.replace('-', '_')}"
    stub.CreateDatabase(api.CreateDatabaseRequest(database_input=pb.DatabaseInput(name=name)))
    try:
        got = stub.GetDatabase(api.GetDatabaseRequest(name=name)).database
        assert got.catalog_id == "000000000000"
        other = api.GetDatabaseRequest(catalog_id=catalog_id, name=name)
        assert _code(lambda: stub.GetDatabase(other)) == grpc.StatusCode.NOT_FOUND
    finally:
        stub.DeleteDatabase(api.DeleteDatabaseRequest(name=name))


def test_tables_and_versions(stub: Stub, catalog_id: str) -> None:
    _create_database(stub, catalog_id, "sales")
    for name in ("orders", "order_items", "customers"):
        _create_table(stub, catalog_id, "sales", _table_input(name))
    table = stub.GetTable(
        api.GetTableRequest(catalog_id=catalog_id, database_name="sales", name="Orders")
    ).table
    assert (table.name, table.database_name, table.version_id) == ("orders", "sales", "1")
    assert [c.name for c in table.storage_descriptor.columns] == ["c0", "c1"]
    assert table.storage_descriptor.serde_info.serialization_library == "parquet.serde"
    assert [k.name for k in table.partition_keys] == ["year", "month"]
    assert dict(table.parameters) == {"classification": "parquet"}

    listed = stub.GetTables(
        api.GetTablesRequest(catalog_id=catalog_id, database_name="sales", expression="order*")
    )
    assert [t.name for t in listed.table_list] == ["order_items", "orders"]

    def page(token: str) -> tuple[list[Any], str]:
        reply = stub.GetTables(
            api.GetTablesRequest(
                catalog_id=catalog_id, database_name="sales", max_results=1, next_token=token
            )
        )
        return [t.name for t in reply.table_list], reply.next_token

    assert _pages(page) == ["customers", "order_items", "orders"]

    changed = _table_input("orders", columns=3)
    stub.UpdateTable(
        api.UpdateTableRequest(
            catalog_id=catalog_id, database_name="sales", table_input=changed, version_id="1"
        )
    )
    current = stub.GetTableVersion(
        api.GetTableVersionRequest(
            catalog_id=catalog_id, database_name="sales", table_name="orders"
        )
    ).table_version
    assert current.version_id == "2"
    assert len(current.table.storage_descriptor.columns) == 3
    first = stub.GetTableVersion(
        api.GetTableVersionRequest(
            catalog_id=catalog_id, database_name="sales", table_name="orders", version_id="1"
        )
    ).table_version
    assert len(first.table.storage_descriptor.columns) == 2
    versions = stub.GetTableVersions(
        api.GetTableVersionsRequest(
            catalog_id=catalog_id, database_name="sales", table_name="orders"
        )
    ).table_versions
    assert [v.version_id for v in versions] == ["2", "1"]

    stub.DeleteTableVersion(
        api.DeleteTableVersionRequest(
            catalog_id=catalog_id, database_name="sales", table_name="orders", version_id="1"
        )
    )
    versions = stub.GetTableVersions(
        api.GetTableVersionsRequest(
            catalog_id=catalog_id, database_name="sales", table_name="orders"
        )
    ).table_versions
    assert [v.version_id for v in versions] == ["2"]

    stub.DeleteTable(
        api.DeleteTableRequest(catalog_id=catalog_id, database_name="sales", name="customers")
    )
    reply = stub.BatchDeleteTable(
        api.BatchDeleteTableRequest(
            catalog_id=catalog_id,
            database_name="sales",
            tables_to_delete=["order_items", "missing"],
        )
    )
    assert [(e.table_name, e.error_detail.error_code) for e in reply.errors] == [
        ("missing", "EntityNotFoundException")
    ]
    left = stub.GetTables(api.GetTablesRequest(catalog_id=catalog_id, database_name="sales"))
    assert [t.name for t in left.table_list] == ["orders"]


def test_search_tables(stub: Stub, catalog_id: str) -> None:
    _create_database(stub, catalog_id, "a")
    _create_database(stub, catalog_id, "b")
    _create_table(stub, catalog_id, "a", _table_input("clicks"))
    _create_table(stub, catalog_id, "b", _table_input("click_stats", partitioned=False))
    _create_table(stub, catalog_id, "b", _table_input("users"))
    found = stub.SearchTables(
        api.SearchTablesRequest(
            catalog_id=catalog_id,
            search_text="click",
            sort_criteria=[pb.SortCriterion(field_name="name", sort=pb.SORT_DIRECTION_DESCENDING)],
        )
    )
    assert [(t.database_name, t.name) for t in found.table_list] == [
        ("a", "clicks"),
        ("b", "click_stats"),
    ]
    filtered = stub.SearchTables(
        api.SearchTablesRequest(
            catalog_id=catalog_id,
            filters=[
                pb.PropertyPredicate(
                    key="database_name", value="b", comparator=pb.COMPARATOR_EQUALS
                )
            ],
        )
    )
    assert sorted(t.name for t in filtered.table_list) == ["click_stats", "users"]


def test_partitions(stub: Stub, catalog_id: str) -> None:
    _create_database(stub, catalog_id, "db")
    _create_table(stub, catalog_id, "db", _table_input("t"))
    scope = {"catalog_id": catalog_id, "database_name": "db", "table_name": "t"}
    stub.CreatePartition(api.CreatePartitionRequest(**scope, partition_input=_partition(2023, 12)))
    batch = stub.BatchCreatePartition(
        api.BatchCreatePartitionRequest(
            **scope,
            partition_input_list=[_partition(2024, m) for m in (1, 2, 3)] + [_partition(2023, 12)],
        )
    )
    assert [(list(e.partition_values), e.error_detail.error_code) for e in batch.errors] == [
        (["2023", "12"], "AlreadyExistsException")
    ]
    one = stub.GetPartition(
        api.GetPartitionRequest(**scope, partition_values=["2024", "2"])
    ).partition
    assert (list(one.values), one.table_name, dict(one.parameters)) == (
        ["2024", "2"],
        "t",
        {"rows": "202402"},
    )
    assert one.HasField("creation_time")

    def select(expression: str, **extra: Any) -> list[list[str]]:
        reply = stub.GetPartitions(
            api.GetPartitionsRequest(**scope, expression=expression, **extra)
        )
        return [list(p.values) for p in reply.partitions]

    assert select("year = 2024 AND month IN (1, 2)") == [["2024", "1"], ["2024", "2"]]
    assert select("month > 2") == [["2023", "12"], ["2024", "3"]]
    assert len(select("")) == 4

    def page(token: str) -> tuple[list[Any], str]:
        reply = stub.GetPartitions(
            api.GetPartitionsRequest(**scope, max_results=3, next_token=token)
        )
        return [list(p.values) for p in reply.partitions], reply.next_token

    assert len(_pages(page)) == 4

    bare = stub.GetPartitions(api.GetPartitionsRequest(**scope, exclude_column_schema=True))
    assert all(len(p.storage_descriptor.columns) == 0 for p in bare.partitions)
    assert all(p.storage_descriptor.location for p in bare.partitions)

    got = stub.BatchGetPartition(
        api.BatchGetPartitionRequest(
            **scope,
            partitions_to_get=[
                pb.PartitionValueList(values=["2024", "1"]),
                pb.PartitionValueList(values=["1999", "1"]),
            ],
        )
    )
    assert [list(p.values) for p in got.partitions] == [["2024", "1"]]

    stub.UpdatePartition(
        api.UpdatePartitionRequest(
            **scope,
            partition_value_list=["2024", "1"],
            partition_input=pb.PartitionInput(values=["2024", "1"], parameters={"rows": "0"}),
        )
    )
    updated = stub.GetPartition(api.GetPartitionRequest(**scope, partition_values=["2024", "1"]))
    assert dict(updated.partition.parameters) == {"rows": "0"}

    failures = stub.BatchUpdatePartition(
        api.BatchUpdatePartitionRequest(
            **scope,
            entries=[
                pb.BatchUpdatePartitionRequestEntry(
                    partition_value_list=["2024", "2"],
                    partition_input=pb.PartitionInput(values=["2024", "2"], parameters={"a": "b"}),
                ),
                pb.BatchUpdatePartitionRequestEntry(
                    partition_value_list=["1999", "9"],
                    partition_input=pb.PartitionInput(values=["1999", "9"]),
                ),
            ],
        )
    )
    assert [(list(e.partition_value_list), e.error_detail.error_code) for e in failures.errors] == [
        (["1999", "9"], "EntityNotFoundException")
    ]

    stub.DeletePartition(api.DeletePartitionRequest(**scope, partition_values=["2023", "12"]))
    deleted = stub.BatchDeletePartition(
        api.BatchDeletePartitionRequest(
            **scope,
            partitions_to_delete=[
                pb.PartitionValueList(values=["2024", "3"]),
                pb.PartitionValueList(values=["2023", "12"]),
            ],
        )
    )
    assert [(list(e.partition_values), e.error_detail.error_code) for e in deleted.errors] == [
        (["2023", "12"], "EntityNotFoundException")
    ]
    assert select("") == [["2024", "1"], ["2024", "2"]]


def test_connections(stub: Stub, catalog_id: str) -> None:
    properties = {
        "JDBC_CONNECTION_URL": "jdbc:postgresql://db/x",
        "USERNAME": "etl",
        "PASSWORD": "hunter2",
        "API_SECRET": "s",
    }
    for name, kind in (("pg", "JDBC"), ("queue", "KAFKA")):
        stub.CreateConnection(
            api.CreateConnectionRequest(
                catalog_id=catalog_id,
                connection_input=pb.ConnectionInput(
                    name=name,
                    connection_type=kind,
                    connection_properties=properties,
                    match_criteria=["prod"],
                    physical_connection_requirements=pb.PhysicalConnectionRequirements(
                        subnet_id="subnet-1"
                    ),
                ),
            )
        )
    shown = stub.GetConnection(api.GetConnectionRequest(catalog_id=catalog_id, name="pg"))
    assert dict(shown.connection.connection_properties) == properties
    assert shown.connection.physical_connection_requirements.subnet_id == "subnet-1"
    hidden = stub.GetConnection(
        api.GetConnectionRequest(catalog_id=catalog_id, name="pg", hide_password=True)
    )
    assert set(hidden.connection.connection_properties) == {"JDBC_CONNECTION_URL", "USERNAME"}

    listed = stub.GetConnections(
        api.GetConnectionsRequest(
            catalog_id=catalog_id,
            hide_password=True,
            filter=pb.GetConnectionsFilter(connection_type="KAFKA"),
        )
    )
    assert [c.name for c in listed.connection_list] == ["queue"]
    assert "PASSWORD" not in listed.connection_list[0].connection_properties
    every = stub.GetConnections(api.GetConnectionsRequest(catalog_id=catalog_id))
    assert [c.name for c in every.connection_list] == ["pg", "queue"]

    stub.UpdateConnection(
        api.UpdateConnectionRequest(
            catalog_id=catalog_id,
            name="pg",
            connection_input=pb.ConnectionInput(
                name="pg", connection_type="JDBC", description="primary"
            ),
        )
    )
    again = stub.GetConnection(api.GetConnectionRequest(catalog_id=catalog_id, name="pg"))
    assert again.connection.description == "primary"
    stub.DeleteConnection(api.DeleteConnectionRequest(catalog_id=catalog_id, connection_name="pg"))
    gone = api.GetConnectionRequest(catalog_id=catalog_id, name="pg")
    assert _code(lambda: stub.GetConnection(gone)) == grpc.StatusCode.NOT_FOUND


def test_user_defined_functions(stub: Stub, catalog_id: str) -> None:
    for db in ("a", "b"):
        _create_database(stub, catalog_id, db)
        stub.CreateUserDefinedFunction(
            api.CreateUserDefinedFunctionRequest(
                catalog_id=catalog_id,
                database_name=db,
                function_input=pb.UserDefinedFunctionInput(
                    function_name=f"to_{db}",
                    class_name="com.example.Fn",
                    owner_name="me",
                    resource_uris=[
                        pb.ResourceUri(resource_type=pb.RESOURCE_TYPE_JAR, uri="s3://jars/fn.jar")
                    ],
                ),
            )
        )
    got = stub.GetUserDefinedFunction(
        api.GetUserDefinedFunctionRequest(
            catalog_id=catalog_id, database_name="a", function_name="TO_A"
        )
    ).user_defined_function
    assert (got.function_name, got.database_name, got.owner_type) == (
        "to_a",
        "a",
        pb.PRINCIPAL_TYPE_USER,
    )
    assert [(u.resource_type, u.uri) for u in got.resource_uris] == [
        (pb.RESOURCE_TYPE_JAR, "s3://jars/fn.jar")
    ]
    everywhere = stub.GetUserDefinedFunctions(
        api.GetUserDefinedFunctionsRequest(catalog_id=catalog_id, pattern="to_*")
    )
    assert [(f.database_name, f.function_name) for f in everywhere.user_defined_functions] == [
        ("a", "to_a"),
        ("b", "to_b"),
    ]
    stub.UpdateUserDefinedFunction(
        api.UpdateUserDefinedFunctionRequest(
            catalog_id=catalog_id,
            database_name="a",
            function_name="to_a",
            function_input=pb.UserDefinedFunctionInput(
                function_name="to_a",
                class_name="com.example.Other",
                owner_type=pb.PRINCIPAL_TYPE_ROLE,
            ),
        )
    )
    updated = stub.GetUserDefinedFunction(
        api.GetUserDefinedFunctionRequest(
            catalog_id=catalog_id, database_name="a", function_name="to_a"
        )
    ).user_defined_function
    assert (updated.class_name, updated.owner_type) == ("com.example.Other", pb.PRINCIPAL_TYPE_ROLE)
    stub.DeleteUserDefinedFunction(
        api.DeleteUserDefinedFunctionRequest(
            catalog_id=catalog_id, database_name="a", function_name="to_a"
        )
    )
    left = stub.GetUserDefinedFunctions(
        api.GetUserDefinedFunctionsRequest(catalog_id=catalog_id, database_name="a")
    )
    assert list(left.user_defined_functions) == []


def test_deleting_a_database_removes_its_contents(stub: Stub, catalog_id: str) -> None:
    _create_database(stub, catalog_id, "gone")
    _create_table(stub, catalog_id, "gone", _table_input("t"))
    stub.DeleteDatabase(api.DeleteDatabaseRequest(catalog_id=catalog_id, name="gone"))
    _create_database(stub, catalog_id, "gone")
    tables = stub.GetTables(api.GetTablesRequest(catalog_id=catalog_id, database_name="gone"))
    assert list(tables.table_list) == []
