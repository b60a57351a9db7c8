"""The catalog client over a fake channel: requests built, pages followed, batches split."""

from __future__ import annotations

import grpc
import pytest

from sluice import sdk
from sluice.catalog.v1 import catalog_pb2, types_pb2
from sluice.sdk.config import ClientOptions
from tests.unit.test_sdk_support import FAKE_ADDRESS, FakeChannel, fake_catalog, rpc_error

pytestmark = pytest.mark.unit


def paged_databases(names: list[str], page: int) -> FakeChannel:
    """A channel whose GetDatabases serves `names` `page` at a time, the token an offset."""

    def get_databases(request: catalog_pb2.GetDatabasesRequest) -> catalog_pb2.GetDatabasesResponse:
        start = int(request.next_token or 0)
        end = start + page
        return catalog_pb2.GetDatabasesResponse(
            database_list=[types_pb2.Database(name=n) for n in names[start:end]],
            next_token=str(end) if end < len(names) else "",
        )

    return FakeChannel({"GetDatabases": get_databases})


def test_list_follows_every_page() -> None:
    names = [f"db{i:03d}" for i in range(23)]
    channel = paged_databases(names, page=5)

    found = [d.name for d in fake_catalog(channel).get_databases(page_size=5)]

    assert found == names
    requests = channel.requests("GetDatabases")
    assert [r.next_token for r in requests] == ["", "5", "10", "15", "20"]
    assert {r.max_results for r in requests} == {5}


def test_list_fetches_pages_only_as_iteration_needs_them() -> None:
    channel = paged_databases([f"db{i}" for i in range(10)], page=3)
    databases = fake_catalog(channel).get_databases()

    assert channel.calls == []
    next(databases)
    next(databases)
    next(databases)
    assert len(channel.calls) == 1
    next(databases)
    assert len(channel.calls) == 2


def test_list_of_nothing() -> None:
    assert list(fake_catalog(paged_databases([], page=5)).get_databases()) == []


def test_calls_carry_deadline_metadata_and_default_catalog() -> None:
    channel = FakeChannel({"GetDatabase": lambda r: catalog_pb2.GetDatabaseResponse()})
    options = ClientOptions(catalog_id="acct-1", timeout_s=7.5, metadata=(("x-team", "data"),))
    catalog = fake_catalog(channel, options)

    catalog.get_database("sales")
    catalog.get_database("sales", catalog_id="acct-2")

    first, second = channel.calls
    assert (first.request.catalog_id, second.request.catalog_id) == ("acct-1", "acct-2")
    assert first.timeout == 7.5
    assert tuple(first.metadata) == (("x-team", "data"),)


def test_dict_inputs_reach_the_server_as_messages() -> None:
    channel = FakeChannel({"CreateTable": lambda r: catalog_pb2.CreateTableResponse()})

    fake_catalog(channel).create_table(
        "sales",
        {
            "name": "orders",
            "storage_descriptor": {"columns": [{"name": "id", "type": "bigint"}]},
            "partition_keys": [{"name": "dt", "type": "string"}],
        },
    )

    (request,) = channel.requests("CreateTable")
    assert request.database_name == "sales"
    assert request.table_input.name == "orders"
    assert request.table_input.storage_descriptor.columns[0].type == "bigint"
    assert request.table_input.partition_keys[0].name == "dt"


def test_bad_input_fails_before_any_call() -> None:
    channel = FakeChannel()

    with pytest.raises(ValueError, match="nmae"):
        fake_catalog(channel).create_database({"nmae": "sales"})
    assert channel.calls == []


def test_rpc_errors_become_typed_errors_without_a_chained_rpc_error() -> None:
    def get_table(request: catalog_pb2.GetTableRequest) -> catalog_pb2.GetTableResponse:
        raise rpc_error(
            grpc.StatusCode.NOT_FOUND,
            f"Table {request.database_name}.{request.name} not found",
            reason="EntityNotFoundException",
        )

    catalog = fake_catalog(FakeChannel({"GetTable": get_table}))

    with pytest.raises(sdk.EntityNotFound) as caught:
        catalog.get_table("sales", "orders")
    assert caught.value.message == "Table sales.orders not found"
    assert caught.value.__suppress_context__
    assert caught.value.__cause__ is None


def test_errors_in_a_later_page_surface_while_iterating() -> None:
    def get_tables(request: catalog_pb2.GetTablesRequest) -> catalog_pb2.GetTablesResponse:
        if request.next_token:
            raise rpc_error(
                grpc.StatusCode.INVALID_ARGUMENT, "bad token", reason="InvalidInputException"
            )
        return catalog_pb2.GetTablesResponse(
            table_list=[types_pb2.Table(name="a")], next_token="t1"
        )

    tables = fake_catalog(FakeChannel({"GetTables": get_tables})).get_tables("sales", "a*")

    assert next(tables).name == "a"
    with pytest.raises(sdk.InvalidInput, match="bad token"):
        next(tables)


def test_unavailable_names_the_server() -> None:
    def down(request: object) -> catalog_pb2.GetDatabaseResponse:
        raise rpc_error(grpc.StatusCode.UNAVAILABLE, "connection refused")

    with pytest.raises(sdk.Unavailable, match=FAKE_ADDRESS):
        fake_catalog(FakeChannel({"GetDatabase": down})).get_database("x")


def test_batch_create_partition_splits_into_calls_of_at_most_100() -> None:
    def batch_create(
        request: catalog_pb2.BatchCreatePartitionRequest,
    ) -> catalog_pb2.BatchCreatePartitionResponse:
        # Every partition whose value ends in 7 "already exists".
        return catalog_pb2.BatchCreatePartitionResponse(
            errors=[
                types_pb2.PartitionError(
                    partition_values=p.values,
                    error_detail=types_pb2.ErrorDetail(error_code="AlreadyExistsException"),
                )
                for p in request.partition_input_list
                if p.values[0].endswith("7")
            ]
        )

    channel = FakeChannel({"BatchCreatePartition": batch_create})
    inputs = ({"values": [str(i)]} for i in range(251))

    response = fake_catalog(channel).batch_create_partition("sales", "orders", inputs)

    requests = channel.requests("BatchCreatePartition")
    assert [len(r.partition_input_list) for r in requests] == [100, 100, 51]
    sent = [p.values[0] for r in requests for p in r.partition_input_list]
    assert sent == [str(i) for i in range(251)]
    assert len(response.errors) == 25
    assert all(e.partition_values[0].endswith("7") for e in response.errors)


def test_batch_of_nothing_makes_no_call() -> None:
    channel = FakeChannel()

    response = fake_catalog(channel).batch_create_partition("sales", "orders", [])

    assert list(response.errors) == []
    assert channel.calls == []


def test_batch_get_partition_merges_found_and_unprocessed() -> None:
    def batch_get(
        request: catalog_pb2.BatchGetPartitionRequest,
    ) -> catalog_pb2.BatchGetPartitionResponse:
        keys = list(request.partitions_to_get)
        return catalog_pb2.BatchGetPartitionResponse(
            partitions=[types_pb2.Partition(values=k.values) for k in keys[:-1]],
            unprocessed_keys=keys[-1:],
        )

    channel = FakeChannel({"BatchGetPartition": batch_get})
    wanted = [[str(i), "x"] for i in range(1500)]

    response = fake_catalog(channel).batch_get_partition("sales", "orders", wanted)

    assert [len(r.partitions_to_get) for r in channel.requests("BatchGetPartition")] == [1000, 500]
    assert len(response.partitions) == 1498
    assert [list(k.values) for k in response.unprocessed_keys] == [["999", "x"], ["1499", "x"]]


def test_batch_update_and_delete_partition_split_at_glues_limits() -> None:
    channel = FakeChannel(
        {
            "BatchUpdatePartition": lambda r: catalog_pb2.BatchUpdatePartitionResponse(),
            "BatchDeletePartition": lambda r: catalog_pb2.BatchDeletePartitionResponse(),
        }
    )
    client = fake_catalog(channel)

    client.batch_update_partition(
        "sales",
        "orders",
        (
            {"partition_value_list": [str(i)], "partition_input": {"values": [str(i)]}}
            for i in range(201)
        ),
    )
    client.batch_delete_partition("sales", "orders", ([str(i)] for i in range(60)))

    updates = [len(r.entries) for r in channel.requests("BatchUpdatePartition")]
    deletes = [len(r.partitions_to_delete) for r in channel.requests("BatchDeletePartition")]
    assert (updates, deletes) == ([100, 100, 1], [25, 25, 10])


def test_batch_delete_table_splits_into_calls_of_at_most_100() -> None:
    channel = FakeChannel({"BatchDeleteTable": lambda r: catalog_pb2.BatchDeleteTableResponse()})

    fake_catalog(channel).batch_delete_table("sales", (f"t{i}" for i in range(250)))

    sizes = [len(r.tables_to_delete) for r in channel.requests("BatchDeleteTable")]
    assert sizes == [100, 100, 50]


def test_batch_delete_table_refuses_a_single_string() -> None:
    with pytest.raises(TypeError):
        fake_catalog(FakeChannel()).batch_delete_table("sales", "orders")


def test_partition_values_accept_any_sequence_of_strings() -> None:
    channel = FakeChannel({"GetPartition": lambda r: catalog_pb2.GetPartitionResponse()})

    fake_catalog(channel).get_partition("sales", "orders", ("2024", "01"))

    assert list(channel.requests("GetPartition")[0].partition_values) == ["2024", "01"]


def test_get_partitions_sends_expression_segment_and_page_size() -> None:
    channel = FakeChannel({"GetPartitions": lambda r: catalog_pb2.GetPartitionsResponse()})

    list(
        fake_catalog(channel).get_partitions(
            "sales",
            "orders",
            "year = '2024'",
            {"segment_number": 1, "total_segments": 4},
            page_size=50,
            exclude_column_schema=True,
        )
    )

    (request,) = channel.requests("GetPartitions")
    assert request.expression == "year = '2024'"
    assert (request.segment.segment_number, request.segment.total_segments) == (1, 4)
    assert request.max_results == 50
    assert request.exclude_column_schema


def test_update_table_sends_the_expected_version() -> None:
    channel = FakeChannel({"UpdateTable": lambda r: catalog_pb2.UpdateTableResponse()})

    fake_catalog(channel).update_table(
        "sales", {"name": "orders"}, version_id="3", skip_archive=True
    )

    (request,) = channel.requests("UpdateTable")
    assert (request.version_id, request.skip_archive) == ("3", True)


def test_search_tables_takes_filters_and_sorting_as_dicts() -> None:
    channel = FakeChannel({"SearchTables": lambda r: catalog_pb2.SearchTablesResponse()})

    list(
        fake_catalog(channel).search_tables(
            "orders",
            filters=[{"key": "owner", "value": "ann", "comparator": "COMPARATOR_EQUALS"}],
            sort_criteria=[{"field_name": "name", "sort": "SORT_DIRECTION_DESCENDING"}],
        )
    )

    (request,) = channel.requests("SearchTables")
    assert request.filters[0].comparator == types_pb2.COMPARATOR_EQUALS
    assert request.sort_criteria[0].sort == types_pb2.SORT_DIRECTION_DESCENDING


def test_connections_and_functions_requests() -> None:
    channel = FakeChannel(
        {
            "CreateConnection": lambda r: catalog_pb2.CreateConnectionResponse(),
            "GetConnections": lambda r: catalog_pb2.GetConnectionsResponse(
                connection_list=[types_pb2.Connection(name="warehouse")]
            ),
            "DeleteConnection": lambda r: catalog_pb2.DeleteConnectionResponse(),
            "GetUserDefinedFunctions": lambda r: catalog_pb2.GetUserDefinedFunctionsResponse(
                user_defined_functions=[types_pb2.UserDefinedFunction(function_name="f")]
            ),
        }
    )
    catalog = fake_catalog(channel)

    catalog.create_connection(
        {"name": "warehouse", "connection_type": "JDBC"}, tags={"team": "data"}
    )
    listed = list(catalog.get_connections(filter={"connection_type": "JDBC"}, hide_password=True))
    catalog.delete_connection("warehouse")
    functions = list(catalog.get_user_defined_functions("sales", "f*"))

    assert [c.name for c in listed] == ["warehouse"]
    assert [f.function_name for f in functions] == ["f"]
    assert dict(channel.requests("CreateConnection")[0].tags) == {"team": "data"}
    get_request = channel.requests("GetConnections")[0]
    assert get_request.filter.connection_type == "JDBC"
    assert get_request.hide_password
    assert channel.requests("DeleteConnection")[0].connection_name == "warehouse"
    functions_request = channel.requests("GetUserDefinedFunctions")[0]
    assert (functions_request.database_name, functions_request.pattern) == ("sales", "f*")
