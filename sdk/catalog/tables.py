"""Tables of the catalog and their versions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sluice.catalog.v1 import catalog_pb2, types_pb2
from sluice.sdk.catalog._base import CatalogBase, SegmentLike, chunks, segment_message
from sluice.sdk.messages import to_message, to_messages

TableInputLike = types_pb2.TableInput | Mapping[str, Any]
PropertyPredicateLike = types_pb2.PropertyPredicate | Mapping[str, Any]
SortCriterionLike = types_pb2.SortCriterion | Mapping[str, Any]

# The most tables one batch call may carry (the server's limit); longer batches are split.
MAX_TABLE_BATCH = 100


class TablesMixin(CatalogBase):
    """Table and table-version calls of CatalogClient."""

    def create_table(
        self, database: str, table_input: TableInputLike, *, catalog_id: str | None = None
    ) -> None:
        """Creates a table in `database`.

        Args:
            database: The database's name.
            table_input: The table, e.g. {"name": "orders", "storage_descriptor": {"columns":
                [{"name": "id", "type": "bigint"}]}, "partition_keys": [...]}.
            catalog_id: The account; the client's default when None.

        Raises:
            EntityNotFound: There is no such database.
            AlreadyExists: The database has a table of that name.
        """
        request = catalog_pb2.CreateTableRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_input=to_message(table_input, types_pb2.TableInput),
        )
        self._call(self._stub.CreateTable, request)

    def get_table(
        self, database: str, name: str, *, catalog_id: str | None = None
    ) -> types_pb2.Table:
        """The current version of table `name` of `database`.

        Raises:
            EntityNotFound: There is no such database or table.
        """
        request = catalog_pb2.GetTableRequest(
            catalog_id=self._catalog_id(catalog_id), database_name=database, name=name
        )
        response: catalog_pb2.GetTableResponse = self._call(self._stub.GetTable, request)
        return response.table

    def get_tables(
        self,
        database: str,
        expression: str = "",
        *,
        page_size: int | None = None,
        segment: SegmentLike | None = None,
        catalog_id: str | None = None,
    ) -> Iterator[types_pb2.Table]:
        """The tables of `database`, fetching pages as the iteration needs them.

        Args:
            database: The database's name.
            expression: Only tables whose whole name matches this regular expression
                ('test_.*'; case ignored, a lone '*' any characters); every table when empty.
            page_size: Tables per call (at most 100); the server's default when None.
            segment: Only this slice of the list, for parallel scans.
            catalog_id: The account; the client's default when None.
        """
        request = catalog_pb2.GetTablesRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            expression=expression,
            max_results=page_size or 0,
            segment=segment_message(segment),
        )
        return self._paginate(self._stub.GetTables, request, "table_list")

    def update_table(
        self,
        database: str,
        table_input: TableInputLike,
        *,
        version_id: str = "",
        skip_archive: bool = False,
        catalog_id: str | None = None,
    ) -> None:
        """Writes a new version of the table that `table_input` names.

        Args:
            database: The database's name.
            table_input: The table's new definition, in full.
            version_id: When given, the update applies only if this is still the current
                version: optimistic concurrency.
            skip_archive: Replace the current version instead of keeping it in the history.
            catalog_id: The account; the client's default when None.

        Raises:
            EntityNotFound: There is no such database or table.
            ConcurrentModification: `version_id` is no longer the current version.
        """
        request = catalog_pb2.UpdateTableRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_input=to_message(table_input, types_pb2.TableInput),
            skip_archive=skip_archive,
            version_id=version_id,
        )
        self._call(self._stub.UpdateTable, request)

    def delete_table(self, database: str, name: str, *, catalog_id: str | None = None) -> None:
        """Deletes a table with its partitions and versions.

        Raises:
            EntityNotFound: There is no such database or table.
        """
        request = catalog_pb2.DeleteTableRequest(
            catalog_id=self._catalog_id(catalog_id), database_name=database, name=name
        )
        self._call(self._stub.DeleteTable, request)

    def batch_delete_table(
        self, database: str, names: Iterable[str], *, catalog_id: str | None = None
    ) -> catalog_pb2.BatchDeleteTableResponse:
        """Deletes any number of tables, in calls of at most 100.

        Returns:
            The tables that could not be deleted, each with its error, in `errors`.
        """
        if isinstance(names, str):
            raise TypeError("names: expected an iterable of table names, not a single str")
        merged = catalog_pb2.BatchDeleteTableResponse()
        for batch in chunks(names, MAX_TABLE_BATCH):
            request = catalog_pb2.BatchDeleteTableRequest(
                catalog_id=self._catalog_id(catalog_id),
                database_name=database,
                tables_to_delete=batch,
            )
            response: catalog_pb2.BatchDeleteTableResponse = self._call(
                self._stub.BatchDeleteTable, request
            )
            merged.errors.extend(response.errors)
        return merged

    def search_tables(
        self,
        search_text: str = "",
        *,
        filters: Iterable[PropertyPredicateLike] = (),
        sort_criteria: Iterable[SortCriterionLike] = (),
        page_size: int | None = None,
        segment: SegmentLike | None = None,
        catalog_id: str | None = None,
    ) -> Iterator[types_pb2.Table]:
        """Tables of every database that match a text and filters, page by page.

        Args:
            search_text: Text to find in names, descriptions, columns or parameters.
            filters: Predicates every table must pass, e.g. {"key": "owner", "value": "ann",
                "comparator": "COMPARATOR_EQUALS"}.
            sort_criteria: The order, e.g. {"field_name": "name", "sort":
                "SORT_DIRECTION_ASCENDING"}.
            page_size: Tables per call (at most 1000); the server's default when None.
            segment: Only this slice of the list, for parallel scans.
            catalog_id: The account; the client's default when None.
        """
        request = catalog_pb2.SearchTablesRequest(
            catalog_id=self._catalog_id(catalog_id),
            search_text=search_text,
            filters=to_messages(filters, types_pb2.PropertyPredicate, what="filters"),
            sort_criteria=to_messages(sort_criteria, types_pb2.SortCriterion, what="sort_criteria"),
            max_results=page_size or 0,
            segment=segment_message(segment),
        )
        return self._paginate(self._stub.SearchTables, request, "table_list")

    def get_table_version(
        self,
        database: str,
        table: str,
        version_id: str = "",
        *,
        catalog_id: str | None = None,
    ) -> types_pb2.TableVersion:
        """One version of a table; the current one when `version_id` is empty.

        Raises:
            EntityNotFound: There is no such database, table or version.
        """
        request = catalog_pb2.GetTableVersionRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_name=table,
            version_id=version_id,
        )
        response: catalog_pb2.GetTableVersionResponse = self._call(
            self._stub.GetTableVersion, request
        )
        return response.table_version

    def get_table_versions(
        self,
        database: str,
        table: str,
        *,
        page_size: int | None = None,
        segment: SegmentLike | None = None,
        catalog_id: str | None = None,
    ) -> Iterator[types_pb2.TableVersion]:
        """Every version of a table, newest first, fetching pages as needed."""
        request = catalog_pb2.GetTableVersionsRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_name=table,
            max_results=page_size or 0,
            segment=segment_message(segment),
        )
        return self._paginate(self._stub.GetTableVersions, request, "table_versions")

    def delete_table_version(
        self, database: str, table: str, version_id: str, *, catalog_id: str | None = None
    ) -> None:
        """Deletes one version of a table's history.

        Raises:
            EntityNotFound: There is no such database, table or version.
            InvalidInput: The version is the current one.
        """
        request = catalog_pb2.DeleteTableVersionRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_name=database,
            table_name=table,
            version_id=version_id,
        )
        self._call(self._stub.DeleteTableVersion, request)
