"""Databases of the SQL catalog store."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Connection, Row, delete, insert, select, update

from sluice.catalog.core import names
from sluice.catalog.core.model import Database, DatabaseInput
from sluice.catalog.core.store import sql_checks as checks
from sluice.catalog.core.store.sql_base import (
    DATABASES,
    SqlStoreBase,
    enforce_quota,
    segment_filter,
)
from sluice.common.errors import AlreadyExists, EntityNotFound
from sluice.common.paging import Page, PageRequest

_COLUMNS = (
    DATABASES.c.id,
    DATABASES.c.name,
    DATABASES.c.description,
    DATABASES.c.location_uri,
    DATABASES.c.parameters,
    DATABASES.c.create_time,
)


def _database(row: Row, catalog_id: str) -> Database:
    return Database(
        name=row.name,
        catalog_id=catalog_id,
        create_time=row.create_time,
        description=row.description,
        location_uri=row.location_uri,
        parameters=dict(row.parameters),
    )


def _find_database(conn: Connection, catalog_id: str, name: str) -> Row | None:
    return conn.execute(
        select(*_COLUMNS).where(DATABASES.c.catalog_id == catalog_id, DATABASES.c.name == name)
    ).first()


class DatabaseOps(SqlStoreBase):
    """Databases, unique by (catalog_id, name)."""

    def create_database(self, catalog_id: str, database_input: DatabaseInput) -> Database:
        cat = checks.catalog_id(catalog_id)
        value = checks.database_input(database_input)
        now = self._now()
        with self._db.write() as conn:
            if _find_database(conn, cat, value.name) is not None:
                raise AlreadyExists(f"Database {value.name} already exists")
            conn.execute(
                insert(DATABASES).values(
                    catalog_id=cat,
                    name=value.name,
                    description=value.description,
                    location_uri=value.location_uri,
                    parameters=dict(value.parameters),
                    create_time=now,
                )
            )
            quota = self._quotas.databases_per_account
            enforce_quota(
                conn,
                select(DATABASES.c.id).where(DATABASES.c.catalog_id == cat),
                quota,
                f"account {cat} already has its quota of {quota} databases",
            )
        return Database(
            name=value.name,
            catalog_id=cat,
            create_time=now,
            description=value.description,
            location_uri=value.location_uri,
            parameters=dict(value.parameters),
        )

    def get_database(self, catalog_id: str, name: str) -> Database:
        cat = checks.catalog_id(catalog_id)
        db_name = names.resource_name("database", name)
        with self._db.read() as conn:
            row = _find_database(conn, cat, db_name)
        if row is None:
            raise EntityNotFound(f"Database {db_name} not found")
        return _database(row, cat)

    def get_databases(self, catalog_id: str, page: PageRequest) -> Page[Database]:
        cat = checks.catalog_id(catalog_id)
        query = self._tokens.page_query(page, str, "GetDatabases", cat)
        stmt = select(*_COLUMNS).where(DATABASES.c.catalog_id == cat)
        if (seg := segment_filter(DATABASES.c.id, query.segment)) is not None:
            stmt = stmt.where(seg)
        if query.after is not None:
            stmt = stmt.where(DATABASES.c.name > query.after)
        stmt = stmt.order_by(DATABASES.c.name).limit(query.limit + 1)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.name)
        return Page(items=tuple(_database(row, cat) for row in kept), next_token=token)

    def update_database(
        self, catalog_id: str, name: str, database_input: DatabaseInput
    ) -> Database:
        cat = checks.catalog_id(catalog_id)
        db_name = names.resource_name("database", name)
        checks.same_name("database", db_name, database_input.name)
        value = checks.database_input(replace(database_input, name=db_name))
        with self._db.write() as conn:
            changed = conn.execute(
                update(DATABASES)
                .where(DATABASES.c.catalog_id == cat, DATABASES.c.name == db_name)
                .values(
                    description=value.description,
                    location_uri=value.location_uri,
                    parameters=dict(value.parameters),
                )
            ).rowcount
            row = _find_database(conn, cat, db_name) if changed else None
        if row is None:
            raise EntityNotFound(f"Database {db_name} not found")
        return _database(row, cat)

    def delete_database(self, catalog_id: str, name: str) -> None:
        cat = checks.catalog_id(catalog_id)
        db_name = names.resource_name("database", name)
        with self._db.write() as conn:
            deleted = conn.execute(
                delete(DATABASES).where(DATABASES.c.catalog_id == cat, DATABASES.c.name == db_name)
            ).rowcount
        if not deleted:
            raise EntityNotFound(f"Database {db_name} not found")
