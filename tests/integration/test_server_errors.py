"""Error mapping through a real server: status codes, ErrorInfo reasons, no tracebacks, and a
catalog left exactly as it was by every failed call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import text_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from sluice.catalog.v1 import catalog_pb2 as api
from sluice.catalog.v1 import catalog_pb2_grpc
from sluice.catalog.v1 import types_pb2 as pb

pytestmark = pytest.mark.integration

Stub = catalog_pb2_grpc.CatalogServiceStub
TRACEBACK_MARKERS = ("Traceback", 'File "')


@pytest.fixture
def seeded(catalog_stub: Stub, catalog_id: str) -> Stub:
    """A catalog with a database, a partitioned table updated once, and two partitions."""
    catalog_stub.CreateDatabase(
        api.CreateDatabaseRequest(catalog_id=catalog_id, database_input=pb.DatabaseInput(name="db"))
    )
    for index in range(3):
        catalog_stub.CreateTable(
            api.CreateTableRequest(
                catalog_id=catalog_id,
                database_name="db",
                table_input=pb.TableInput(
                    name=f"t{index}",
                    partition_keys=[pb.Column(name="year", type="int")],
                ),
            )
        )
    catalog_stub.UpdateTable(
        api.UpdateTableRequest(
            catalog_id=catalog_id,
            database_name="db",
            table_input=pb.TableInput(
                name="t0",
                description="second version",
                partition_keys=[pb.Column(name="year", type="int")],
            ),
        )
    )
    catalog_stub.BatchCreatePartition(
        api.BatchCreatePartitionRequest(
            catalog_id=catalog_id,
            database_name="db",
            table_name="t0",
            partition_input_list=[pb.PartitionInput(values=[y]) for y in ("2023", "2024")],
        )
    )
    return catalog_stub


def snapshot(stub: Stub, catalog_id: str) -> list[str]:
    """Everything the catalog holds, as text, to compare before and after a call."""
    out: list[str] = []
    for database in stub.GetDatabases(api.GetDatabasesRequest(catalog_id=catalog_id)).database_list:
        out.append(text_format.MessageToString(database))
        tables = stub.GetTables(
            api.GetTablesRequest(catalog_id=catalog_id, database_name=database.name)
        ).table_list
        for table in tables:
            out.append(text_format.MessageToString(table))
            scope = {
                "catalog_id": catalog_id,
                "database_name": database.name,
                "table_name": table.name,
            }
            versions = stub.GetTableVersions(api.GetTableVersionsRequest(**scope))
            out.extend(text_format.MessageToString(v) for v in versions.table_versions)
            partitions = stub.GetPartitions(api.GetPartitionsRequest(**scope))
            out.extend(text_format.MessageToString(p) for p in partitions.partitions)
    return out


def failure(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    details = error.details() or ""  # type: ignore[attr-defined]
    assert not any(marker in details for marker in TRACEBACK_MARKERS), details
    return error


def reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.domain == "sluice"
    return info.reason


def _scope(catalog_id: str, table: str = "t0") -> dict[str, str]:
    return {"catalog_id": catalog_id, "database_name": "db", "table_name": table}


def _token_of_page_one(stub: Stub, catalog_id: str) -> str:
    reply = stub.GetTables(
        api.GetTablesRequest(catalog_id=catalog_id, database_name="db", max_results=1)
    )
    assert reply.next_token
    return reply.next_token


def _forge(token: str) -> str:
    payload, tag = token.split(".", 1)
    flipped = "A" if payload[0] != "A" else "B"
    return f"{flipped}{payload[1:]}.{tag}"


# Each case: (what the failing call does, the status code, the ErrorInfo reason, text in message).
CASES: dict[str, tuple[Callable[[Stub, str], Any], grpc.StatusCode, str, str]] = {
    "missing database": (
        lambda s, c: s.GetDatabase(api.GetDatabaseRequest(catalog_id=c, name="nope")),
        grpc.StatusCode.NOT_FOUND,
        "EntityNotFoundException",
        "nope",
    ),
    "missing table": (
        lambda s, c: s.GetTable(api.GetTableRequest(catalog_id=c, database_name="db", name="x")),
        grpc.StatusCode.NOT_FOUND,
        "EntityNotFoundException",
        "x",
    ),
    "delete missing partition": (
        lambda s, c: s.DeletePartition(
            api.DeletePartitionRequest(**_scope(c), partition_values=["1999"])
        ),
        grpc.StatusCode.NOT_FOUND,
        "EntityNotFoundException",
        "1999",
    ),
    "malformed database name": (
        lambda s, c: s.CreateDatabase(
            api.CreateDatabaseRequest(
                catalog_id=c, database_input=pb.DatabaseInput(name="bad name!")
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "bad name!",
    ),
    "malformed table name in a read": (
        lambda s, c: s.GetTable(
            api.GetTableRequest(catalog_id=c, database_name="db", name="ta\u00efble\u2603")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "not valid",
    ),
    "malformed catalog id": (
        lambda s, c: s.GetDatabases(api.GetDatabasesRequest(catalog_id="no spaces")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "catalog_id",
    ),
    "too many partition values": (
        lambda s, c: s.CreatePartition(
            api.CreatePartitionRequest(
                **_scope(c), partition_input=pb.PartitionInput(values=["2024", "1"])
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "",
    ),
    "partition value not an int": (
        lambda s, c: s.CreatePartition(
            api.CreatePartitionRequest(
                **_scope(c), partition_input=pb.PartitionInput(values=["twenty"])
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "twenty",
    ),
    "expression does not parse": (
        lambda s, c: s.GetPartitions(
            api.GetPartitionsRequest(**_scope(c), expression="year = = 2024")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "position",
    ),
    "expression names an unknown key": (
        lambda s, c: s.GetPartitions(api.GetPartitionsRequest(**_scope(c), expression="day = 1")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "day",
    ),
    "forged next_token": (
        lambda s, c: s.GetTables(
            api.GetTablesRequest(
                catalog_id=c, database_name="db", next_token=_forge(_token_of_page_one(s, c))
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "next_token",
    ),
    "garbage next_token": (
        lambda s, c: s.GetDatabases(api.GetDatabasesRequest(catalog_id=c, next_token="%%%")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "next_token",
    ),
    "next_token of another query": (
        lambda s, c: s.GetTables(
            api.GetTablesRequest(
                catalog_id=c,
                database_name="db",
                expression="t*",
                next_token=_token_of_page_one(s, c),
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "different request",
    ),
    "max_results too large": (
        lambda s, c: s.GetDatabases(api.GetDatabasesRequest(catalog_id=c, max_results=5000)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "max_results",
    ),
    "bad segment": (
        lambda s, c: s.GetDatabases(
            api.GetDatabasesRequest(
                catalog_id=c, segment=pb.Segment(segment_number=3, total_segments=2)
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "segment",
    ),
    "missing database_input": (
        lambda s, c: s.CreateDatabase(api.CreateDatabaseRequest(catalog_id=c)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "database_input is required",
    ),
    "missing table_input": (
        lambda s, c: s.UpdateTable(api.UpdateTableRequest(catalog_id=c, database_name="db")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "table_input is required",
    ),
    "unspecified comparator": (
        lambda s, c: s.SearchTables(
            api.SearchTablesRequest(
                catalog_id=c, filters=[pb.PropertyPredicate(key="name", value="t0")]
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "comparator",
    ),
    "unspecified resource type": (
        lambda s, c: s.CreateUserDefinedFunction(
            api.CreateUserDefinedFunctionRequest(
                catalog_id=c,
                database_name="db",
                function_input=pb.UserDefinedFunctionInput(
                    function_name="f", class_name="C", resource_uris=[pb.ResourceUri(uri="s3://j")]
                ),
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "resource_type",
    ),
    "stale version_id": (
        lambda s, c: s.UpdateTable(
            api.UpdateTableRequest(
                catalog_id=c,
                database_name="db",
                version_id="1",
                table_input=pb.TableInput(
                    name="t0", partition_keys=[pb.Column(name="year", type="int")]
                ),
            )
        ),
        grpc.StatusCode.ABORTED,
        "ConcurrentModificationException",
        "",
    ),
    "database exists": (
        lambda s, c: s.CreateDatabase(
            api.CreateDatabaseRequest(catalog_id=c, database_input=pb.DatabaseInput(name="DB"))
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "AlreadyExistsException",
        "",
    ),
    "current version cannot be deleted": (
        lambda s, c: s.DeleteTableVersion(
            api.DeleteTableVersionRequest(
                catalog_id=c, database_name="db", table_name="t0", version_id="2"
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "",
    ),
    # Glue's documented per-call limits (common/limits.py).
    "GetTables max_results over 100": (
        lambda s, c: s.GetTables(
            api.GetTablesRequest(catalog_id=c, database_name="db", max_results=101)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "between 1 and 100",
    ),
    "GetDatabases max_results over 100": (
        lambda s, c: s.GetDatabases(api.GetDatabasesRequest(catalog_id=c, max_results=101)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "between 1 and 100",
    ),
    "BatchCreatePartition over 100": (
        lambda s, c: s.BatchCreatePartition(
            api.BatchCreatePartitionRequest(
                **_scope(c),
                partition_input_list=[pb.PartitionInput(values=[str(y)]) for y in range(101)],
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "at most 100 partitions, got 101",
    ),
    "BatchDeletePartition over 25": (
        lambda s, c: s.BatchDeletePartition(
            api.BatchDeletePartitionRequest(
                **_scope(c),
                partitions_to_delete=[pb.PartitionValueList(values=[str(y)]) for y in range(26)],
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "at most 25 partitions, got 26",
    ),
    "GetTables expression not a regular expression": (
        lambda s, c: s.GetTables(
            api.GetTablesRequest(catalog_id=c, database_name="db", expression="t(0")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "InvalidInputException",
        "not a valid regular expression",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_mapping_leaves_catalog_unchanged(seeded: Stub, catalog_id: str, case: str) -> None:
    call, code, expected_reason, text = CASES[case]
    before = snapshot(seeded, catalog_id)
    error = failure(lambda: call(seeded, catalog_id))
    assert error.code() == code, error.details()  # type: ignore[attr-defined]
    assert reason(error) == expected_reason
    assert text in error.details()  # type: ignore[attr-defined]
    assert snapshot(seeded, catalog_id) == before


def test_partial_batch_applies_the_good_items_only(seeded: Stub, catalog_id: str) -> None:
    reply = seeded.BatchCreatePartition(
        api.BatchCreatePartitionRequest(
            **_scope(catalog_id),
            partition_input_list=[
                pb.PartitionInput(values=["2025"]),
                pb.PartitionInput(values=["not-a-year"]),
                pb.PartitionInput(values=["2024"]),
            ],
        )
    )
    assert [(list(e.partition_values), e.error_detail.error_code) for e in reply.errors] == [
        (["not-a-year"], "InvalidInputException"),
        (["2024"], "AlreadyExistsException"),
    ]
    years = seeded.GetPartitions(api.GetPartitionsRequest(**_scope(catalog_id))).partitions
    assert [list(p.values) for p in years] == [["2023"], ["2024"], ["2025"]]


def test_oversized_message_is_resource_exhausted(seeded: Stub, catalog_id: str) -> None:
    before = snapshot(seeded, catalog_id)
    huge = pb.DatabaseInput(name="huge", description="x" * (17 * 1024 * 1024))
    error = failure(
        lambda: seeded.CreateDatabase(
            api.CreateDatabaseRequest(catalog_id=catalog_id, database_input=huge), timeout=30
        )
    )
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert snapshot(seeded, catalog_id) == before
