"""What every part of the SQL catalog store shares: its state, paging and name lookups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Select, func, or_, select

from sluice.catalog.core.store.rows import SqlDatabase, SqlTable
from sluice.catalog.core.store.secret_codec import SecretCodec
from sluice.common.db import Database
from sluice.common.errors import EntityNotFound, ResourceNumberLimitExceeded
from sluice.common.paging import PageTokenCodec, Segment

DATABASES = SqlDatabase.__table__
TABLES = SqlTable.__table__

R = TypeVar("R")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CatalogQuotas:
    """How many resources an account may hold (Glue's default service quotas).

    Attributes:
        databases_per_account: Databases of one catalog_id.
        tables_per_database: Tables of one database.
    """

    databases_per_account: int = 10_000
    tables_per_database: int = 200_000


@dataclass(frozen=True)
class TableRef:
    """The identity of a table that partition and version calls work on."""

    id: int
    version: int
    partition_keys: list[dict[str, Any]]


class SqlStoreBase:
    """State shared by the parts of SqlCatalogStore, and the helpers they all use."""

    def __init__(
        self,
        db: Database,
        page_tokens: PageTokenCodec,
        clock: Callable[[], datetime] = utc_now,
        *,
        secrets: SecretCodec | None = None,
        quotas: CatalogQuotas = CatalogQuotas(),
    ) -> None:
        self._db = db
        self._tokens = page_tokens
        self._clock = clock
        self._secrets = secrets
        self._quotas = quotas

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # Lookups

    def _database_id(self, conn: Connection, catalog_id: str, name: str) -> int:
        found = conn.execute(
            select(DATABASES.c.id).where(
                DATABASES.c.catalog_id == catalog_id, DATABASES.c.name == name
            )
        ).scalar()
        if found is None:
            raise EntityNotFound(f"Database {name} not found")
        return int(found)

    def _table_ref(
        self, conn: Connection, catalog_id: str, database_name: str, table_name: str
    ) -> TableRef:
        """One query that also tells a missing database from a missing table."""
        row = conn.execute(
            select(DATABASES.c.id, TABLES.c.id, TABLES.c.version, TABLES.c.partition_keys)
            .select_from(
                DATABASES.outerjoin(
                    TABLES,
                    (TABLES.c.database_id == DATABASES.c.id) & (TABLES.c.name == table_name),
                )
            )
            .where(DATABASES.c.catalog_id == catalog_id, DATABASES.c.name == database_name)
        ).first()
        if row is None:
            raise EntityNotFound(f"Database {database_name} not found")
        if row[1] is None:
            raise EntityNotFound(f"Table {database_name}.{table_name} not found")
        return TableRef(id=row[1], version=row[2], partition_keys=row[3])


def enforce_quota(conn: Connection, rows: Select[Any], quota: int, message: str) -> None:
    """After an insert in the same transaction: ResourceNumberLimitExceeded, which rolls the
    insert back, when `rows` (the resources the quota counts) now number more than `quota`."""
    # Counting stops just past the quota, so the check reads at most quota + 1 index entries.
    counted = select(func.count()).select_from(rows.limit(quota + 1).subquery())
    if (conn.execute(counted).scalar() or 0) > quota:
        raise ResourceNumberLimitExceeded(message)


def plan_for_current_sizes(conn: Connection) -> None:
    """On PostgreSQL, plans this transaction's statements for their actual parameters.

    psycopg prepares statements it runs repeatedly, and PostgreSQL may then reuse one generic
    plan; a plan made while a table was small keeps scanning it once it has grown, until the
    next autoanalyze. Partition tables grow by orders of magnitude in minutes.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def segment_filter(column: Any, segment: Segment | None) -> ColumnElement[bool] | None:
    """Rows of one segment of a parallel scan: id modulo total_segments is segment_number."""
    if segment is None:
        return None
    return (column % segment.total_segments) == segment.segment_number


def name_pattern(column: Any, pattern: str) -> ColumnElement[bool] | None:
    """Glue's name pattern: '*' any characters, '|' between alternatives, the rest literal."""
    if not pattern:
        return None
    clauses = []
    for alternative in pattern.lower().split("|"):
        escaped = alternative.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(column.like(escaped.replace("*", "%"), escape="\\"))
    return or_(*clauses)
