"""Connections: how jobs and crawlers reach data stores."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sluice.catalog.v1 import catalog_pb2, types_pb2
from sluice.sdk.catalog._base import CatalogBase, SegmentLike, segment_message
from sluice.sdk.messages import to_message

ConnectionInputLike = types_pb2.ConnectionInput | Mapping[str, Any]
ConnectionsFilterLike = types_pb2.GetConnectionsFilter | Mapping[str, Any]


class ConnectionsMixin(CatalogBase):
    """Connection calls of CatalogClient."""

    def create_connection(
        self,
        connection_input: ConnectionInputLike,
        *,
        tags: Mapping[str, str] | None = None,
        catalog_id: str | None = None,
    ) -> None:
        """Creates a connection.

        Args:
            connection_input: The connection, e.g. {"name": "warehouse", "connection_type":
                "JDBC", "connection_properties": {"JDBC_CONNECTION_URL": "jdbc:..."}}.
            tags: Tags to attach to the connection.
            catalog_id: The account; the client's default when None.

        Raises:
            AlreadyExists: A connection of that name exists.
        """
        request = catalog_pb2.CreateConnectionRequest(
            catalog_id=self._catalog_id(catalog_id),
            connection_input=to_message(connection_input, types_pb2.ConnectionInput),
            tags=dict(tags or {}),
        )
        self._call(self._stub.CreateConnection, request)

    def get_connection(
        self, name: str, *, hide_password: bool = False, catalog_id: str | None = None
    ) -> types_pb2.Connection:
        """The connection called `name`.

        Args:
            name: The connection's name.
            hide_password: Leave the password out of the connection properties.
            catalog_id: The account; the client's default when None.

        Raises:
            EntityNotFound: There is no such connection.
        """
        request = catalog_pb2.GetConnectionRequest(
            catalog_id=self._catalog_id(catalog_id), name=name, hide_password=hide_password
        )
        response: catalog_pb2.GetConnectionResponse = self._call(self._stub.GetConnection, request)
        return response.connection

    def get_connections(
        self,
        *,
        filter: ConnectionsFilterLike | None = None,
        hide_password: bool = False,
        page_size: int | None = None,
        segment: SegmentLike | None = None,
        catalog_id: str | None = None,
    ) -> Iterator[types_pb2.Connection]:
        """The connections of the account, fetching pages as the iteration needs them.

        Args:
            filter: Only connections of this type or match criteria, e.g.
                {"connection_type": "JDBC"}.
            hide_password: Leave passwords out of the connection properties.
            page_size: Connections per call (at most 1000); the server's default when None.
            segment: Only this slice of the list, for parallel scans.
            catalog_id: The account; the client's default when None.
        """
        request = catalog_pb2.GetConnectionsRequest(
            catalog_id=self._catalog_id(catalog_id),
            filter=None
            if filter is None
            else to_message(filter, types_pb2.GetConnectionsFilter, what="filter"),
            hide_password=hide_password,
            max_results=page_size or 0,
            segment=segment_message(segment),
        )
        return self._paginate(self._stub.GetConnections, request, "connection_list")

    def update_connection(
        self, name: str, connection_input: ConnectionInputLike, *, catalog_id: str | None = None
    ) -> None:
        """Replaces the definition of connection `name` with `connection_input`.

        Raises:
            EntityNotFound: There is no such connection.
        """
        request = catalog_pb2.UpdateConnectionRequest(
            catalog_id=self._catalog_id(catalog_id),
            name=name,
            connection_input=to_message(connection_input, types_pb2.ConnectionInput),
        )
        self._call(self._stub.UpdateConnection, request)

    def delete_connection(self, name: str, *, catalog_id: str | None = None) -> None:
        """Deletes a connection.

        Raises:
            EntityNotFound: There is no such connection.
        """
        request = catalog_pb2.DeleteConnectionRequest(
            catalog_id=self._catalog_id(catalog_id), connection_name=name
        )
        self._call(self._stub.DeleteConnection, request)
