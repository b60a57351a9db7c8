"""User-defined functions of the SQL catalog store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Row, delete, exists, insert, select, tuple_, update

from sluice.catalog.core.model import PrincipalType, UserDefinedFunction, UserDefinedFunctionInput
from sluice.catalog.core.names import resource_name
from sluice.catalog.core.store import sql_checks as checks
from sluice.catalog.core.store.rows import SqlUserDefinedFunction
from sluice.catalog.core.store.sql_base import DATABASES, SqlStoreBase, name_pattern, segment_filter
from sluice.catalog.core.store.sql_codec import resource_uris_from_json, resource_uris_to_json
from sluice.common.errors import AlreadyExists, EntityNotFound
from sluice.common.paging import Page, PageRequest

FUNCTIONS = SqlUserDefinedFunction.__table__

_COLUMNS = (
    DATABASES.c.name.label("database_name"),
    FUNCTIONS.c.id,
    FUNCTIONS.c.name,
    FUNCTIONS.c.class_name,
    FUNCTIONS.c.owner_name,
    FUNCTIONS.c.owner_type,
    FUNCTIONS.c.resource_uris,
    FUNCTIONS.c.create_time,
)
_FROM = FUNCTIONS.join(DATABASES, FUNCTIONS.c.database_id == DATABASES.c.id)


def _content(value: UserDefinedFunctionInput) -> dict[str, Any]:
    """The columns of a function row that its input determines."""
    return {
        "class_name": value.class_name,
        "owner_name": value.owner_name,
        "owner_type": str(value.owner_type),
        "resource_uris": resource_uris_to_json(value.resource_uris),
    }


def _function(row: Row, catalog_id: str) -> UserDefinedFunction:
    return UserDefinedFunction(
        function_name=row.name,
        database_name=row.database_name,
        catalog_id=catalog_id,
        class_name=row.class_name,
        create_time=row.create_time,
        owner_name=row.owner_name,
        owner_type=PrincipalType(row.owner_type),
        resource_uris=resource_uris_from_json(row.resource_uris),
    )


def _find_function(conn: Connection, database_id: int, name: str) -> Row | None:
    return conn.execute(
        select(*_COLUMNS)
        .select_from(_FROM)
        .where(FUNCTIONS.c.database_id == database_id, FUNCTIONS.c.name == name)
    ).first()


class FunctionOps(SqlStoreBase):
    """User-defined functions, unique by (database, name)."""

    def create_user_defined_function(
        self, catalog_id: str, database_name: str, function_input: UserDefinedFunctionInput
    ) -> UserDefinedFunction:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        value = checks.function_input(function_input)
        now = self._now()
        with self._db.write() as conn:
            database_id = self._database_id(conn, cat, db_name)
            taken = conn.execute(
                select(
                    exists().where(
                        FUNCTIONS.c.database_id == database_id,
                        FUNCTIONS.c.name == value.function_name,
                    )
                )
            ).scalar()
            if taken:
                raise AlreadyExists(f"Function {db_name}.{value.function_name} already exists")
            conn.execute(
                insert(FUNCTIONS).values(
                    database_id=database_id,
                    name=value.function_name,
                    create_time=now,
                    **_content(value),
                )
            )
        return UserDefinedFunction(
            function_name=value.function_name,
            database_name=db_name,
            catalog_id=cat,
            class_name=value.class_name,
            create_time=now,
            owner_name=value.owner_name,
            owner_type=value.owner_type,
            resource_uris=value.resource_uris,
        )

    def get_user_defined_function(
        self, catalog_id: str, database_name: str, function_name: str
    ) -> UserDefinedFunction:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        name = resource_name("function", function_name)
        with self._db.read() as conn:
            database_id = self._database_id(conn, cat, db_name)
            row = _find_function(conn, database_id, name)
        if row is None:
            raise EntityNotFound(f"Function {db_name}.{name} not found")
        return _function(row, cat)

    def get_user_defined_functions(
        self, catalog_id: str, database_name: str, pattern: str, page: PageRequest
    ) -> Page[UserDefinedFunction]:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name) if database_name else ""
        query = self._tokens.page_query(
            page, list, "GetUserDefinedFunctions", cat, db_name, pattern
        )
        stmt = select(*_COLUMNS).select_from(_FROM).where(DATABASES.c.catalog_id == cat)
        for clause in (
            name_pattern(FUNCTIONS.c.name, pattern),
            segment_filter(FUNCTIONS.c.id, query.segment),
        ):
            if clause is not None:
                stmt = stmt.where(clause)
        if query.after is not None:
            stmt = stmt.where(tuple_(DATABASES.c.name, FUNCTIONS.c.name) > tuple_(*query.after))
        stmt = stmt.order_by(DATABASES.c.name, FUNCTIONS.c.name).limit(query.limit + 1)
        with self._db.read() as conn:
            if db_name:
                database_id = self._database_id(conn, cat, db_name)
                stmt = stmt.where(FUNCTIONS.c.database_id == database_id)
            rows = conn.execute(stmt).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: [row.database_name, row.name])
        return Page(items=tuple(_function(row, cat) for row in kept), next_token=token)

    def update_user_defined_function(
        self,
        catalog_id: str,
        database_name: str,
        function_name: str,
        function_input: UserDefinedFunctionInput,
    ) -> UserDefinedFunction:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        name = resource_name("function", function_name)
        checks.same_name("function", name, function_input.function_name)
        value = checks.function_input(replace(function_input, function_name=name))
        with self._db.write() as conn:
            database_id = self._database_id(conn, cat, db_name)
            changed = conn.execute(
                update(FUNCTIONS)
                .where(FUNCTIONS.c.database_id == database_id, FUNCTIONS.c.name == name)
                .values(**_content(value))
            ).rowcount
            row = _find_function(conn, database_id, name) if changed else None
        if row is None:
            raise EntityNotFound(f"Function {db_name}.{name} not found")
        return _function(row, cat)

    def delete_user_defined_function(
        self, catalog_id: str, database_name: str, function_name: str
    ) -> None:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        name = resource_name("function", function_name)
        with self._db.write() as conn:
            database_id = self._database_id(conn, cat, db_name)
            deleted = conn.execute(
                delete(FUNCTIONS).where(
                    FUNCTIONS.c.database_id == database_id, FUNCTIONS.c.name == name
                )
            ).rowcount
        if not deleted:
            raise EntityNotFound(f"Function {db_name}.{name} not found")
