"""On PostgreSQL, a trigram index on tables.search_text, so that SearchTables finds a few tables
among many without reading them all (a LIKE '%text%' can use a pg_trgm GIN index; a B-tree
cannot).

pg_trgm ships with PostgreSQL and is a trusted extension: any role that may create objects in
the database may install it. It is installed once per database (in `public` when it is not
there yet) and shared by every schema; when it cannot be installed (not available, or the role
may not), the index is left out and SearchTables reads every table, as before, with a warning.
SQLite: nothing (its search reads every table).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ix_tables_search_text_trgm"
_log = logging.getLogger("sluice.catalog.migrations")


def _trgm_schema(conn: Connection) -> str | None:
    return conn.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'"
    ).scalar()


def _install_trgm(conn: Connection) -> str | None:
    """The schema pg_trgm is installed in, installing it if need be; None if it cannot be."""
    schema = _trgm_schema(conn)
    if schema is not None:
        return schema
    try:
        # A savepoint: a refusal must not abort the migration's transaction.
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    except DBAPIError as exc:
        # Another server may have installed it meanwhile; else it is not to be had.
        schema = _trgm_schema(conn)
        if schema is None:
            _log.warning(
                "SearchTables will read every table: cannot install PostgreSQL's pg_trgm "
                "extension (%s)",
                str(exc.orig).strip().splitlines()[0] if exc.orig else exc,
            )
        return schema
    return _trgm_schema(conn)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    schema = _install_trgm(conn)
    if schema is None:
        return
    quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON tables "
        f"USING gin (search_text {quoted}.gin_trgm_ops)"
    )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        # The extension stays: other schemas of the database may use it.
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {INDEX}")
