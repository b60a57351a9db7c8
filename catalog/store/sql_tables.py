"""Tables of the SQL catalog store: create, read, list, update (a new version), delete."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, delete, exists, insert, select, update

from sluice.catalog.core.model import ErrorDetail, Table, TableError, TableInput
from sluice.catalog.core.name_patterns import table_name_matcher
from sluice.catalog.core.names import resource_name
from sluice.catalog.core.store import sql_checks as checks
from sluice.catalog.core.store.rows import SqlPartition, SqlTableParameter, SqlTableVersion
from sluice.catalog.core.store.sql_base import (
    DATABASES,
    TABLES,
    SqlStoreBase,
    enforce_quota,
    segment_filter,
)
from sluice.catalog.core.store.sql_table_values import (
    TABLE_COLUMNS,
    snapshot,
    table_from_values,
    table_values,
)
from sluice.common.errors import (
    AlreadyExists,
    ConcurrentModification,
    EntityNotFound,
    InvalidInput,
    SluiceError,
)
from sluice.common.limits import check_batch
from sluice.common.paging import Page, PageRequest

VERSIONS = SqlTableVersion.__table__
PARAMETERS = SqlTableParameter.__table__
PARTITIONS = SqlPartition.__table__

# Names read per query while GetTables tests them against its expression.
_NAME_CHUNK = 1000
# Bounds the retries of an update without version_id that keeps losing races.
_MAX_UPDATE_ATTEMPTS = 100


def _matching_names(
    conn: Connection,
    stmt: Select[Any],
    matches: Callable[[str], bool],
    after: str | None,
    wanted: int,
) -> list[str]:
    """The first `wanted` names after `after` that `matches` accepts, reading names in chunks:
    a regular expression cannot be run by both databases, so names are tested here."""
    names_of = stmt.with_only_columns(TABLES.c.name).order_by(TABLES.c.name).limit(_NAME_CHUNK)
    found: list[str] = []
    while len(found) < wanted:
        chunk = list(
            conn.execute(
                names_of if after is None else names_of.where(TABLES.c.name > after)
            ).scalars()
        )
        found.extend(name for name in chunk if matches(name))
        if len(chunk) < _NAME_CHUNK:
            break
        after = chunk[-1]
    return found[:wanted]


def version_number(version_id: str) -> int:
    """A version_id as the store numbers versions: "1", "2", ..."""
    if not version_id.isascii() or not version_id.isdigit() or len(version_id) > 9:
        raise InvalidInput(f"version_id {version_id!r} is not valid")
    return int(version_id)


# GetTable is the hottest call: build its statement once, bind only the values per call.
_GET_TABLE = (
    select(*TABLE_COLUMNS)
    .select_from(
        DATABASES.outerjoin(
            TABLES,
            (TABLES.c.database_id == DATABASES.c.id) & (TABLES.c.name == bindparam("table_name")),
        )
    )
    .where(
        DATABASES.c.catalog_id == bindparam("catalog_id"),
        DATABASES.c.name == bindparam("database_name"),
    )
)


class TableOps(SqlStoreBase):
    """Tables: a `tables` row holds the current definition, `table_versions` every version."""

    def create_table(
        self, catalog_id: str, database_name: str, table_input: TableInput, created_by: str = ""
    ) -> Table:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        value = checks.table_input(table_input)
        creator = checks.bounded("created_by", created_by, checks.MAX_SHORT_TEXT)
        now = self._now()
        values = table_values(value, create_time=now, update_time=now, created_by=creator)
        with self._db.write() as conn:
            database_id = self._database_id(conn, cat, db_name)
            taken = conn.execute(
                select(
                    exists().where(TABLES.c.database_id == database_id, TABLES.c.name == value.name)
                )
            ).scalar()
            if taken:
                raise AlreadyExists(f"Table {db_name}.{value.name} already exists")
            table_id = conn.execute(
                insert(TABLES).values(database_id=database_id, version=1, **values)
            ).inserted_primary_key[0]
            quota = self._quotas.tables_per_database
            enforce_quota(
                conn,
                select(TABLES.c.id).where(TABLES.c.database_id == database_id),
                quota,
                f"database {db_name} already has its quota of {quota} tables",
            )
            _write_version(conn, table_id, 1, values)
            _write_parameters(conn, table_id, value.parameters)
        return table_from_values(values, db_name, cat, 1)

    def get_table(self, catalog_id: str, database_name: str, name: str) -> Table:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        table_name = resource_name("table", name)
        params = {"catalog_id": cat, "database_name": db_name, "table_name": table_name}
        with self._db.read() as conn:
            row = conn.execute(_GET_TABLE, params).first()
        if row is None:
            raise EntityNotFound(f"Database {db_name} not found")
        if row.name is None:
            raise EntityNotFound(f"Table {db_name}.{table_name} not found")
        return table_from_values(row._mapping, db_name, cat, row.version)

    def get_tables(
        self, catalog_id: str, database_name: str, expression: str, page: PageRequest
    ) -> Page[Table]:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        matches = table_name_matcher(expression)
        query = self._tokens.page_query(page, str, "GetTables", cat, db_name, expression)
        with self._db.read() as conn:
            database_id = self._database_id(conn, cat, db_name)
            stmt = select(*TABLE_COLUMNS).where(TABLES.c.database_id == database_id)
            if (seg := segment_filter(TABLES.c.id, query.segment)) is not None:
                stmt = stmt.where(seg)
            if matches is not None:
                names = _matching_names(conn, stmt, matches, query.after, query.limit + 1)
                stmt = stmt.where(TABLES.c.name.in_(names))
            elif query.after is not None:
                stmt = stmt.where(TABLES.c.name > query.after)
            rows = conn.execute(stmt.order_by(TABLES.c.name).limit(query.limit + 1)).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.name)
        tables = tuple(table_from_values(row._mapping, db_name, cat, row.version) for row in kept)
        return Page(items=tables, next_token=token)

    def update_table(
        self,
        catalog_id: str,
        database_name: str,
        table_input: TableInput,
        *,
        version_id: str = "",
        skip_archive: bool = False,
    ) -> Table:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        value = checks.table_input(table_input)
        expected = version_number(version_id) if version_id else None
        now = self._now()
        with self._db.write() as conn:
            for _ in range(_MAX_UPDATE_ATTEMPTS):
                current = _current_table(conn, cat, db_name, value.name)
                if expected is not None and current.version != expected:
                    raise _stale(db_name, value.name, expected)
                _check_partition_keys(conn, current, value)
                values = table_values(
                    value,
                    create_time=current.create_time,
                    update_time=now,
                    created_by=current.created_by,
                )
                # The conditional update is what serialises writers: a lost race changes 0 rows.
                changed = conn.execute(
                    update(TABLES)
                    .where(TABLES.c.id == current.id, TABLES.c.version == current.version)
                    .values(version=TABLES.c.version + 1, **values)
                ).rowcount
                if changed:
                    break
                if expected is not None:
                    raise _stale(db_name, value.name, expected)
            else:
                raise ConcurrentModification(
                    f"Table {db_name}.{value.name} is being updated by too many writers; retry"
                )
            new_version = current.version + 1
            if skip_archive:
                conn.execute(
                    delete(VERSIONS).where(
                        VERSIONS.c.table_id == current.id, VERSIONS.c.version == current.version
                    )
                )
            _write_version(conn, current.id, new_version, values)
            conn.execute(delete(PARAMETERS).where(PARAMETERS.c.table_id == current.id))
            _write_parameters(conn, current.id, value.parameters)
        return table_from_values(values, db_name, cat, new_version)

    def delete_table(self, catalog_id: str, database_name: str, name: str) -> None:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        table_name = resource_name("table", name)
        with self._db.write() as conn:
            database_id = self._database_id(conn, cat, db_name)
            deleted = conn.execute(
                delete(TABLES).where(
                    TABLES.c.database_id == database_id, TABLES.c.name == table_name
                )
            ).rowcount
        if not deleted:
            raise EntityNotFound(f"Table {db_name}.{table_name} not found")

    def batch_delete_table(
        self, catalog_id: str, database_name: str, names: Sequence[str]
    ) -> list[TableError]:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        check_batch("BatchDeleteTable", len(names))
        errors: list[TableError] = []
        wanted: dict[str, str] = {}
        for given in names:
            try:
                wanted.setdefault(resource_name("table", given), given)
            except SluiceError as exc:
                errors.append(_table_error(given, exc))
        with self._db.write() as conn:
            database_id = self._database_id(conn, cat, db_name)
            in_batch = (TABLES.c.database_id == database_id) & TABLES.c.name.in_(wanted)
            found = set(conn.execute(select(TABLES.c.name).where(in_batch)).scalars())
            if found:
                conn.execute(delete(TABLES).where(in_batch))
        for name, given in wanted.items():
            if name not in found:
                errors.append(
                    _table_error(given, EntityNotFound(f"Table {db_name}.{name} not found"))
                )
        return errors


def _current_table(conn: Connection, catalog_id: str, database_name: str, name: str) -> Row:
    """The row of a table with what an update keeps: id, version, keys, creation."""
    row = conn.execute(
        select(
            DATABASES.c.id.label("database_id"),
            TABLES.c.id,
            TABLES.c.version,
            TABLES.c.partition_keys,
            TABLES.c.create_time,
            TABLES.c.created_by,
        )
        .select_from(
            DATABASES.outerjoin(
                TABLES, (TABLES.c.database_id == DATABASES.c.id) & (TABLES.c.name == name)
            )
        )
        .where(DATABASES.c.catalog_id == catalog_id, DATABASES.c.name == database_name)
    ).first()
    if row is None:
        raise EntityNotFound(f"Database {database_name} not found")
    if row.id is None:
        raise EntityNotFound(f"Table {database_name}.{name} not found")
    return row


def _check_partition_keys(conn: Connection, current: Row, value: TableInput) -> None:
    old = [(key["name"], key.get("type", "").lower()) for key in current.partition_keys]
    new = [(key.name, key.type.lower()) for key in value.partition_keys]
    if old == new:
        return
    has_partitions = conn.execute(
        select(exists().where(PARTITIONS.c.table_id == current.id))
    ).scalar()
    if has_partitions:
        raise InvalidInput(
            f"the partition keys of table {value.name} cannot change while it has partitions"
        )


def _write_version(conn: Connection, table_id: int, version: int, values: dict[str, Any]) -> None:
    conn.execute(
        insert(VERSIONS).values(
            table_id=table_id,
            version=version,
            snapshot=snapshot(values),
            create_time=values["update_time"],
        )
    )


def _write_parameters(conn: Connection, table_id: int, parameters: Mapping[str, str]) -> None:
    if parameters:
        conn.execute(
            insert(PARAMETERS),
            [{"table_id": table_id, "key": k, "value": v} for k, v in parameters.items()],
        )


def _stale(database_name: str, name: str, expected: int) -> ConcurrentModification:
    return ConcurrentModification(
        f"version {expected} of table {database_name}.{name} is not the current version; "
        "read the table again and retry"
    )


def _table_error(name: str, exc: SluiceError) -> TableError:
    return TableError(table_name=name, error_detail=ErrorDetail(exc.reason, exc.message))
