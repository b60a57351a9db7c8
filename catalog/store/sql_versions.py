"""Table versions of the SQL catalog store: every version is a JSON snapshot, numbered 1, 2, ..."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, or_, select

from sluice.catalog.core.model import TableVersion
from sluice.catalog.core.names import resource_name
from sluice.catalog.core.store import sql_checks as checks
from sluice.catalog.core.store.sql_base import TABLES, SqlStoreBase, segment_filter
from sluice.catalog.core.store.sql_table_values import table_from_snapshot
from sluice.catalog.core.store.sql_tables import VERSIONS, version_number
from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.common.paging import Page, PageRequest


class TableVersionOps(SqlStoreBase):
    """Reading and pruning the version history that TableOps writes."""

    def get_table_version(
        self, catalog_id: str, database_name: str, table_name: str, version_id: str = ""
    ) -> TableVersion:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        name = resource_name("table", table_name)
        wanted = version_number(version_id) if version_id else None
        with self._db.read() as conn:
            ref = self._table_ref(conn, cat, db_name, name)
            version = ref.version if wanted is None else wanted
            data = conn.execute(
                select(VERSIONS.c.snapshot).where(
                    VERSIONS.c.table_id == ref.id, VERSIONS.c.version == version
                )
            ).scalar()
        if data is None:
            raise EntityNotFound(f"Version {version} of table {db_name}.{name} not found")
        table = table_from_snapshot(data, db_name, cat, version)
        return TableVersion(table=table, version_id=str(version))

    def get_table_versions(
        self, catalog_id: str, database_name: str, table_name: str, page: PageRequest
    ) -> Page[TableVersion]:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        name = resource_name("table", table_name)
        query = self._tokens.page_query(page, int, "GetTableVersions", cat, db_name, name)
        with self._db.read() as conn:
            ref = self._table_ref(conn, cat, db_name, name)
            stmt = select(VERSIONS.c.version, VERSIONS.c.snapshot).where(
                VERSIONS.c.table_id == ref.id
            )
            if (seg := segment_filter(VERSIONS.c.id, query.segment)) is not None:
                stmt = stmt.where(seg)
            if query.after is not None:
                stmt = stmt.where(VERSIONS.c.version < query.after)
            stmt = stmt.order_by(VERSIONS.c.version.desc()).limit(query.limit + 1)
            rows = conn.execute(stmt).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.version)
        versions = tuple(
            TableVersion(
                table=table_from_snapshot(row.snapshot, db_name, cat, row.version),
                version_id=str(row.version),
            )
            for row in kept
        )
        return Page(items=versions, next_token=token)

    def delete_table_version(
        self, catalog_id: str, database_name: str, table_name: str, version_id: str
    ) -> None:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        name = resource_name("table", table_name)
        if not version_id:
            raise InvalidInput("version_id is required")
        version = version_number(version_id)
        with self._db.write() as conn:
            ref = self._table_ref(conn, cat, db_name, name)
            if version == ref.version:
                raise InvalidInput(
                    f"version {version} is the current version of table {db_name}.{name} "
                    "and cannot be deleted"
                )
            deleted = conn.execute(
                delete(VERSIONS).where(VERSIONS.c.table_id == ref.id, VERSIONS.c.version == version)
            ).rowcount
        if not deleted:
            raise EntityNotFound(f"Version {version} of table {db_name}.{name} not found")

    def prune_table_versions(
        self, keep: int, limit: int, created_before: datetime | None = None
    ) -> int:
        if keep < 1 or limit < 1:
            raise ValueError("keep and limit must be positive")
        # Numbers only grow, so the newest `keep` versions are the ones numbered above this.
        old = VERSIONS.c.version <= TABLES.c.version - keep
        if created_before is not None:
            aged = and_(
                VERSIONS.c.create_time < created_before, VERSIONS.c.version < TABLES.c.version
            )
            old = or_(old, aged)
        with self._db.write() as conn:
            ids = (
                conn.execute(
                    select(VERSIONS.c.id)
                    .join(TABLES, TABLES.c.id == VERSIONS.c.table_id)
                    .where(old)
                    .order_by(VERSIONS.c.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            if not ids:
                return 0
            return conn.execute(delete(VERSIONS).where(VERSIONS.c.id.in_(ids))).rowcount
