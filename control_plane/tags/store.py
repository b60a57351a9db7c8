"""The one tag store of every taggable resource, SQLite or PostgreSQL through the same code.

Tags live with their resource, so that they go when it goes (and a resource made again under
the same name starts with none): jobs, triggers and crawlers keep theirs in their own rows (the
stores' ListJobs/ListTriggers/ListCrawlers filter on them); databases and connections in
database_tags and connection_tags, whose rows cascade with the resource's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from sluice.catalog.core import names
from sluice.catalog.core.store.rows import SqlConnectionTag, SqlDatabaseTag
from sluice.common.db import Database
from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.control_plane.jobs.checks import MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TAGS
from sluice.control_plane.tags.arns import KINDS

DATABASE_TAGS = SqlDatabaseTag.__table__
CONNECTION_TAGS = SqlConnectionTag.__table__
# The owners' tables, as far as tags need them (each store owns its full definition).
_META = MetaData()
_DATABASES = Table(
    "databases",
    _META,
    Column("id", Integer, primary_key=True),
    Column("catalog_id", String),
    Column("name", String),
)
_CONNECTIONS = Table(
    "connections",
    _META,
    Column("id", Integer, primary_key=True),
    Column("catalog_id", String),
    Column("name", String),
)
_JOBS = Table(
    "jobs",
    _META,
    Column("id", Integer, primary_key=True),
    Column("account", String),
    Column("name", String),
    Column("tags", JSON),
)
_JOB_TAGS = Table(
    "job_tags", _META, Column("job_id", Integer), Column("key", String), Column("value", String)
)
_TRIGGERS = Table(
    "triggers",
    _META,
    Column("id", Integer, primary_key=True),
    Column("account", String),
    Column("name", String),
    Column("tags", JSON),
)
_CRAWLERS = Table(
    "crawlers",
    _META,
    Column("id", Integer, primary_key=True),
    Column("account", String),
    Column("name", String),
    Column("tags", JSON),
)


@dataclass(frozen=True)
class _Kind:
    """Where one type's resources and tags are."""

    owner: Table
    account: str
    label: str
    # A JSON column of the owner's row holding the tags, or None.
    column: str | None
    # A table of one row per tag (resource id, key, value), or None.
    rows: Table | None
    rows_id: str


_KINDS: Mapping[str, _Kind] = {
    "database": _Kind(_DATABASES, "catalog_id", "Database", None, DATABASE_TAGS, "resource_id"),
    "connection": _Kind(
        _CONNECTIONS, "catalog_id", "Connection", None, CONNECTION_TAGS, "resource_id"
    ),
    "job": _Kind(_JOBS, "account", "Job", "tags", _JOB_TAGS, "job_id"),
    "trigger": _Kind(_TRIGGERS, "account", "Trigger", "tags", None, ""),
    "crawler": _Kind(_CRAWLERS, "account", "Crawler", "tags", None, ""),
}
assert set(_KINDS) == set(KINDS)


def check_tags(tags: Mapping[str, str], what: str = "Tags") -> dict[str, str]:
    """tags if Glue would take them (at most 50, keys 1-128, values up to 256 characters, no
    control characters), checked as the job and trigger stores check theirs."""
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"{what} holds more than {MAX_TAGS} tags")
    for key, value in tags.items():
        if not key:
            raise InvalidInput(f"{what}: a tag key must not be empty")
        names.text_value(f"{what}: tag key", key, MAX_TAG_KEY)
        names.text_value(f"{what}: the value of tag {key[:40]!r}", value, MAX_TAG_VALUE)
    return dict(tags)


class SqlTagStore:
    """Tags of databases, connections, jobs, triggers and crawlers over one database (whose
    catalog, jobs and crawler schemas are upgraded)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, account: str, kind: str, name: str) -> dict[str, str]:
        """The resource's tags; EntityNotFound if it does not exist in account."""
        with self._db.read() as conn:
            resource_id, current = _current(conn, _KINDS[kind], account, name, lock=False)
        del resource_id
        return current

    def tag(self, account: str, kind: str, name: str, tags: Mapping[str, str]) -> None:
        """Adds tags to the resource (an existing key takes the new value)."""
        check_tags(tags, "TagsToAdd")
        self._change(account, kind, name, add=tags, remove=())

    def untag(self, account: str, kind: str, name: str, keys: Iterable[str]) -> None:
        """Removes the tags of keys (keys the resource does not carry are ignored)."""
        self._change(account, kind, name, add={}, remove=tuple(keys))

    def _change(
        self,
        account: str,
        kind: str,
        name: str,
        *,
        add: Mapping[str, str],
        remove: Iterable[str],
    ) -> None:
        spec = _KINDS[kind]
        with self._db.write() as conn:
            resource_id, current = _current(conn, spec, account, name, lock=True)
            wanted = {k: v for k, v in current.items() if k not in set(remove)}
            wanted.update(add)
            if len(wanted) > MAX_TAGS:
                raise InvalidInput(f"a resource has at most {MAX_TAGS} tags")
            if wanted == current:
                return
            if spec.column is not None:
                conn.execute(
                    update(spec.owner)
                    .where(spec.owner.c.id == resource_id)
                    .values({spec.column: wanted})
                )
            if spec.rows is not None:
                rows_id = spec.rows.c[spec.rows_id]
                conn.execute(delete(spec.rows).where(rows_id == resource_id))
                if wanted:
                    conn.execute(
                        insert(spec.rows),
                        [
                            {spec.rows_id: resource_id, "key": k, "value": v}
                            for k, v in wanted.items()
                        ],
                    )


def _current(
    conn: Connection, spec: _Kind, account: str, name: str, *, lock: bool
) -> tuple[int, dict[str, str]]:
    owner = spec.owner
    columns = [owner.c.id] + ([owner.c[spec.column]] if spec.column is not None else [])
    stmt = select(*columns).where(owner.c[spec.account] == account, owner.c.name == name)
    if lock:
        # PostgreSQL: concurrent changes to one resource's tags go one after the other.
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise EntityNotFound(f"{spec.label} {name} not found")
    if spec.column is not None:
        return row.id, dict(row[1] or {})
    rows_id = spec.rows.c[spec.rows_id]  # type: ignore[union-attr]
    tags = conn.execute(
        select(spec.rows.c.key, spec.rows.c.value).where(rows_id == row.id)  # type: ignore[union-attr]
    ).all()
    return row.id, {key: value for key, value in tags}
