"""Databases of the catalog."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sluice.catalog.v1 import catalog_pb2, types_pb2
from sluice.sdk.catalog._base import CatalogBase, SegmentLike, segment_message
from sluice.sdk.messages import to_message

DatabaseInputLike = types_pb2.DatabaseInput | Mapping[str, Any]


class DatabasesMixin(CatalogBase):
    """Database calls of CatalogClient."""

    def create_database(
        self, database_input: DatabaseInputLike, *, catalog_id: str | None = None
    ) -> None:
        """Creates a database.

        Args:
            database_input: The database, e.g. {"name": "sales", "description": "..."}.
            catalog_id: The account; the client's default when None.

        Raises:
            AlreadyExists: A database of that name exists.
            InvalidInput: The name or a field is not valid.
        """
        request = catalog_pb2.CreateDatabaseRequest(
            catalog_id=self._catalog_id(catalog_id),
            database_input=to_message(database_input, types_pb2.DatabaseInput),
        )
        self._call(self._stub.CreateDatabase, request)

    def get_database(self, name: str, *, catalog_id: str | None = None) -> types_pb2.Database:
        """The database called `name`.

        Raises:
            EntityNotFound: There is no such database.
        """
        request = catalog_pb2.GetDatabaseRequest(catalog_id=self._catalog_id(catalog_id), name=name)
        response: catalog_pb2.GetDatabaseResponse = self._call(self._stub.GetDatabase, request)
        return response.database

    def get_databases(
        self,
        *,
        page_size: int | None = None,
        segment: SegmentLike | None = None,
        catalog_id: str | None = None,
    ) -> Iterator[types_pb2.Database]:
        """Every database of the account, fetching pages as the iteration needs them.

        Args:
            page_size: Databases per call (at most 100); the server's default when None.
            segment: Only this slice of the list, for parallel scans.
            catalog_id: The account; the client's default when None.
        """
        request = catalog_pb2.GetDatabasesRequest(
            catalog_id=self._catalog_id(catalog_id),
            max_results=page_size or 0,
            segment=segment_message(segment),
        )
        return self._paginate(self._stub.GetDatabases, request, "database_list")

    def update_database(
        self, name: str, database_input: DatabaseInputLike, *, catalog_id: str | None = None
    ) -> None:
        """Replaces the definition of database `name` with `database_input`.

        Raises:
            EntityNotFound: There is no such database.
        """
        request = catalog_pb2.UpdateDatabaseRequest(
            catalog_id=self._catalog_id(catalog_id),
            name=name,
            database_input=to_message(database_input, types_pb2.DatabaseInput),
        )
        self._call(self._stub.UpdateDatabase, request)

    def delete_database(self, name: str, *, catalog_id: str | None = None) -> None:
        """Deletes a database with its tables, partitions and functions.

        Raises:
            EntityNotFound: There is no such database.
        """
        request = catalog_pb2.DeleteDatabaseRequest(
            catalog_id=self._catalog_id(catalog_id), name=name
        )
        self._call(self._stub.DeleteDatabase, request)
