"""Connections of the SQL catalog store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy import Row, delete, exists, insert, select, update

from sluice.catalog.core.model import (
    CONNECTION_TYPES,
    Connection,
    ConnectionInput,
    GetConnectionsFilter,
)
from sluice.catalog.core.names import resource_name
from sluice.catalog.core.store import sql_checks as checks
from sluice.catalog.core.store.rows import SqlConnection
from sluice.catalog.core.store.secret_codec import SecretCodec
from sluice.catalog.core.store.sql_base import SqlStoreBase, segment_filter
from sluice.catalog.core.store.sql_codec import (
    physical_requirements_from_json,
    physical_requirements_to_json,
)
from sluice.common.errors import AlreadyExists, EntityNotFound, InvalidInput
from sluice.common.paging import Page, PageRequest
from sluice.common.redaction import is_secret_key

CONNECTIONS = SqlConnection.__table__

# Match criteria cannot hold control characters, so this delimits them unambiguously.
_SEPARATOR = "\x1f"
_COLUMNS = tuple(c for c in CONNECTIONS.c if c.name not in ("id", "catalog_id"))


def _criteria_text(criteria: Sequence[str]) -> str:
    return _SEPARATOR + "".join(item + _SEPARATOR for item in criteria)


def _properties_to_row(
    properties: Mapping[str, str], secrets: SecretCodec | None
) -> dict[str, str]:
    """connection_properties as stored: secret ones encrypted when the store has a codec.

    Every write passes here and every read through _properties_from_row. Each write encrypts
    anew, with the current key, so plaintext stored earlier and values encrypted with a retired
    key are re-encrypted the next time their connection is written.
    """
    if secrets is None:
        return dict(properties)
    return {
        key: secrets.encrypt(value) if is_secret_key(key) else value
        for key, value in properties.items()
    }


def _properties_from_row(stored: Mapping[str, str], secrets: SecretCodec | None) -> dict[str, str]:
    if secrets is None:
        return dict(stored)
    # Only secret keys are decrypted: a non-secret value is returned exactly as it was written,
    # whatever it looks like.
    return {
        key: secrets.decrypt(value) if is_secret_key(key) else value
        for key, value in stored.items()
    }


def _content(value: ConnectionInput, secrets: SecretCodec | None) -> dict[str, Any]:
    """The columns of a connection row that its ConnectionInput determines."""
    return {
        "connection_type": value.connection_type,
        "description": value.description,
        "match_criteria": list(value.match_criteria),
        "match_criteria_text": _criteria_text(value.match_criteria),
        "connection_properties": _properties_to_row(value.connection_properties, secrets),
        "physical_connection_requirements": physical_requirements_to_json(
            value.physical_connection_requirements
        ),
    }


def _connection(row: Row, catalog_id: str, secrets: SecretCodec | None) -> Connection:
    return Connection(
        name=row.name,
        catalog_id=catalog_id,
        connection_type=row.connection_type,
        creation_time=row.creation_time,
        last_updated_time=row.last_updated_time,
        description=row.description,
        match_criteria=tuple(row.match_criteria),
        connection_properties=_properties_from_row(row.connection_properties, secrets),
        physical_connection_requirements=physical_requirements_from_json(
            row.physical_connection_requirements
        ),
        last_updated_by=row.last_updated_by,
    )


def _find_connection(conn: DbConnection, catalog_id: str, name: str) -> Row | None:
    return conn.execute(
        select(*_COLUMNS).where(CONNECTIONS.c.catalog_id == catalog_id, CONNECTIONS.c.name == name)
    ).first()


class ConnectionOps(SqlStoreBase):
    """Connections, unique by (catalog_id, name)."""

    def create_connection(
        self, catalog_id: str, connection_input: ConnectionInput, created_by: str = ""
    ) -> Connection:
        cat = checks.catalog_id(catalog_id)
        value = checks.connection_input(connection_input)
        by = checks.bounded("created_by", created_by, checks.MAX_SHORT_TEXT)
        content = _content(value, self._secrets)
        now = self._now()
        with self._db.write() as conn:
            taken = conn.execute(
                select(
                    exists().where(
                        CONNECTIONS.c.catalog_id == cat, CONNECTIONS.c.name == value.name
                    )
                )
            ).scalar()
            if taken:
                raise AlreadyExists(f"Connection {value.name} already exists")
            conn.execute(
                insert(CONNECTIONS).values(
                    catalog_id=cat,
                    name=value.name,
                    creation_time=now,
                    last_updated_time=now,
                    last_updated_by=by,
                    **content,
                )
            )
        return Connection(
            name=value.name,
            catalog_id=cat,
            connection_type=value.connection_type,
            creation_time=now,
            last_updated_time=now,
            description=value.description,
            match_criteria=value.match_criteria,
            connection_properties=dict(value.connection_properties),
            physical_connection_requirements=value.physical_connection_requirements,
            last_updated_by=by,
        )

    def get_connection(self, catalog_id: str, name: str) -> Connection:
        cat = checks.catalog_id(catalog_id)
        conn_name = resource_name("connection", name)
        with self._db.read() as conn:
            row = _find_connection(conn, cat, conn_name)
        if row is None:
            raise EntityNotFound(f"Connection {conn_name} not found")
        return _connection(row, cat, self._secrets)

    def get_connections(
        self, catalog_id: str, connection_filter: GetConnectionsFilter, page: PageRequest
    ) -> Page[Connection]:
        cat = checks.catalog_id(catalog_id)
        kind = connection_filter.connection_type
        if kind and kind not in CONNECTION_TYPES:
            raise InvalidInput(f"connection_type {kind!r} is not a connection type")
        criteria = checks.match_criteria(connection_filter.match_criteria)
        query = self._tokens.page_query(page, str, "GetConnections", cat, kind, criteria)
        stmt = select(*_COLUMNS).where(CONNECTIONS.c.catalog_id == cat)
        if kind:
            stmt = stmt.where(CONNECTIONS.c.connection_type == kind)
        for item in criteria:
            stmt = stmt.where(
                CONNECTIONS.c.match_criteria_text.contains(
                    _SEPARATOR + item + _SEPARATOR, autoescape=True
                )
            )
        if (seg := segment_filter(CONNECTIONS.c.id, query.segment)) is not None:
            stmt = stmt.where(seg)
        if query.after is not None:
            stmt = stmt.where(CONNECTIONS.c.name > query.after)
        stmt = stmt.order_by(CONNECTIONS.c.name).limit(query.limit + 1)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.name)
        return Page(
            items=tuple(_connection(row, cat, self._secrets) for row in kept), next_token=token
        )

    def update_connection(
        self, catalog_id: str, name: str, connection_input: ConnectionInput, updated_by: str = ""
    ) -> Connection:
        cat = checks.catalog_id(catalog_id)
        conn_name = resource_name("connection", name)
        checks.same_name("connection", conn_name, connection_input.name)
        value = checks.connection_input(replace(connection_input, name=conn_name))
        by = checks.bounded("updated_by", updated_by, checks.MAX_SHORT_TEXT)
        content = _content(value, self._secrets)
        with self._db.write() as conn:
            changed = conn.execute(
                update(CONNECTIONS)
                .where(CONNECTIONS.c.catalog_id == cat, CONNECTIONS.c.name == conn_name)
                .values(
                    last_updated_time=self._now(),
                    last_updated_by=by,
                    **content,
                )
            ).rowcount
            row = _find_connection(conn, cat, conn_name) if changed else None
        if row is None:
            raise EntityNotFound(f"Connection {conn_name} not found")
        return _connection(row, cat, self._secrets)

    def delete_connection(self, catalog_id: str, name: str) -> None:
        cat = checks.catalog_id(catalog_id)
        conn_name = resource_name("connection", name)
        with self._db.write() as conn:
            deleted = conn.execute(
                delete(CONNECTIONS).where(
                    CONNECTIONS.c.catalog_id == cat, CONNECTIONS.c.name == conn_name
                )
            ).rowcount
        if not deleted:
            raise EntityNotFound(f"Connection {conn_name} not found")
