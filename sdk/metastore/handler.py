"""The Hive metastore calls Spark, Hive and Trino make, answered through the Sluice catalog API.

`MetastoreHandler` implements ThriftHiveMetastore's Iface methods that a metastore client uses
for databases, tables, partitions and functions; each is one or a few SDK calls, so the server
authorises, isolates and audits them as calls of the token's principal. `ErrorTranslator` wraps
it for the Thrift processor: a Sluice error becomes the Thrift exception the method declares
(NoSuchObjectException for EntityNotFound, ...), and a method the door does not serve raises
MetaException saying so.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import re
import shutil
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from hmsclient.genthrift.hive_metastore import ThriftHiveMetastore, ttypes

from sluice.catalog.v1 import types_pb2
from sluice.sdk import errors
from sluice.sdk.client import Client
from sluice.sdk.metastore import convert
from sluice.sdk.metastore.filters import FilterSyntaxError, to_glue_expression

logger = logging.getLogger(__name__)

DEFAULT_DATABASE = "default"
_INTEGRAL_TYPES = {"tinyint", "smallint", "int", "integer", "bigint"}


class ClientSource(Protocol):
    """Where the door gets the SDK client whose principal its calls act as."""

    def client(self) -> Client:
        """The client for the call being answered.

        Raises:
            errors.Unauthenticated: there are no credentials to act with now.
        """
        ...


class FixedClient:
    """One client for every call: `sluice metastore`, acting as the token it was given."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def client(self) -> Client:
        return self._client


class MetastoreHandler:
    """ThriftHiveMetastore.Iface on the Sluice catalog (databases, tables, partitions, functions).

    Args:
        clients: gives the SDK client to call with.
        warehouse: where databases without a location live (a URI, e.g. file:/data/warehouse);
            Hive clients need every database to have one.
        on_filter: called with (Hive filter, Glue expression) of each partition filter served.
        data_root: dropping a managed table (or one of its partitions) deletes its files, as
            Hive's metastore does, only when they are local and under this folder; never when
            None.
    """

    def __init__(
        self,
        clients: ClientSource,
        warehouse: str,
        on_filter: Callable[[str, str], None] | None = None,
        data_root: Path | None = None,
    ) -> None:
        self._clients = clients
        self._warehouse = warehouse.rstrip("/")
        self._on_filter = on_filter
        self._data_root = data_root.resolve() if data_root is not None else None
        self._lock = threading.Lock()

    @property
    def _catalog(self) -> Any:
        return self._clients.client().catalog

    # Session and server

    def set_ugi(self, user_name: str, group_names: list[str]) -> list[str]:
        return list(group_names or ())

    def get_delegation_token(self, token_owner: str, renewer: str) -> str:
        return ""

    def getMetaConf(self, key: str) -> str:
        return ""

    def setMetaConf(self, key: str, value: str) -> None:
        return None

    def get_config_value(self, name: str, defaultValue: str) -> str:
        return defaultValue

    def get_current_notificationEventId(self) -> ttypes.CurrentNotificationEventId:
        return ttypes.CurrentNotificationEventId(eventId=0)

    def flushCache(self) -> None:
        return None

    def shutdown(self) -> None:
        """fb303's oneway goodbye of a closing Hive client: the door serves on."""
        return None

    def getName(self) -> str:
        return "Sluice Hive metastore door"

    def getVersion(self) -> str:
        return "2.3.9"

    def partition_name_to_vals(self, part_name: str) -> list[str]:
        return [value for _, value in _split_name(part_name)]

    def partition_name_to_spec(self, part_name: str) -> dict[str, str]:
        return dict(_split_name(part_name))

    # Databases

    def get_database(self, name: str) -> ttypes.Database:
        return convert.database_to_thrift(self._database(name), self._default_location(name))

    def get_all_databases(self) -> list[str]:
        names = {db.name for db in self._catalog.get_databases()}
        return sorted(names | {DEFAULT_DATABASE})

    def get_databases(self, pattern: str) -> list[str]:
        return _matching(self.get_all_databases(), pattern)

    def create_database(self, database: ttypes.Database) -> None:
        self._catalog.create_database(convert.database_to_proto(database))

    def alter_database(self, dbname: str, db: ttypes.Database) -> None:
        self._catalog.update_database(dbname.lower(), convert.database_to_proto(db))

    def drop_database(self, name: str, deleteData: bool, cascade: bool) -> None:
        if not cascade and next(iter(self._catalog.get_tables(name.lower())), None) is not None:
            raise ttypes.InvalidOperationException(
                message=f"Database {name} is not empty. One or more tables exist."
            )
        self._catalog.delete_database(name.lower())

    # Tables

    def get_table(self, dbname: str, tbl_name: str) -> ttypes.Table:
        return convert.table_to_thrift(self._catalog.get_table(dbname.lower(), tbl_name.lower()))

    def get_table_req(self, req: ttypes.GetTableRequest) -> ttypes.GetTableResult:
        return ttypes.GetTableResult(table=self.get_table(req.dbName, req.tblName))

    def get_table_objects_by_name(self, dbname: str, tbl_names: list[str]) -> list[ttypes.Table]:
        wanted = {name.lower() for name in tbl_names or ()}
        return [
            convert.table_to_thrift(table) for table in self._tables(dbname) if table.name in wanted
        ]

    def get_table_objects_by_name_req(self, req: ttypes.GetTablesRequest) -> ttypes.GetTablesResult:
        return ttypes.GetTablesResult(
            tables=self.get_table_objects_by_name(req.dbName, req.tblNames)
        )

    def get_all_tables(self, db_name: str) -> list[str]:
        return [table.name for table in self._tables(db_name)]

    def get_tables(self, db_name: str, pattern: str) -> list[str]:
        return _matching(self.get_all_tables(db_name), pattern)

    def get_tables_by_type(self, db_name: str, pattern: str, tableType: str) -> list[str]:
        names = [t.name for t in self._tables(db_name) if (t.table_type or "") == tableType]
        return _matching(names, pattern)

    def get_table_meta(
        self, db_patterns: str, tbl_patterns: str, tbl_types: list[str]
    ) -> list[ttypes.TableMeta]:
        metas: list[ttypes.TableMeta] = []
        for db_name in self.get_databases(db_patterns or "*"):
            for table in self._tables(db_name):
                if tbl_types and table.table_type not in tbl_types:
                    continue
                if not _matching([table.name], tbl_patterns or "*"):
                    continue
                metas.append(
                    ttypes.TableMeta(
                        dbName=db_name,
                        tableName=table.name,
                        tableType=table.table_type,
                        comments=table.description or None,
                    )
                )
        return metas

    def get_fields(self, db_name: str, table_name: str) -> list[ttypes.FieldSchema]:
        return self.get_table(db_name, table_name).sd.cols

    def get_fields_with_environment_context(
        self, db_name: str, table_name: str, environment_context: Any
    ) -> list[ttypes.FieldSchema]:
        return self.get_fields(db_name, table_name)

    def get_schema(self, db_name: str, table_name: str) -> list[ttypes.FieldSchema]:
        table = self.get_table(db_name, table_name)
        return list(table.sd.cols) + list(table.partitionKeys)

    def get_schema_with_environment_context(
        self, db_name: str, table_name: str, environment_context: Any
    ) -> list[ttypes.FieldSchema]:
        return self.get_schema(db_name, table_name)

    def create_table(self, tbl: ttypes.Table) -> None:
        db_name = (tbl.dbName or "").lower()
        table_input = convert.table_to_proto(tbl)
        if not table_input.storage_descriptor.location and table_input.table_type != "VIRTUAL_VIEW":
            database = self._database(db_name)
            base = database.location_uri or self._default_location(db_name)
            table_input.storage_descriptor.location = f"{base.rstrip('/')}/{table_input.name}"
        try:
            self._catalog.create_table(db_name, table_input)
        except errors.EntityNotFound:
            # Hive clients take the default database for granted; it is made on first use.
            if db_name != DEFAULT_DATABASE:
                raise
            self._create_default_database()
            self._catalog.create_table(db_name, table_input)

    def create_table_with_environment_context(
        self, tbl: ttypes.Table, environment_context: Any
    ) -> None:
        self.create_table(tbl)

    def drop_table(self, dbname: str, name: str, deleteData: bool) -> None:
        table = self._table(dbname, name)
        self._catalog.delete_table(dbname.lower(), name.lower())
        if deleteData and table.table_type == "MANAGED_TABLE":
            self._delete_data(table.storage_descriptor.location)

    def drop_table_with_environment_context(
        self, dbname: str, name: str, deleteData: bool, environment_context: Any
    ) -> None:
        self.drop_table(dbname, name, deleteData)

    def alter_table(self, dbname: str, tbl_name: str, new_tbl: ttypes.Table) -> None:
        table_input = convert.table_to_proto(new_tbl)
        if table_input.name != tbl_name.lower() or (
            new_tbl.dbName and new_tbl.dbName.lower() != dbname.lower()
        ):
            raise ttypes.InvalidOperationException(
                message="renaming a table is not supported by the Sluice catalog"
            )
        self._catalog.update_table(dbname.lower(), table_input)

    def alter_table_with_environment_context(
        self, dbname: str, tbl_name: str, new_tbl: ttypes.Table, environment_context: Any
    ) -> None:
        self.alter_table(dbname, tbl_name, new_tbl)

    def alter_table_with_cascade(
        self, dbname: str, tbl_name: str, new_tbl: ttypes.Table, cascade: bool
    ) -> None:
        self.alter_table(dbname, tbl_name, new_tbl)

    # Partitions: reading

    def get_partition(self, db_name: str, tbl_name: str, part_vals: list[str]) -> ttypes.Partition:
        table = self._table(db_name, tbl_name)
        partition = self._catalog.get_partition(table.database_name, table.name, list(part_vals))
        return self._partition_to_thrift(table, partition)

    def get_partition_with_auth(
        self, db_name: str, tbl_name: str, part_vals: list[str], user_name: str, group_names: Any
    ) -> ttypes.Partition:
        return self.get_partition(db_name, tbl_name, part_vals)

    def get_partition_by_name(
        self, db_name: str, tbl_name: str, part_name: str
    ) -> ttypes.Partition:
        table = self._table(db_name, tbl_name)
        values = convert.values_from_name(_key_names(table), part_name)
        partition = self._catalog.get_partition(table.database_name, table.name, values)
        return self._partition_to_thrift(table, partition)

    def get_partitions(self, db_name: str, tbl_name: str, max_parts: int) -> list[ttypes.Partition]:
        return self._partitions(db_name, tbl_name, "", max_parts)

    def get_partitions_with_auth(
        self, db_name: str, tbl_name: str, max_parts: int, user_name: str, group_names: Any
    ) -> list[ttypes.Partition]:
        return self.get_partitions(db_name, tbl_name, max_parts)

    def get_partitions_ps(
        self, db_name: str, tbl_name: str, part_vals: list[str], max_parts: int
    ) -> list[ttypes.Partition]:
        table = self._table(db_name, tbl_name)
        expression = _prefix_expression(table, part_vals)
        return self._partitions(db_name, tbl_name, expression, max_parts, table)

    def get_partitions_ps_with_auth(
        self,
        db_name: str,
        tbl_name: str,
        part_vals: list[str],
        max_parts: int,
        user_name: str,
        group_names: Any,
    ) -> list[ttypes.Partition]:
        return self.get_partitions_ps(db_name, tbl_name, part_vals, max_parts)

    def get_partition_names(self, db_name: str, tbl_name: str, max_parts: int) -> list[str]:
        table = self._table(db_name, tbl_name)
        return self._names(table, self._partitions(db_name, tbl_name, "", max_parts, table))

    def get_partition_names_ps(
        self, db_name: str, tbl_name: str, part_vals: list[str], max_parts: int
    ) -> list[str]:
        table = self._table(db_name, tbl_name)
        found = self.get_partitions_ps(db_name, tbl_name, part_vals, max_parts)
        return self._names(table, found)

    def get_partitions_by_filter(
        self, db_name: str, tbl_name: str, filter: str, max_parts: int
    ) -> list[ttypes.Partition]:
        return self._partitions(db_name, tbl_name, self._expression(filter), max_parts)

    def get_num_partitions_by_filter(self, db_name: str, tbl_name: str, filter: str) -> int:
        return len(self._partitions(db_name, tbl_name, self._expression(filter), -1))

    def get_partitions_by_names(
        self, db_name: str, tbl_name: str, names: list[str]
    ) -> list[ttypes.Partition]:
        table = self._table(db_name, tbl_name)
        keys = _key_names(table)
        wanted = [convert.values_from_name(keys, name) for name in names or ()]
        if not wanted:
            return []
        found = self._catalog.batch_get_partition(table.database_name, table.name, wanted)
        return [self._partition_to_thrift(table, p) for p in found.partitions]

    # Partitions: writing

    def add_partition(self, new_part: ttypes.Partition) -> ttypes.Partition:
        self._add(new_part.dbName, new_part.tableName, [new_part], if_not_exists=False)
        return new_part

    def add_partition_with_environment_context(
        self, new_part: ttypes.Partition, environment_context: Any
    ) -> ttypes.Partition:
        return self.add_partition(new_part)

    def add_partitions(self, new_parts: list[ttypes.Partition]) -> int:
        if not new_parts:
            return 0
        first = new_parts[0]
        self._add(first.dbName, first.tableName, new_parts, if_not_exists=False)
        return len(new_parts)

    def add_partitions_req(
        self, request: ttypes.AddPartitionsRequest
    ) -> ttypes.AddPartitionsResult:
        added = self._add(
            request.dbName, request.tblName, request.parts or [], bool(request.ifNotExists)
        )
        return ttypes.AddPartitionsResult(partitions=added if request.needResult else None)

    def append_partition(
        self, db_name: str, tbl_name: str, part_vals: list[str]
    ) -> ttypes.Partition:
        partition = ttypes.Partition(values=list(part_vals), dbName=db_name, tableName=tbl_name)
        self._add(db_name, tbl_name, [partition], if_not_exists=False)
        return self.get_partition(db_name, tbl_name, part_vals)

    def alter_partition(self, db_name: str, tbl_name: str, new_part: ttypes.Partition) -> None:
        self.alter_partitions(db_name, tbl_name, [new_part])

    def alter_partition_with_environment_context(
        self, db_name: str, tbl_name: str, new_part: ttypes.Partition, environment_context: Any
    ) -> None:
        self.alter_partitions(db_name, tbl_name, [new_part])

    def alter_partitions(
        self, db_name: str, tbl_name: str, new_parts: list[ttypes.Partition]
    ) -> None:
        entries = [
            types_pb2.BatchUpdatePartitionRequestEntry(
                partition_value_list=list(part.values or ()),
                partition_input=convert.partition_to_proto(part),
            )
            for part in new_parts or ()
        ]
        if not entries:
            return
        result = self._catalog.batch_update_partition(db_name.lower(), tbl_name.lower(), entries)
        if result.errors:
            error = result.errors[0]
            raise ttypes.InvalidOperationException(
                message=f"{error.error_detail.error_code}: {error.error_detail.error_message}"
            )

    def alter_partitions_with_environment_context(
        self,
        db_name: str,
        tbl_name: str,
        new_parts: list[ttypes.Partition],
        environment_context: Any,
    ) -> None:
        self.alter_partitions(db_name, tbl_name, new_parts)

    def rename_partition(
        self, db_name: str, tbl_name: str, part_vals: list[str], new_part: ttypes.Partition
    ) -> None:
        self._add(db_name, tbl_name, [new_part], if_not_exists=False)
        self._catalog.delete_partition(db_name.lower(), tbl_name.lower(), list(part_vals))

    def drop_partition(
        self, db_name: str, tbl_name: str, part_vals: list[str], deleteData: bool
    ) -> bool:
        table = self._table(db_name, tbl_name)
        partition = self._catalog.get_partition(table.database_name, table.name, list(part_vals))
        self._catalog.delete_partition(table.database_name, table.name, list(part_vals))
        if deleteData and table.table_type == "MANAGED_TABLE":
            self._delete_data(partition.storage_descriptor.location)
        return True

    def drop_partition_with_environment_context(
        self,
        db_name: str,
        tbl_name: str,
        part_vals: list[str],
        deleteData: bool,
        environment_context: Any,
    ) -> bool:
        return self.drop_partition(db_name, tbl_name, part_vals, deleteData)

    def drop_partition_by_name(
        self, db_name: str, tbl_name: str, part_name: str, deleteData: bool
    ) -> bool:
        table = self._table(db_name, tbl_name)
        values = convert.values_from_name(_key_names(table), part_name)
        return self.drop_partition(db_name, tbl_name, values, deleteData)

    def drop_partitions_req(self, req: ttypes.DropPartitionsRequest) -> ttypes.DropPartitionsResult:
        if req.parts is None or req.parts.names is None:
            raise ttypes.MetaException(
                message="dropping partitions by serialized expressions is not supported by the "
                "Sluice metastore door; name the partitions"
            )
        table = self._table(req.dbName, req.tblName)
        keys = _key_names(table)
        values = [convert.values_from_name(keys, name) for name in req.parts.names]
        dropped = self.get_partitions_by_names(req.dbName, req.tblName, list(req.parts.names))
        if len(dropped) < len(values) and not req.ifExists:
            raise ttypes.NoSuchObjectException(message="some partitions to drop do not exist")
        if values:
            result = self._catalog.batch_delete_partition(table.database_name, table.name, values)
            if result.errors and not req.ifExists:
                detail = result.errors[0].error_detail
                raise ttypes.MetaException(message=f"{detail.error_code}: {detail.error_message}")
        return ttypes.DropPartitionsResult(partitions=dropped if req.needResult else None)

    # Functions

    def get_all_functions(self) -> ttypes.GetAllFunctionsResponse:
        # Hive's client lists every function when it connects and fails altogether if it
        # cannot: a principal that may not list functions still gets to its tables.
        try:
            functions = [
                convert.function_to_thrift(f.database_name, f)
                for f in self._catalog.get_user_defined_functions()
            ]
        except (errors.AccessDenied, errors.Unauthenticated):
            functions = []
        return ttypes.GetAllFunctionsResponse(functions=functions)

    def get_functions(self, dbName: str, pattern: str) -> list[str]:
        try:
            names = [
                f.function_name for f in self._catalog.get_user_defined_functions(dbName.lower())
            ]
        except errors.EntityNotFound:
            return []
        return _matching(names, pattern)

    def get_function(self, dbName: str, funcName: str) -> ttypes.Function:
        function = self._catalog.get_user_defined_function(dbName.lower(), funcName.lower())
        return convert.function_to_thrift(dbName.lower(), function)

    def create_function(self, func: ttypes.Function) -> None:
        self._catalog.create_user_defined_function(
            (func.dbName or "").lower(), convert.function_to_proto(func)
        )

    def alter_function(self, dbName: str, funcName: str, newFunc: ttypes.Function) -> None:
        self._catalog.update_user_defined_function(
            dbName.lower(), funcName.lower(), convert.function_to_proto(newFunc)
        )

    def drop_function(self, dbName: str, funcName: str) -> None:
        self._catalog.delete_user_defined_function(dbName.lower(), funcName.lower())

    # Helpers

    def _delete_data(self, location: str) -> None:
        """Delete a dropped managed table's (or partition's) folder, if it is ours to delete."""
        parsed = urllib.parse.urlparse(location)
        if self._data_root is None or parsed.scheme not in ("", "file") or not parsed.path:
            return
        path = Path(urllib.parse.unquote(parsed.path)).resolve()
        if path == self._data_root or not path.is_relative_to(self._data_root):
            logger.info("kept the files of dropped %s: outside %s", location, self._data_root)
            return
        shutil.rmtree(path, ignore_errors=True)

    def _database(self, name: str) -> types_pb2.Database:
        try:
            return self._catalog.get_database(name.lower())
        # Hive's client checks the default database when it connects, which an environment's
        # Spark does before any run (with no credentials to act with).
        except (errors.EntityNotFound, errors.Unauthenticated):
            if name.lower() != DEFAULT_DATABASE:
                raise
            return types_pb2.Database(name=DEFAULT_DATABASE, description="Default Hive database")

    def _create_default_database(self) -> None:
        with contextlib.suppress(errors.AlreadyExists):
            self._catalog.create_database(
                {"name": DEFAULT_DATABASE, "description": "Default Hive database"}
            )

    def _default_location(self, db_name: str) -> str:
        if db_name.lower() == DEFAULT_DATABASE:
            return self._warehouse
        return f"{self._warehouse}/{db_name.lower()}.db"

    def _tables(self, db_name: str) -> list[types_pb2.Table]:
        try:
            return list(self._catalog.get_tables(db_name.lower()))
        except errors.EntityNotFound:
            return []

    def _table(self, db_name: str, tbl_name: str) -> types_pb2.Table:
        return self._catalog.get_table(db_name.lower(), tbl_name.lower())

    def _expression(self, hive_filter: str) -> str:
        try:
            expression = to_glue_expression(hive_filter or "")
        except FilterSyntaxError as exc:
            raise ttypes.MetaException(message=f"cannot read the partition filter: {exc}") from None
        logger.info("partition filter %r served as Glue expression %r", hive_filter, expression)
        if self._on_filter is not None:
            self._on_filter(hive_filter, expression)
        return expression

    def _partitions(
        self,
        db_name: str,
        tbl_name: str,
        expression: str,
        max_parts: int,
        table: types_pb2.Table | None = None,
    ) -> list[ttypes.Partition]:
        table = table or self._table(db_name, tbl_name)
        found: list[ttypes.Partition] = []
        for partition in self._catalog.get_partitions(table.database_name, table.name, expression):
            if 0 <= max_parts <= len(found):
                break
            found.append(self._partition_to_thrift(table, partition))
        return found

    def _names(self, table: types_pb2.Table, partitions: Iterable[ttypes.Partition]) -> list[str]:
        keys = _key_names(table)
        return [convert.partition_name(keys, p.values) for p in partitions]

    def _partition_to_thrift(
        self, table: types_pb2.Table, partition: types_pb2.Partition
    ) -> ttypes.Partition:
        result = convert.partition_to_thrift(partition)
        # Partitions registered through Glue often carry only a location: the table's storage
        # fills in the formats, SerDe and columns, as Hive's clients expect them.
        table_sd = convert.storage_to_thrift(table.storage_descriptor)
        sd = result.sd
        sd.cols = sd.cols or table_sd.cols
        sd.inputFormat = sd.inputFormat or table_sd.inputFormat
        sd.outputFormat = sd.outputFormat or table_sd.outputFormat
        if not sd.serdeInfo.serializationLib:
            sd.serdeInfo = table_sd.serdeInfo
        if not sd.location and table.storage_descriptor.location:
            name = convert.partition_name(_key_names(table), list(partition.values))
            sd.location = f"{table.storage_descriptor.location.rstrip('/')}/{name}"
        return result

    def _add(
        self, db_name: str, tbl_name: str, parts: Sequence[ttypes.Partition], if_not_exists: bool
    ) -> list[ttypes.Partition]:
        table = self._table(db_name, tbl_name)
        keys = _key_names(table)
        base = table.storage_descriptor.location.rstrip("/")
        inputs = []
        for part in parts:
            partition_input = convert.partition_to_proto(part)
            sd = partition_input.storage_descriptor
            if not sd.location and base:
                sd.location = f"{base}/{convert.partition_name(keys, list(part.values or ()))}"
            inputs.append(partition_input)
        result = self._catalog.batch_create_partition(table.database_name, table.name, inputs)
        failed = {tuple(error.partition_values): error for error in result.errors}
        for error in result.errors:
            code = error.error_detail.error_code
            if code == "AlreadyExistsException" and if_not_exists:
                continue
            message = f"{code}: {error.error_detail.error_message}"
            if code == "AlreadyExistsException":
                raise ttypes.AlreadyExistsException(message=message)
            if code == "EntityNotFoundException":
                raise ttypes.InvalidObjectException(message=message)
            raise ttypes.MetaException(message=message)
        return [part for part in parts if tuple(part.values or ()) not in failed]


def _key_names(table: types_pb2.Table) -> list[str]:
    return [key.name for key in table.partition_keys]


def _prefix_expression(table: types_pb2.Table, part_vals: Sequence[str]) -> str:
    """Glue's expression for Hive's partial partition values ('' or absent: any value)."""
    clauses = []
    for key, value in zip(table.partition_keys, part_vals or (), strict=False):
        if not value:
            continue
        if key.type.lower() in _INTEGRAL_TYPES and re.fullmatch(r"-?\d+", value):
            literal = value
        else:
            literal = "'" + value.replace("'", "''") + "'"
        clauses.append(f"`{key.name}` = {literal}")
    return " AND ".join(clauses)


def _split_name(part_name: str) -> list[tuple[str, str]]:
    pairs = []
    for part in part_name.split("/"):
        key, sep, value = part.partition("=")
        if not sep:
            raise ttypes.MetaException(message=f"invalid partition name {part_name!r}")
        pairs.append((convert._unescape(key), convert._unescape(value)))
    return pairs


def _matching(names: Iterable[str], pattern: str) -> list[str]:
    """Names matching a Hive pattern: '*' any characters, '|' between alternatives, any case."""
    if not pattern or pattern.strip() in ("*", ".*"):
        return sorted(names)
    alternatives = [p.strip().lower().replace(".*", "*") for p in pattern.split("|")]
    return sorted(
        name for name in names if any(fnmatch.fnmatchcase(name.lower(), p) for p in alternatives)
    )


# Sluice errors and the Thrift exceptions that may stand for them, best first; a method raises
# the first one it declares, else MetaException, which every catalog method declares.
_THRIFT_ERRORS: dict[type[errors.SluiceError], tuple[type[Exception], ...]] = {
    errors.EntityNotFound: (
        ttypes.NoSuchObjectException,
        ttypes.UnknownTableException,
        ttypes.UnknownDBException,
        ttypes.InvalidObjectException,
        ttypes.InvalidOperationException,
    ),
    errors.AlreadyExists: (ttypes.AlreadyExistsException, ttypes.InvalidObjectException),
    errors.InvalidInput: (
        ttypes.InvalidInputException,
        ttypes.InvalidObjectException,
        ttypes.InvalidOperationException,
    ),
    errors.ConcurrentModification: (ttypes.InvalidOperationException,),
}


class ErrorTranslator:
    """What the Thrift processor calls: the handler's methods, raising declared exceptions."""

    def __init__(self, handler: MetastoreHandler) -> None:
        self._handler = handler

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._handler, name, None)
        declared = _declared_exceptions(name)
        if method is None or name.startswith("_"):

            def unsupported(*_args: Any) -> Any:
                logger.warning("metastore call %s is not supported", name)
                raise ttypes.MetaException(
                    message=f"{name} is not supported by the Sluice metastore door"
                )

            return unsupported

        def call(*args: Any) -> Any:
            try:
                return method(*args)
            except errors.SluiceError as exc:
                raise _translated(exc, declared) from None
            except ValueError as exc:
                raise _translated(errors.InvalidInput(str(exc)), declared) from None

        return call


def _declared_exceptions(name: str) -> tuple[type[Exception], ...]:
    result = getattr(ThriftHiveMetastore, f"{name}_result", None)
    spec = getattr(result, "thrift_spec", None) or ()
    declared = []
    for field in spec:
        if field and field[2] != "success" and isinstance(field[3], (list, tuple)):
            cls = field[3][0]
            if isinstance(cls, type) and issubclass(cls, Exception):
                declared.append(cls)
    return tuple(declared)


def _translated(exc: errors.SluiceError, declared: tuple[type[Exception], ...]) -> Exception:
    message = str(exc)
    for kind, candidates in _THRIFT_ERRORS.items():
        if isinstance(exc, kind):
            for candidate in candidates:
                if candidate in declared:
                    return candidate(message=message)
    return ttypes.MetaException(message=message)
