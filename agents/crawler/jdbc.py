"""JDBC targets: tables and columns from the database's own metadata (information_schema),
through a catalog connection's JDBC_CONNECTION_URL, USERNAME and PASSWORD. PostgreSQL only."""

from __future__ import annotations

import contextlib
import fnmatch
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlparse

from sluice.agents.crawler.engine import TableResult
from sluice.agents.crawler.formats import Column

_TYPES = {
    "smallint": "smallint",
    "integer": "int",
    "bigint": "bigint",
    "real": "float",
    "double precision": "double",
    "boolean": "boolean",
    "date": "date",
    "bytea": "binary",
    "text": "string",
    "character varying": "string",
    "character": "string",
    "uuid": "string",
    "json": "string",
    "jsonb": "string",
}
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


class JdbcError(Exception):
    """The database cannot be reached or its metadata read."""


@dataclass(frozen=True)
class JdbcTable:
    database: str
    schema: str
    table: str
    columns: list[Column]


def _hive(data_type: str, precision: int | None, scale: int | None) -> str:
    if data_type == "numeric":
        return f"decimal({precision},{scale or 0})" if precision else "decimal(38,18)"
    if data_type.startswith("timestamp"):
        return "timestamp"
    if data_type == "ARRAY":
        return "array<string>"
    return _TYPES.get(data_type, "string")


def _dsn(url: str, user: str, password: str) -> tuple[str, dict[str, object]]:
    if not url.startswith("jdbc:postgresql://"):
        raise JdbcError(f"{url.split('//')[0]}// is not supported (jdbc:postgresql:// only)")
    parsed = urlparse(url.removeprefix("jdbc:"))
    database = parsed.path.lstrip("/") or "postgres"
    kwargs: dict[str, object] = {
        "host": parsed.hostname or "localhost",
        "port": parsed.port or 5432,
        "dbname": database,
        "user": user or None,
        "password": password or None,
        "connect_timeout": 10,
    }
    return database, kwargs


def _resolved(where: str) -> str:
    host_port, _, database = where.partition("/")
    host, _, port = host_port.rpartition(":")
    with contextlib.suppress(OSError):
        host = socket.gethostbyname(host)
    return f"{host}:{port}/{database}"


def _same_database(where: str, protected: tuple[str, ...]) -> bool:
    """Whether where (host:port/database) is one of protected, host names resolved."""
    mine = _resolved(where)
    return any(_resolved(p) == mine for p in protected)


def list_tables(
    properties: dict[str, str],
    path: str,
    exclusions: tuple[str, ...] = (),
    protected: tuple[str, ...] = (),
) -> list[JdbcTable]:
    """The tables path (database/schema/table, % a wildcard) names, with their columns.

    protected: host:port/database of the server's own database, never crawled.
    """
    import psycopg

    database, kwargs = _dsn(
        properties.get("JDBC_CONNECTION_URL", ""),
        properties.get("USERNAME", ""),
        properties.get("PASSWORD", ""),
    )
    if _same_database(f"{kwargs['host']}:{kwargs['port']}/{database}", protected):
        raise JdbcError("the connection names the server's own database, never crawled")
    parts = (path or f"{database}/%").split("/")
    if parts[0] not in (database, "%"):
        raise JdbcError(f"path {path} names database {parts[0]}, the connection's is {database}")
    schema_like = parts[1] if len(parts) > 1 else "%"
    table_like = parts[2] if len(parts) > 2 else "%"
    try:
        with psycopg.connect(**kwargs) as conn:  # type: ignore[arg-type]
            rows = conn.execute(
                "SELECT c.table_schema, c.table_name, c.column_name, c.data_type,"
                " c.numeric_precision, c.numeric_scale"
                " FROM information_schema.columns c JOIN information_schema.tables t"
                " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
                " WHERE c.table_schema LIKE %s AND c.table_name LIKE %s"
                " AND c.table_schema NOT IN ('pg_catalog', 'information_schema')"
                " AND t.table_type IN ('BASE TABLE', 'VIEW')"
                " ORDER BY c.table_schema, c.table_name, c.ordinal_position",
                (schema_like, table_like),
            ).fetchall()
    except psycopg.Error as exc:
        raise JdbcError(str(exc).strip().splitlines()[0]) from None
    tables: dict[tuple[str, str], list[Column]] = {}
    for schema, table, column, data_type, precision, scale in rows:
        relative = f"{database}/{schema}/{table}"
        if any(fnmatch.fnmatchcase(relative, p) for p in exclusions):
            continue
        tables.setdefault((schema, table), []).append(
            Column(column.lower(), _hive(data_type, precision, scale))
        )
    return [JdbcTable(database, s, t, cols) for (s, t), cols in tables.items()]


def table_result(table: JdbcTable, connection_name: str, prefix: str = "") -> TableResult:
    """The catalog table of a database table, named database_schema_table as Glue names it."""
    name = prefix + _NOT_NAME.sub("_", f"{table.database}_{table.schema}_{table.table}".lower())
    return TableResult(
        name=name,
        location=f"{table.database}.{table.schema}.{table.table}",
        classification="postgresql",
        columns=table.columns,
        partition_keys=[],
        partitions=[],
        parameters={
            "classification": "postgresql",
            "connectionName": connection_name,
            "typeOfData": "table",
            "compressionType": "none",
        },
        serde="",
        serde_parameters={},
        input_format="",
        output_format="",
    )
