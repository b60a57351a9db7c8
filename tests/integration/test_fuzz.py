"""Random requests against the live server: it never fails with INTERNAL or UNKNOWN, and what
it lists always agrees with a model built from the calls that it said succeeded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sluice.catalog.v1 import catalog_pb2 as api
from sluice.catalog.v1 import catalog_pb2_grpc
from sluice.catalog.v1 import types_pb2 as pb

pytestmark = pytest.mark.integration

Stub = catalog_pb2_grpc.CatalogServiceStub
BROKEN = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
CALL_TIMEOUT_S = 10
STEPS_PER_EXAMPLE = 20
NOT_FOUND = "EntityNotFoundException"

NAME_POOL = ["db_a", "DB_A", "db-b", "t1", "T2", "sales", "x"]
KEY_SETS: list[list[tuple[str, str]]] = [
    [],
    [("year", "int")],
    [("year", "INT"), ("region", "string")],
    [("Year", "int"), ("year", "string")],  # duplicate key: rejected
    [("bad\nkey", "int")],  # control character: rejected
]
EXPRESSIONS = [
    "",
    "year = 2024",
    "year > 1 AND region = 'eu'",
    "year IN (1, 2, 2024)",
    "region LIKE 'e%'",
    "year BETWEEN 1 AND 3 OR NOT region = 'us'",
    "year = = 1",
    "(year = 1",
    "region = 'unterminated",
    "nokey = 1",
]
VALUE_POOL = ["2024", "+7", "007", "-1", "99999999999999999999", "eu", "us", ""]

junk_text = st.text(max_size=8)
values_st = st.lists(st.sampled_from(VALUE_POOL) | junk_text, min_size=0, max_size=3)
expressions = st.sampled_from(EXPRESSIONS) | st.text(
    alphabet=st.sampled_from(list("year=<>!()'`,. ANDORINLIKE%0123456789\u00e9\u2603")),
    max_size=30,
)
tokens = st.sampled_from(["", "x.y", "%%%", "eyJzIjoiIiwicCI6MX0.AAAA"]) | st.text(max_size=30)


@dataclass
class TableModel:
    key_types: tuple[str, ...]
    partitions: set[tuple[Any, ...]] = field(default_factory=set)

    def canonical(self, values: Sequence[str]) -> tuple[Any, ...]:
        """A partition's identity: its values as given, so '007' and '7' are two, as in Glue."""
        if len(values) != len(self.key_types):
            raise ValueError(f"{len(values)} values for {len(self.key_types)} keys")
        return tuple(values)


@dataclass
class Model:
    """What the catalog must hold, from the calls the server said succeeded."""

    databases: dict[str, dict[str, TableModel]] = field(default_factory=dict)


class Fuzzer:
    def __init__(self, stub: Stub, catalog_id: str, data: st.DataObject) -> None:
        self.stub = stub
        self.catalog_id = catalog_id
        self.data = data
        self.model = Model()

    # Calls

    def call(self, method: Callable[..., Any], request: Any) -> Any | None:
        """The response, or None when the call failed with an acceptable status."""
        kind = type(request).__name__.removesuffix("Request")
        try:
            reply = method(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            event(f"{kind}: {code.name}")
            assert code not in BROKEN, f"{request!r} -> {code}: {error.details()}"  # type: ignore[attr-defined]
            return None
        event(f"{kind}: OK")
        return reply

    # Drawing names

    def pick(self, known: Sequence[str], pool: Sequence[str]) -> str:
        """Mostly a name that exists, sometimes a pool name, now and then junk."""
        roll = self.data.draw(st.integers(0, 9))
        if known and roll < 6:
            return self.data.draw(st.sampled_from(sorted(known)))
        if roll < 9:
            return self.data.draw(st.sampled_from(pool))
        return self.data.draw(junk_text)

    def db_name(self) -> str:
        return self.pick(list(self.model.databases), NAME_POOL)

    def table_of(self) -> tuple[str, str]:
        """Mostly a table that exists; otherwise any database and name."""
        existing = sorted((db, t) for db, tables in self.model.databases.items() for t in tables)
        if existing and self.data.draw(st.integers(0, 9)) < 6:
            return self.data.draw(st.sampled_from(existing))
        db = self.db_name()
        return db, self.pick(list(self.model.databases.get(db.lower(), {})), NAME_POOL)

    def values(self, db: str, table: str) -> list[str]:
        model = self.table_model(db, table)
        roll = self.data.draw(st.integers(0, 9))
        if model is None or not model.key_types or roll >= 8:
            return self.data.draw(values_st)
        if model.partitions and roll < 4:
            existing = self.data.draw(st.sampled_from(sorted(model.partitions, key=repr)))
            return [str(v) for v in existing]
        return [
            self.data.draw(
                st.integers(-5, 2030).map(str) if kind == "int" else st.sampled_from(["eu", "us"])
            )
            for kind in model.key_types
        ]

    def scope(self, db: str, table: str) -> dict[str, str]:
        return {"catalog_id": self.catalog_id, "database_name": db, "table_name": table}

    def table_model(self, db: str, table: str) -> TableModel | None:
        return self.model.databases.get(db.lower(), {}).get(table.lower())

    # Steps

    def seed(self) -> None:
        """A database with a partitioned table, so partition calls have a target from step one."""
        self.stub.CreateDatabase(
            api.CreateDatabaseRequest(
                catalog_id=self.catalog_id, database_input=pb.DatabaseInput(name="sales")
            ),
            timeout=CALL_TIMEOUT_S,
        )
        keys = KEY_SETS[2]
        self.stub.CreateTable(
            api.CreateTableRequest(
                catalog_id=self.catalog_id,
                database_name="sales",
                table_input=pb.TableInput(
                    name="t1", partition_keys=[pb.Column(name=k, type=t) for k, t in keys]
                ),
            ),
            timeout=CALL_TIMEOUT_S,
        )
        self.model.databases["sales"] = {"t1": TableModel(tuple(t.lower() for _, t in keys))}

    def create_database(self) -> None:
        name = self.db_name()
        request = api.CreateDatabaseRequest(
            catalog_id=self.catalog_id, database_input=pb.DatabaseInput(name=name)
        )
        if self.call(self.stub.CreateDatabase, request) is not None:
            assert name.lower() not in self.model.databases
            self.model.databases[name.lower()] = {}

    def delete_database(self) -> None:
        name = self.db_name()
        request = api.DeleteDatabaseRequest(catalog_id=self.catalog_id, name=name)
        if self.call(self.stub.DeleteDatabase, request) is not None:
            del self.model.databases[name.lower()]

    def create_table(self) -> None:
        db, name = self.table_of()
        keys = self.data.draw(st.sampled_from(KEY_SETS[:3]) | st.sampled_from(KEY_SETS))
        table_input = pb.TableInput(
            name=name, partition_keys=[pb.Column(name=k, type=t) for k, t in keys]
        )
        request = api.CreateTableRequest(
            catalog_id=self.catalog_id, database_name=db, table_input=table_input
        )
        if self.call(self.stub.CreateTable, request) is not None:
            tables = self.model.databases[db.lower()]
            assert name.lower() not in tables
            tables[name.lower()] = TableModel(tuple(t.lower() for _, t in keys))

    def update_table(self) -> None:
        db, name = self.table_of()
        model = self.table_model(db, name)
        kinds = model.key_types if model else ()
        keys = [("year", "int"), ("region", "string")][: len(kinds)]
        request = api.UpdateTableRequest(
            catalog_id=self.catalog_id,
            database_name=db,
            version_id=self.data.draw(st.sampled_from(["", "1", "2", "0", "x"]) | junk_text),
            table_input=pb.TableInput(
                name=name,
                description=self.data.draw(junk_text),
                partition_keys=[pb.Column(name=k, type=t) for k, t in keys],
            ),
        )
        self.call(self.stub.UpdateTable, request)

    def delete_table(self) -> None:
        db, name = self.table_of()
        request = api.DeleteTableRequest(catalog_id=self.catalog_id, database_name=db, name=name)
        if self.call(self.stub.DeleteTable, request) is not None:
            del self.model.databases[db.lower()][name.lower()]

    def batch_delete_table(self) -> None:
        db = self.db_name()
        names = [self.table_of()[1] for _ in range(self.data.draw(st.integers(0, 4)))]
        request = api.BatchDeleteTableRequest(
            catalog_id=self.catalog_id, database_name=db, tables_to_delete=names
        )
        reply = self.call(self.stub.BatchDeleteTable, request)
        if reply is None:
            return
        refused = {e.table_name for e in reply.errors if e.error_detail.error_code != NOT_FOUND}
        tables = self.model.databases[db.lower()]
        for name in names:
            if name not in refused:
                tables.pop(name.lower(), None)

    def create_partitions(self) -> None:
        db, table = self.table_of()
        count = self.data.draw(st.integers(0, 4))
        inputs = [pb.PartitionInput(values=self.values(db, table)) for _ in range(count)]
        single = self.data.draw(st.booleans())
        if single:
            request: Any = api.CreatePartitionRequest(
                **self.scope(db, table),
                partition_input=inputs[0] if inputs else pb.PartitionInput(),
            )
            if self.call(self.stub.CreatePartition, request) is not None:
                model = self.table_model(db, table)
                assert model is not None
                key = model.canonical(request.partition_input.values)
                assert key not in model.partitions
                model.partitions.add(key)
            return
        request = api.BatchCreatePartitionRequest(
            **self.scope(db, table), partition_input_list=inputs
        )
        reply = self.call(self.stub.BatchCreatePartition, request)
        if reply is None:
            return
        asked = Counter(tuple(p.values) for p in inputs)
        failed = Counter(tuple(e.partition_values) for e in reply.errors)
        model = self.table_model(db, table)
        for values, times in asked.items():
            if times > failed[values]:
                assert model is not None
                model.partitions.add(model.canonical(values))

    def delete_partitions(self) -> None:
        db, table = self.table_of()
        lists = [self.values(db, table) for _ in range(self.data.draw(st.integers(0, 4)))]
        if self.data.draw(st.booleans()):
            request: Any = api.DeletePartitionRequest(
                **self.scope(db, table), partition_values=lists[0] if lists else []
            )
            if self.call(self.stub.DeletePartition, request) is not None:
                model = self.table_model(db, table)
                assert model is not None
                model.partitions.remove(model.canonical(request.partition_values))
            return
        request = api.BatchDeletePartitionRequest(
            **self.scope(db, table),
            partitions_to_delete=[pb.PartitionValueList(values=v) for v in lists],
        )
        reply = self.call(self.stub.BatchDeletePartition, request)
        if reply is None:
            return
        refused = {
            tuple(e.partition_values)
            for e in reply.errors
            if e.error_detail.error_code != NOT_FOUND
        }
        model = self.table_model(db, table)
        for values in lists:
            if tuple(values) not in refused:
                assert model is not None
                model.partitions.discard(model.canonical(values))

    def update_partition(self) -> None:
        db, table = self.table_of()
        old, new = self.values(db, table), self.values(db, table)
        request = api.UpdatePartitionRequest(
            **self.scope(db, table),
            partition_value_list=old,
            partition_input=pb.PartitionInput(values=new, parameters={"k": "v"}),
        )
        if self.call(self.stub.UpdatePartition, request) is not None:
            model = self.table_model(db, table)
            assert model is not None
            model.partitions.remove(model.canonical(old))
            model.partitions.add(model.canonical(new))

    def batch_update_partition(self) -> None:
        # Values stay as they are, so the batch changes parameters only, never membership.
        db, table = self.table_of()
        entries = []
        for _ in range(self.data.draw(st.integers(0, 3))):
            values = self.values(db, table)
            entries.append(
                pb.BatchUpdatePartitionRequestEntry(
                    partition_value_list=values,
                    partition_input=pb.PartitionInput(values=values, parameters={"n": "1"}),
                )
            )
        request = api.BatchUpdatePartitionRequest(**self.scope(db, table), entries=entries)
        self.call(self.stub.BatchUpdatePartition, request)

    def read_partitions(self) -> None:
        db, table = self.table_of()
        values = self.values(db, table)
        scope = self.scope(db, table)
        self.call(self.stub.GetPartition, api.GetPartitionRequest(**scope, partition_values=values))
        self.call(
            self.stub.BatchGetPartition,
            api.BatchGetPartitionRequest(
                **scope, partitions_to_get=[pb.PartitionValueList(values=values)]
            ),
        )
        self.call(
            self.stub.GetPartitions,
            api.GetPartitionsRequest(
                **scope,
                expression=self.data.draw(expressions),
                next_token=self.data.draw(tokens),
                max_results=self.data.draw(st.integers(-1, 1001)),
            ),
        )

    def list_with_junk(self) -> None:
        db = self.db_name()
        token = self.data.draw(tokens)
        self.call(
            self.stub.GetDatabases,
            api.GetDatabasesRequest(
                catalog_id=self.catalog_id,
                next_token=token,
                segment=pb.Segment(
                    segment_number=self.data.draw(st.integers(-1, 3)),
                    total_segments=self.data.draw(st.integers(-1, 11)),
                ),
            ),
        )
        self.call(
            self.stub.GetTables,
            api.GetTablesRequest(
                catalog_id=self.catalog_id,
                database_name=db,
                expression=self.data.draw(expressions),
                next_token=token,
            ),
        )
        self.call(
            self.stub.SearchTables,
            api.SearchTablesRequest(
                catalog_id=self.catalog_id,
                search_text=self.data.draw(junk_text),
                filters=[
                    pb.PropertyPredicate(
                        key=self.data.draw(st.sampled_from(["name", "owner", "p"]) | junk_text),
                        value=self.data.draw(junk_text),
                        comparator=self.data.draw(st.integers(0, 6)),  # type: ignore[arg-type]
                    )
                ],
                sort_criteria=[
                    pb.SortCriterion(
                        field_name=self.data.draw(
                            st.sampled_from(["name", "update_time"]) | junk_text
                        ),
                        sort=self.data.draw(st.integers(0, 3)),  # type: ignore[arg-type]
                    )
                ],
                next_token=token,
            ),
        )

    def other_resources(self) -> None:
        name, db = self.data.draw(junk_text | st.sampled_from(NAME_POOL)), self.db_name()
        self.call(
            self.stub.CreateConnection,
            api.CreateConnectionRequest(
                catalog_id=self.catalog_id,
                connection_input=pb.ConnectionInput(
                    name=name,
                    connection_type=self.data.draw(
                        st.sampled_from(["JDBC", "KAFKA", ""]) | junk_text
                    ),
                    connection_properties={self.data.draw(junk_text): self.data.draw(junk_text)},
                    match_criteria=self.data.draw(st.lists(junk_text, max_size=2)),
                ),
            ),
        )
        self.call(
            self.stub.GetConnections,
            api.GetConnectionsRequest(
                catalog_id=self.catalog_id,
                hide_password=True,
                filter=pb.GetConnectionsFilter(connection_type=self.data.draw(junk_text)),
            ),
        )
        self.call(
            self.stub.CreateUserDefinedFunction,
            api.CreateUserDefinedFunctionRequest(
                catalog_id=self.catalog_id,
                database_name=db,
                function_input=pb.UserDefinedFunctionInput(
                    function_name=name,
                    class_name=self.data.draw(junk_text),
                    owner_type=self.data.draw(st.integers(0, 5)),  # type: ignore[arg-type]
                    resource_uris=[
                        pb.ResourceUri(
                            resource_type=self.data.draw(st.integers(0, 5)),  # type: ignore[arg-type]
                            uri=self.data.draw(junk_text),
                        )
                    ],
                ),
            ),
        )
        self.call(
            self.stub.GetUserDefinedFunctions,
            api.GetUserDefinedFunctionsRequest(
                catalog_id=self.catalog_id, pattern=self.data.draw(expressions)
            ),
        )

    # The invariant

    def check_consistent(self) -> None:
        page_size = self.data.draw(st.integers(1, 3))
        databases = self._all(
            lambda token: self.stub.GetDatabases(
                api.GetDatabasesRequest(
                    catalog_id=self.catalog_id, max_results=page_size, next_token=token
                ),
                timeout=CALL_TIMEOUT_S,
            ),
            lambda reply: [d.name for d in reply.database_list],
        )
        assert databases == sorted(self.model.databases)
        for db, tables in self.model.databases.items():
            names = self._all(
                lambda token, db=db: self.stub.GetTables(
                    api.GetTablesRequest(
                        catalog_id=self.catalog_id,
                        database_name=db,
                        max_results=page_size,
                        next_token=token,
                    ),
                    timeout=CALL_TIMEOUT_S,
                ),
                lambda reply: [t.name for t in reply.table_list],
            )
            assert names == sorted(tables)
            for name, table in tables.items():
                if not table.key_types:
                    continue
                values = self._all(
                    lambda token, db=db, name=name: self.stub.GetPartitions(
                        api.GetPartitionsRequest(
                            **self.scope(db, name), max_results=page_size, next_token=token
                        ),
                        timeout=CALL_TIMEOUT_S,
                    ),
                    lambda reply: [tuple(p.values) for p in reply.partitions],
                )
                assert len(values) == len(table.partitions)
                assert {table.canonical(v) for v in values} == table.partitions

    @staticmethod
    def _all(fetch: Callable[[str], Any], items: Callable[[Any], list[Any]]) -> list[Any]:
        out: list[Any] = []
        token = ""
        while True:
            reply = fetch(token)
            out.extend(items(reply))
            token = reply.next_token
            if not token:
                return out


# Weighted towards partitions, where the most state is; deletes are rarer so state builds up.
STEPS = [
    Fuzzer.create_database,
    Fuzzer.delete_database,
    Fuzzer.create_table,
    Fuzzer.create_table,
    Fuzzer.update_table,
    Fuzzer.delete_table,
    Fuzzer.batch_delete_table,
    *[Fuzzer.create_partitions] * 4,
    *[Fuzzer.delete_partitions] * 2,
    *[Fuzzer.update_partition] * 2,
    Fuzzer.batch_update_partition,
    *[Fuzzer.read_partitions] * 2,
    Fuzzer.list_with_junk,
    Fuzzer.other_resources,
]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_requests_keep_the_catalog_consistent(
    catalog_stub: Stub, data: st.DataObject
) -> None:
    fuzzer = Fuzzer(catalog_stub, f"fuzz-{uuid4().hex[:16]}", data)
    fuzzer.seed()
    for _ in range(STEPS_PER_EXAMPLE):
        step = data.draw(st.sampled_from(STEPS), label="step")
        step(fuzzer)
        fuzzer.check_consistent()
