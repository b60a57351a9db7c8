"""Hive metastore Thrift objects <-> Sluice catalog messages, and the door's error mapping."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hmsclient.genthrift.hive_metastore import ttypes

from sluice.catalog.v1 import types_pb2
from sluice.sdk import errors
from sluice.sdk.metastore import convert
from sluice.sdk.metastore.handler import ErrorTranslator, MetastoreHandler, _matching

pytestmark = pytest.mark.unit

PARQUET_IN = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def _hive_table() -> ttypes.Table:
    return ttypes.Table(
        tableName="Orders",
        dbName="sales",
        owner="spark",
        createTime=1700000000,
        lastAccessTime=0,
        retention=0,
        sd=ttypes.StorageDescriptor(
            cols=[ttypes.FieldSchema(name="id", type="bigint", comment="the id")],
            location="file:/w/sales.db/orders",
            inputFormat=PARQUET_IN,
            outputFormat="out",
            compressed=False,
            numBuckets=-1,
            serdeInfo=ttypes.SerDeInfo(
                serializationLib=PARQUET_SERDE, parameters={"serialization.format": "1"}
            ),
            bucketCols=[],
            sortCols=[ttypes.Order(col="id", order=1)],
            parameters={"k": "v"},
        ),
        partitionKeys=[ttypes.FieldSchema(name="year", type="int")],
        parameters={"comment": "all orders", "spark.sql.sources.provider": "parquet"},
        tableType="MANAGED_TABLE",
    )


def test_table_round_trip() -> None:
    table_input = convert.table_to_proto(_hive_table())
    assert table_input.name == "orders"
    assert table_input.description == "all orders"
    assert table_input.storage_descriptor.serde_info.serialization_library == PARQUET_SERDE
    assert table_input.storage_descriptor.number_of_buckets == -1
    assert [k.name for k in table_input.partition_keys] == ["year"]
    stored = types_pb2.Table(
        name=table_input.name,
        database_name="sales",
        description=table_input.description,
        owner=table_input.owner,
        create_time=Timestamp(seconds=1700000001),
        storage_descriptor=table_input.storage_descriptor,
        partition_keys=table_input.partition_keys,
        table_type=table_input.table_type,
        parameters=table_input.parameters,
    )
    back = convert.table_to_thrift(stored)
    original = _hive_table()
    assert back.tableName == "orders" and back.dbName == "sales"
    assert back.createTime == 1700000001
    assert back.sd.cols == original.sd.cols
    assert back.sd.serdeInfo.serializationLib == PARQUET_SERDE
    assert back.sd.sortCols == original.sd.sortCols
    assert back.sd.numBuckets == -1
    assert back.partitionKeys == original.partitionKeys
    assert back.parameters == original.parameters
    assert back.tableType == "MANAGED_TABLE"


def test_glue_table_without_type_is_external_and_description_is_comment() -> None:
    back = convert.table_to_thrift(types_pb2.Table(name="t", database_name="d", description="x"))
    assert back.tableType == "EXTERNAL_TABLE"
    assert back.parameters == {"comment": "x"}
    assert back.sd.numBuckets == -1


def test_partition_and_database_round_trip() -> None:
    hive = ttypes.Partition(
        values=["2024", "eu"],
        dbName="sales",
        tableName="orders",
        sd=ttypes.StorageDescriptor(location="file:/w/year=2024/region=eu", cols=[]),
        parameters={"numFiles": "2"},
    )
    partition_input = convert.partition_to_proto(hive)
    assert list(partition_input.values) == ["2024", "eu"]
    stored = types_pb2.Partition(
        values=partition_input.values,
        database_name="sales",
        table_name="orders",
        storage_descriptor=partition_input.storage_descriptor,
        parameters=partition_input.parameters,
    )
    back = convert.partition_to_thrift(stored)
    assert back.values == ["2024", "eu"] and back.sd.location == hive.sd.location
    assert back.parameters == {"numFiles": "2"}

    db = convert.database_to_proto(ttypes.Database(name="Sales", locationUri="file:/w/s.db"))
    assert (db.name, db.location_uri) == ("sales", "file:/w/s.db")
    shown = convert.database_to_thrift(types_pb2.Database(name="sales"), "file:/w/sales.db")
    assert shown.locationUri == "file:/w/sales.db"


def test_partition_names_escape_as_hive_does() -> None:
    name = convert.partition_name(["day", "path"], ["2024-01-01", "a/b=c"])
    assert name == "day=2024-01-01/path=a%2Fb%3Dc"
    assert convert.values_from_name(["day", "path"], name) == ["2024-01-01", "a/b=c"]
    assert convert.values_from_spec(["Year"], {"year": "2024"}) == ["2024"]
    with pytest.raises(ValueError):
        convert.values_from_spec(["year", "month"], {"year": "2024"})


def test_hive_patterns() -> None:
    names = ["orders", "orders_2024", "customers"]
    assert _matching(names, "*") == sorted(names)
    assert _matching(names, "orders*") == ["orders", "orders_2024"]
    assert _matching(names, "cust*|orders") == ["customers", "orders"]
    assert _matching(names, "ORDERS") == ["orders"]


class _RaisingCatalog:
    def __init__(self, error: Exception) -> None:
        self._error = error

    def __getattr__(self, _name: str) -> object:
        def fail(*_args: object, **_kwargs: object) -> object:
            raise self._error

        return fail


class _Clients:
    def __init__(self, error: Exception) -> None:
        self.catalog = _RaisingCatalog(error)

    def client(self) -> _Clients:
        return self


def _door(error: Exception) -> ErrorTranslator:
    return ErrorTranslator(MetastoreHandler(_Clients(error), "file:/w"))  # type: ignore[arg-type]


def test_errors_become_the_exceptions_each_method_declares() -> None:
    not_found = errors.EntityNotFound("Table x not found")
    with pytest.raises(ttypes.NoSuchObjectException, match="Table x not found"):
        _door(not_found).get_table("d", "x")
    # alter_table declares InvalidOperationException, not NoSuchObjectException.
    with pytest.raises(ttypes.InvalidOperationException):
        _door(not_found).alter_table("d", "x", _hive_table().__class__(tableName="x", dbName="d"))
    with pytest.raises(ttypes.AlreadyExistsException):
        _door(errors.AlreadyExists("exists")).create_database(ttypes.Database(name="d"))
    denied = errors.AccessDenied("not allowed")
    with pytest.raises(ttypes.MetaException, match="not allowed"):
        _door(denied).get_all_databases()
    # Hive's client lists functions when it connects; a denial there must not break it.
    assert _door(denied).get_all_functions().functions == []


def test_unknown_methods_say_so() -> None:
    with pytest.raises(ttypes.MetaException, match="not supported by the Sluice metastore door"):
        _door(errors.InternalServiceError("x")).grant_role("r", "p", 1, "g", 1, True)


def test_default_database_exists_without_being_created() -> None:
    door = _door(errors.EntityNotFound("Database default not found"))
    assert door.get_database("default").locationUri == "file:/w"
    with pytest.raises(ttypes.NoSuchObjectException):
        door.get_database("sales")
    assert door.get_all_tables("default") == []


def test_between_runs_the_in_run_door_lets_hive_connect_but_reads_nothing() -> None:
    from sluice.sdk.metastore.scoped import RunScopedClients

    door = ErrorTranslator(MetastoreHandler(RunScopedClients(), "file:/w"))
    # What Hive's client asks when the environment's Spark connects, before any run.
    assert door.set_ugi("spark", ["spark"]) == ["spark"]
    assert door.get_all_functions().functions == []
    assert door.get_database("default").name == "default"
    with pytest.raises(ttypes.MetaException, match="no job run is executing"):
        door.get_table("sales", "orders")


class _TableCatalog:
    """get_table answers a table of the given type at `location`; delete_table does nothing."""

    def __init__(self, table_type: str, location: str) -> None:
        self.table = types_pb2.Table(
            name="t",
            database_name="d",
            table_type=table_type,
            storage_descriptor=types_pb2.StorageDescriptor(location=location),
        )

    def get_table(self, *_args: object) -> types_pb2.Table:
        return self.table

    def delete_table(self, *_args: object) -> None:
        return None


class _TableClients:
    def __init__(self, catalog: _TableCatalog) -> None:
        self.catalog = catalog

    def client(self) -> _TableClients:
        return self


@pytest.mark.parametrize(
    ("table_type", "inside", "deleted"),
    [
        ("MANAGED_TABLE", True, True),
        ("EXTERNAL_TABLE", True, False),
        ("MANAGED_TABLE", False, False),
    ],
)
def test_dropping_a_managed_table_deletes_its_files_only_under_the_data_root(
    tmp_path, table_type: str, inside: bool, deleted: bool
) -> None:
    root = tmp_path / "warehouse"
    folder = (root if inside else tmp_path / "elsewhere") / "d.db" / "t"
    folder.mkdir(parents=True)
    (folder / "part-0").write_text("x")
    catalog = _TableCatalog(table_type, f"file:{folder}")
    handler = MetastoreHandler(_TableClients(catalog), "file:/w", data_root=root)  # type: ignore[arg-type]
    handler.drop_table("d", "t", True)
    assert folder.exists() is not deleted
