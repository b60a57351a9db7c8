"""The CatalogService servicer: resolve the account, convert, call the store, respond.

No logic lives here beyond that. Errors are the store's domain errors; the error interceptor
turns them into statuses.
"""

from __future__ import annotations

from typing import Protocol, TypeAlias

import grpc

from sluice.catalog.core import model, names
from sluice.catalog.core.store.base import CatalogStore
from sluice.catalog.v1 import catalog_pb2 as api
from sluice.catalog.v1 import catalog_pb2_grpc
from sluice.catalog.v1 import types_pb2 as pb
from sluice.control_plane.convert.common import page_request, required
from sluice.control_plane.convert.connections import (
    connection_input_from_proto,
    connection_to_proto,
    connections_filter_from_proto,
)
from sluice.control_plane.convert.databases import database_input_from_proto, database_to_proto
from sluice.control_plane.convert.functions import function_input_from_proto, function_to_proto
from sluice.control_plane.convert.partitions import (
    partition_error_to_proto,
    partition_input_from_proto,
    partition_to_proto,
    table_error_to_proto,
    update_entry_from_proto,
    update_failure_to_proto,
    value_lists_from_proto,
    value_lists_to_proto,
)
from sluice.control_plane.convert.tables import (
    predicate_from_proto,
    sort_criterion_from_proto,
    table_input_from_proto,
    table_to_proto,
    table_version_to_proto,
)
from sluice.control_plane.security.actions import READ_SECRETS
from sluice.control_plane.security.calls import allowed
from sluice.control_plane.tags.store import SqlTagStore, check_tags

Ctx: TypeAlias = grpc.ServicerContext


class _Scoped(Protocol):
    """Every request of the service names the account it works in."""

    catalog_id: str


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    """Serves sluice.catalog.v1.CatalogService from a CatalogStore."""

    def __init__(
        self, store: CatalogStore, default_catalog_id: str, *, tags: SqlTagStore | None = None
    ) -> None:
        self._store = store
        self._default_catalog_id = default_catalog_id
        self._tags = tags

    def _catalog(self, request: _Scoped) -> str:
        return names.catalog_id(request.catalog_id, self._default_catalog_id)

    def _tag(self, kind: str, account: str, name: str, tags: dict[str, str]) -> None:
        # Create's Tags, once the resource exists (checked before it is made).
        if tags and self._tags is not None:
            self._tags.tag(account, kind, names.resource_name(kind, name), tags)

    # Databases

    def CreateDatabase(
        self, request: api.CreateDatabaseRequest, context: Ctx
    ) -> api.CreateDatabaseResponse:
        account = self._catalog(request)
        database = database_input_from_proto(required(request, "database_input"))
        tags = check_tags(request.tags)
        self._store.create_database(account, database)
        self._tag("database", account, database.name, tags)
        return api.CreateDatabaseResponse()

    def GetDatabase(self, request: api.GetDatabaseRequest, context: Ctx) -> api.GetDatabaseResponse:
        database = self._store.get_database(self._catalog(request), request.name)
        return api.GetDatabaseResponse(database=database_to_proto(database))

    def GetDatabases(
        self, request: api.GetDatabasesRequest, context: Ctx
    ) -> api.GetDatabasesResponse:
        page = self._store.get_databases(self._catalog(request), page_request(request))
        return api.GetDatabasesResponse(
            database_list=[database_to_proto(d) for d in page.items], next_token=page.next_token
        )

    def UpdateDatabase(
        self, request: api.UpdateDatabaseRequest, context: Ctx
    ) -> api.UpdateDatabaseResponse:
        self._store.update_database(
            self._catalog(request),
            request.name,
            database_input_from_proto(required(request, "database_input")),
        )
        return api.UpdateDatabaseResponse()

    def DeleteDatabase(
        self, request: api.DeleteDatabaseRequest, context: Ctx
    ) -> api.DeleteDatabaseResponse:
        self._store.delete_database(self._catalog(request), request.name)
        return api.DeleteDatabaseResponse()

    # Tables

    def CreateTable(self, request: api.CreateTableRequest, context: Ctx) -> api.CreateTableResponse:
        self._store.create_table(
            self._catalog(request),
            request.database_name,
            table_input_from_proto(required(request, "table_input")),
        )
        return api.CreateTableResponse()

    def GetTable(self, request: api.GetTableRequest, context: Ctx) -> api.GetTableResponse:
        table = self._store.get_table(self._catalog(request), request.database_name, request.name)
        return api.GetTableResponse(table=table_to_proto(table))

    def GetTables(self, request: api.GetTablesRequest, context: Ctx) -> api.GetTablesResponse:
        page = self._store.get_tables(
            self._catalog(request), request.database_name, request.expression, page_request(request)
        )
        return api.GetTablesResponse(
            table_list=[table_to_proto(t) for t in page.items], next_token=page.next_token
        )

    def UpdateTable(self, request: api.UpdateTableRequest, context: Ctx) -> api.UpdateTableResponse:
        self._store.update_table(
            self._catalog(request),
            request.database_name,
            table_input_from_proto(required(request, "table_input")),
            version_id=request.version_id,
            skip_archive=request.skip_archive,
        )
        return api.UpdateTableResponse()

    def DeleteTable(self, request: api.DeleteTableRequest, context: Ctx) -> api.DeleteTableResponse:
        self._store.delete_table(self._catalog(request), request.database_name, request.name)
        return api.DeleteTableResponse()

    def BatchDeleteTable(
        self, request: api.BatchDeleteTableRequest, context: Ctx
    ) -> api.BatchDeleteTableResponse:
        errors = self._store.batch_delete_table(
            self._catalog(request), request.database_name, list(request.tables_to_delete)
        )
        return api.BatchDeleteTableResponse(errors=[table_error_to_proto(e) for e in errors])

    def SearchTables(
        self, request: api.SearchTablesRequest, context: Ctx
    ) -> api.SearchTablesResponse:
        page = self._store.search_tables(
            self._catalog(request),
            request.search_text,
            [predicate_from_proto(f) for f in request.filters],
            [sort_criterion_from_proto(c) for c in request.sort_criteria],
            page_request(request),
        )
        return api.SearchTablesResponse(
            table_list=[table_to_proto(t) for t in page.items], next_token=page.next_token
        )

    # Table versions

    def GetTableVersion(
        self, request: api.GetTableVersionRequest, context: Ctx
    ) -> api.GetTableVersionResponse:
        version = self._store.get_table_version(
            self._catalog(request), request.database_name, request.table_name, request.version_id
        )
        return api.GetTableVersionResponse(table_version=table_version_to_proto(version))

    def GetTableVersions(
        self, request: api.GetTableVersionsRequest, context: Ctx
    ) -> api.GetTableVersionsResponse:
        page = self._store.get_table_versions(
            self._catalog(request),
            request.database_name,
            request.table_name,
            page_request(request),
        )
        return api.GetTableVersionsResponse(
            table_versions=[table_version_to_proto(v) for v in page.items],
            next_token=page.next_token,
        )

    def DeleteTableVersion(
        self, request: api.DeleteTableVersionRequest, context: Ctx
    ) -> api.DeleteTableVersionResponse:
        self._store.delete_table_version(
            self._catalog(request), request.database_name, request.table_name, request.version_id
        )
        return api.DeleteTableVersionResponse()

    # Partitions

    def CreatePartition(
        self, request: api.CreatePartitionRequest, context: Ctx
    ) -> api.CreatePartitionResponse:
        self._store.create_partition(
            self._catalog(request),
            request.database_name,
            request.table_name,
            partition_input_from_proto(required(request, "partition_input")),
        )
        return api.CreatePartitionResponse()

    def BatchCreatePartition(
        self, request: api.BatchCreatePartitionRequest, context: Ctx
    ) -> api.BatchCreatePartitionResponse:
        errors = self._store.batch_create_partition(
            self._catalog(request),
            request.database_name,
            request.table_name,
            [partition_input_from_proto(p) for p in request.partition_input_list],
        )
        return api.BatchCreatePartitionResponse(
            errors=[partition_error_to_proto(e) for e in errors]
        )

    def GetPartition(
        self, request: api.GetPartitionRequest, context: Ctx
    ) -> api.GetPartitionResponse:
        partition = self._store.get_partition(
            self._catalog(request),
            request.database_name,
            request.table_name,
            list(request.partition_values),
        )
        return api.GetPartitionResponse(partition=partition_to_proto(partition))

    def GetPartitions(
        self, request: api.GetPartitionsRequest, context: Ctx
    ) -> api.GetPartitionsResponse:
        page = self._store.get_partitions(
            self._catalog(request),
            request.database_name,
            request.table_name,
            request.expression,
            page_request(request),
        )
        partitions = [partition_to_proto(p) for p in page.items]
        if request.exclude_column_schema:
            for partition in partitions:
                del partition.storage_descriptor.columns[:]
        return api.GetPartitionsResponse(partitions=partitions, next_token=page.next_token)

    def BatchGetPartition(
        self, request: api.BatchGetPartitionRequest, context: Ctx
    ) -> api.BatchGetPartitionResponse:
        result = self._store.batch_get_partition(
            self._catalog(request),
            request.database_name,
            request.table_name,
            value_lists_from_proto(request.partitions_to_get),
        )
        return api.BatchGetPartitionResponse(
            partitions=[partition_to_proto(p) for p in result.partitions],
            unprocessed_keys=value_lists_to_proto(result.unprocessed_keys),
        )

    def UpdatePartition(
        self, request: api.UpdatePartitionRequest, context: Ctx
    ) -> api.UpdatePartitionResponse:
        self._store.update_partition(
            self._catalog(request),
            request.database_name,
            request.table_name,
            list(request.partition_value_list),
            partition_input_from_proto(required(request, "partition_input")),
        )
        return api.UpdatePartitionResponse()

    def BatchUpdatePartition(
        self, request: api.BatchUpdatePartitionRequest, context: Ctx
    ) -> api.BatchUpdatePartitionResponse:
        failures = self._store.batch_update_partition(
            self._catalog(request),
            request.database_name,
            request.table_name,
            [update_entry_from_proto(e) for e in request.entries],
        )
        return api.BatchUpdatePartitionResponse(
            errors=[update_failure_to_proto(values, error) for values, error in failures]
        )

    def DeletePartition(
        self, request: api.DeletePartitionRequest, context: Ctx
    ) -> api.DeletePartitionResponse:
        self._store.delete_partition(
            self._catalog(request),
            request.database_name,
            request.table_name,
            list(request.partition_values),
        )
        return api.DeletePartitionResponse()

    def BatchDeletePartition(
        self, request: api.BatchDeletePartitionRequest, context: Ctx
    ) -> api.BatchDeletePartitionResponse:
        errors = self._store.batch_delete_partition(
            self._catalog(request),
            request.database_name,
            request.table_name,
            value_lists_from_proto(request.partitions_to_delete),
        )
        return api.BatchDeletePartitionResponse(
            errors=[partition_error_to_proto(e) for e in errors]
        )

    # Connections

    def CreateConnection(
        self, request: api.CreateConnectionRequest, context: Ctx
    ) -> api.CreateConnectionResponse:
        account = self._catalog(request)
        connection = connection_input_from_proto(required(request, "connection_input"))
        tags = check_tags(request.tags)
        self._store.create_connection(account, connection)
        self._tag("connection", account, connection.name, tags)
        return api.CreateConnectionResponse()

    def GetConnection(
        self, request: api.GetConnectionRequest, context: Ctx
    ) -> api.GetConnectionResponse:
        account = self._catalog(request)
        connection = self._store.get_connection(account, request.name)
        return api.GetConnectionResponse(
            connection=_connection_as_shown(account, connection, request.hide_password)
        )

    def GetConnections(
        self, request: api.GetConnectionsRequest, context: Ctx
    ) -> api.GetConnectionsResponse:
        account = self._catalog(request)
        page = self._store.get_connections(
            account, connections_filter_from_proto(request.filter), page_request(request)
        )
        return api.GetConnectionsResponse(
            connection_list=[
                _connection_as_shown(account, c, request.hide_password) for c in page.items
            ],
            next_token=page.next_token,
        )

    def UpdateConnection(
        self, request: api.UpdateConnectionRequest, context: Ctx
    ) -> api.UpdateConnectionResponse:
        self._store.update_connection(
            self._catalog(request),
            request.name,
            connection_input_from_proto(required(request, "connection_input")),
        )
        return api.UpdateConnectionResponse()

    def DeleteConnection(
        self, request: api.DeleteConnectionRequest, context: Ctx
    ) -> api.DeleteConnectionResponse:
        self._store.delete_connection(self._catalog(request), request.connection_name)
        return api.DeleteConnectionResponse()

    # User-defined functions

    def CreateUserDefinedFunction(
        self, request: api.CreateUserDefinedFunctionRequest, context: Ctx
    ) -> api.CreateUserDefinedFunctionResponse:
        self._store.create_user_defined_function(
            self._catalog(request),
            request.database_name,
            function_input_from_proto(required(request, "function_input")),
        )
        return api.CreateUserDefinedFunctionResponse()

    def GetUserDefinedFunction(
        self, request: api.GetUserDefinedFunctionRequest, context: Ctx
    ) -> api.GetUserDefinedFunctionResponse:
        function = self._store.get_user_defined_function(
            self._catalog(request), request.database_name, request.function_name
        )
        return api.GetUserDefinedFunctionResponse(user_defined_function=function_to_proto(function))

    def GetUserDefinedFunctions(
        self, request: api.GetUserDefinedFunctionsRequest, context: Ctx
    ) -> api.GetUserDefinedFunctionsResponse:
        page = self._store.get_user_defined_functions(
            self._catalog(request), request.database_name, request.pattern, page_request(request)
        )
        return api.GetUserDefinedFunctionsResponse(
            user_defined_functions=[function_to_proto(f) for f in page.items],
            next_token=page.next_token,
        )

    def UpdateUserDefinedFunction(
        self, request: api.UpdateUserDefinedFunctionRequest, context: Ctx
    ) -> api.UpdateUserDefinedFunctionResponse:
        self._store.update_user_defined_function(
            self._catalog(request),
            request.database_name,
            request.function_name,
            function_input_from_proto(required(request, "function_input")),
        )
        return api.UpdateUserDefinedFunctionResponse()

    def DeleteUserDefinedFunction(
        self, request: api.DeleteUserDefinedFunctionRequest, context: Ctx
    ) -> api.DeleteUserDefinedFunctionResponse:
        self._store.delete_user_defined_function(
            self._catalog(request), request.database_name, request.function_name
        )
        return api.DeleteUserDefinedFunctionResponse()


def _connection_as_shown(
    account: str, connection: model.Connection, hide_password: bool
) -> pb.Connection:
    """The connection with its secret properties only if the caller asked for them and may
    read secrets; otherwise they are left out, as Glue does with HidePassword."""
    reveal = not hide_password and allowed(
        READ_SECRETS, f"sluice:catalog:{account}:connection/{connection.name}"
    )
    return connection_to_proto(connection, hide_password=not reveal)
