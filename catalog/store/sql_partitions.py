"""Partitions of the SQL catalog store.

A partition row keeps its values as given (values_json) and, per key, their order-preserving
encoding in a slot column k0..k9 (catalog.partition_keys); values_key joins the values as given
and identifies the partition within its table, so '01' and '1' are two partitions, as in Glue.
Batch calls validate every item first, then read and write the whole batch with one statement
each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Text,
    bindparam,
    delete,
    func,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from sluice.catalog.core.expression import parse, to_sql
from sluice.catalog.core.model import (
    BatchGetPartitionResult,
    BatchUpdatePartitionEntry,
    ErrorDetail,
    Partition,
    PartitionError,
    PartitionInput,
)
from sluice.catalog.core.names import resource_name
from sluice.catalog.core.partition_keys import (
    SLOT_COUNT,
    PartitionKey,
    check_count,
    check_text,
    encode_checked,
    partition_keys_of,
)
from sluice.catalog.core.store import sql_checks as checks
from sluice.catalog.core.store.rows import SqlPartition
from sluice.catalog.core.store.sql_base import (
    SqlStoreBase,
    TableRef,
    plan_for_current_sizes,
    segment_filter,
)
from sluice.catalog.core.store.sql_codec import (
    columns_from_json,
    storage_descriptor_from_json,
    storage_descriptor_to_json,
)
from sluice.common.db import insert_rows
from sluice.common.errors import (
    AlreadyExists,
    ConcurrentModification,
    EntityNotFound,
    InvalidInput,
    SluiceError,
)
from sluice.common.limits import check_batch
from sluice.common.paging import Page, PageRequest

PARTITIONS = SqlPartition.__table__
SLOTS = tuple(PARTITIONS.c[f"k{i}"] for i in range(SLOT_COUNT))
# values_key and the slot indexes must fit a PostgreSQL B-tree entry (about 2,700 bytes); an
# encoding is at most 20 bytes longer than its value, so ten slots stay within it too.
MAX_VALUES_BYTES = 2048

_SLOT_NAMES = tuple(f"k{i}" for i in range(SLOT_COUNT))
# Partition values cannot hold control characters, so this separator is unambiguous.
_SEPARATOR = "\x1f"
_COLUMNS = (
    PARTITIONS.c.id,
    PARTITIONS.c.values_json,
    PARTITIONS.c.values_key,
    PARTITIONS.c.storage_descriptor,
    PARTITIONS.c.parameters,
    PARTITIONS.c.creation_time,
    PARTITIONS.c.last_access_time,
)
# Failures of a batch: (position in the batch, the values it named, the error).
_Failures = list[tuple[int, tuple[str, ...], SluiceError]]


class _Target:
    """The table a partition call works on: names for messages, id and keys for SQL."""

    def __init__(self, catalog_id: str, database_name: str, table_name: str, ref: TableRef):
        self.catalog_id = catalog_id
        self.database_name = database_name
        self.table_name = table_name
        self.id = ref.id
        self.keys: tuple[PartitionKey, ...] = partition_keys_of(
            columns_from_json(ref.partition_keys)
        )
        if not self.keys:
            raise InvalidInput(f"table {database_name}.{table_name} has no partition keys")

    def identity(self, values: Sequence[str]) -> str:
        """The values_key naming a partition; InvalidInput if the values cannot name one.

        Values are not checked against their keys' types here, so a partition whose value
        no longer parses (one kept from before a type rule existed) can still be read and
        deleted.
        """
        check_count(self.keys, values)
        for key, value in zip(self.keys, values, strict=True):
            check_text(key, value)
        if sum(len(value.encode()) for value in values) > MAX_VALUES_BYTES:
            raise InvalidInput(
                f"the values of a partition may total at most {MAX_VALUES_BYTES} bytes"
            )
        return _joined(values)

    def encode(self, values: Sequence[str]) -> tuple[str, tuple[str | None, ...]]:
        """The values_key and slot encodings of new values; InvalidInput if they do not fit
        the keys (each value's text checked once, by identity)."""
        key = self.identity(values)
        encoded = tuple(encode_checked(k, v) for k, v in zip(self.keys, values, strict=True))
        return key, encoded

    def partition(self, row: Row) -> Partition:
        return Partition(
            values=tuple(row.values_json),
            database_name=self.database_name,
            table_name=self.table_name,
            catalog_id=self.catalog_id,
            creation_time=row.creation_time,
            last_access_time=row.last_access_time,
            storage_descriptor=storage_descriptor_from_json(row.storage_descriptor),
            parameters=dict(row.parameters),
        )

    def not_found(self, values: Sequence[str]) -> EntityNotFound:
        return EntityNotFound(
            f"Partition {list(values)} of table {self.database_name}.{self.table_name} not found"
        )

    def exists(self, values: Sequence[str]) -> AlreadyExists:
        return AlreadyExists(
            f"Partition {list(values)} of table {self.database_name}.{self.table_name} "
            "already exists"
        )


def _joined(values: Sequence[str]) -> str:
    return _SEPARATOR.join(values)


def _content(value: PartitionInput, key: str, encoded: Sequence[str | None]) -> dict[str, Any]:
    """The columns of a partition row that its PartitionInput determines."""
    row: dict[str, Any] = {
        "values_json": list(value.values),
        "values_key": key,
        "storage_descriptor": storage_descriptor_to_json(value.storage_descriptor),
        "parameters": dict(value.parameters),
        "last_access_time": value.last_access_time,
    }
    for i, slot in enumerate(_SLOT_NAMES):
        row[slot] = encoded[i] if i < len(encoded) else None
    return row


def _collided(target: _Target) -> ConcurrentModification:
    return ConcurrentModification(
        f"partitions of table {target.database_name}.{target.table_name} were changed by "
        "another call at the same time; retry"
    )


def _partition_errors(failures: _Failures) -> list[PartitionError]:
    return [
        PartitionError(values, ErrorDetail(exc.reason, exc.message))
        for _, values, exc in sorted(failures, key=lambda failure: failure[0])
    ]


def _lookup(conn: Connection, table_id: int, keys: Iterable[str], *columns: Any) -> list[Row]:
    """The rows of the partitions among `keys` (values_key) that exist, in one query; columns
    must include values_key."""
    wanted = list(keys)
    if not wanted:
        return []
    if conn.dialect.name != "postgresql":
        return list(
            conn.execute(
                select(*columns).where(
                    PARTITIONS.c.table_id == table_id, PARTITIONS.c.values_key.in_(wanted)
                )
            )
        )
    # One unique-index probe per key, whatever the table's size: PostgreSQL runs a long IN
    # list as a scan of all the table's partitions with a filter.
    given = (
        func.unnest(bindparam("keys", wanted, type_=postgresql.ARRAY(Text)))
        .table_valued("key")
        .render_derived()
    )
    probe = (
        select(*columns)
        .where(PARTITIONS.c.table_id == table_id, PARTITIONS.c.values_key == given.c.key)
        .limit(1)
        .lateral()
    )
    return list(conn.execute(select(*probe.c).select_from(given.join(probe, true()))))


def _existing(conn: Connection, table_id: int, keys: Iterable[str]) -> dict[str, int]:
    """The ids of the partitions among `keys` (values_key) that exist."""
    rows = _lookup(conn, table_id, keys, PARTITIONS.c.values_key, PARTITIONS.c.id)
    return {row.values_key: row.id for row in rows}


def _create_partitions(
    conn: Connection, target: _Target, inputs: Sequence[PartitionInput], now: datetime
) -> _Failures:
    failures: _Failures = []
    pending: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, value in enumerate(inputs):
        try:
            key, encoded = target.encode(value.values)
        except SluiceError as exc:
            failures.append((i, value.values, exc))
            continue
        if key in pending:
            failures.append((i, value.values, target.exists(value.values)))
            continue
        row = _content(value, key, encoded)
        row["table_id"] = target.id
        row["creation_time"] = now
        pending[key] = (i, row)
    for key in _existing(conn, target.id, pending):
        i, _row = pending.pop(key)
        failures.append((i, inputs[i].values, target.exists(inputs[i].values)))
    if pending:
        try:
            insert_rows(conn, PARTITIONS, [row for _, row in pending.values()])
        except IntegrityError:
            # A concurrent call created one of them after the check above.
            if len(inputs) == 1:
                raise target.exists(inputs[0].values) from None
            raise _collided(target) from None
    return failures


def _update_partitions(
    conn: Connection,
    target: _Target,
    entries: Sequence[tuple[tuple[str, ...], PartitionInput]],
) -> _Failures:
    failures: _Failures = []
    planned: list[tuple[int, str, str, dict[str, Any]]] = []
    old_keys: set[str] = set()
    new_keys: set[str] = set()
    for i, (old, value) in enumerate(entries):
        try:
            old_key = target.identity(old)
            new_key, new_encoded = target.encode(value.values)
        except SluiceError as exc:
            failures.append((i, old, exc))
            continue
        if old_key in old_keys:
            failures.append(
                (i, old, InvalidInput(f"partition {list(old)} is updated twice in the batch"))
            )
            continue
        if new_key in new_keys:
            failures.append((i, old, target.exists(value.values)))
            continue
        old_keys.add(old_key)
        new_keys.add(new_key)
        planned.append((i, old_key, new_key, _content(value, new_key, new_encoded)))
    existing = _existing(conn, target.id, old_keys | new_keys)
    params = []
    for i, old_key, new_key, content in planned:
        old, value = entries[i]
        if old_key not in existing:
            failures.append((i, old, target.not_found(old)))
        elif new_key != old_key and new_key in existing:
            failures.append((i, old, target.exists(value.values)))
        else:
            params.append({"partition_id": existing[old_key], **content})
    if params:
        result = conn.execute(
            update(PARTITIONS).where(PARTITIONS.c.id == bindparam("partition_id")), params
        )
        # A partition read above was deleted by a concurrent call before this update.
        if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(params):
            raise _collided(target)
    return failures


def _delete_partitions(
    conn: Connection, target: _Target, values_list: Sequence[Sequence[str]]
) -> _Failures:
    failures: _Failures = []
    wanted: dict[str, tuple[int, tuple[str, ...]]] = {}
    for i, values in enumerate(values_list):
        try:
            key = target.identity(values)
        except SluiceError as exc:
            failures.append((i, tuple(values), exc))
            continue
        wanted.setdefault(key, (i, tuple(values)))
    existing = _existing(conn, target.id, wanted)
    for key, (i, values) in wanted.items():
        if key not in existing:
            failures.append((i, values, target.not_found(values)))
    if existing:
        conn.execute(delete(PARTITIONS).where(PARTITIONS.c.id.in_(list(existing.values()))))
    return failures


class PartitionOps(SqlStoreBase):
    """Partitions, found by their encoded values and queried through the slot columns."""

    def create_partition(
        self, catalog_id: str, database_name: str, table_name: str, partition_input: PartitionInput
    ) -> Partition:
        value = checks.partition_input(partition_input)
        now = self._now()
        with self._db.write() as conn:
            target = self._partition_target(conn, catalog_id, database_name, table_name)
            failures = _create_partitions(conn, target, [value], now)
        if failures:
            raise failures[0][2]
        return Partition(
            values=value.values,
            database_name=target.database_name,
            table_name=target.table_name,
            catalog_id=target.catalog_id,
            creation_time=now,
            last_access_time=value.last_access_time,
            storage_descriptor=value.storage_descriptor,
            parameters=dict(value.parameters),
        )

    def batch_create_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        partition_inputs: Sequence[PartitionInput],
    ) -> list[PartitionError]:
        check_batch("BatchCreatePartition", len(partition_inputs))
        failures: _Failures = []
        valid: list[tuple[int, PartitionInput]] = []
        for i, given in enumerate(partition_inputs):
            try:
                valid.append((i, checks.partition_input(given)))
            except SluiceError as exc:
                failures.append((i, tuple(given.values), exc))
        now = self._now()
        with self._db.write() as conn:
            target = self._partition_target(conn, catalog_id, database_name, table_name)
            created = _create_partitions(conn, target, [value for _, value in valid], now)
        failures += [(valid[i][0], values, exc) for i, values, exc in created]
        return _partition_errors(failures)

    def get_partition(
        self, catalog_id: str, database_name: str, table_name: str, values: Sequence[str]
    ) -> Partition:
        with self._db.read() as conn:
            target = self._partition_target(conn, catalog_id, database_name, table_name)
            key = target.identity(values)
            row = conn.execute(
                select(*_COLUMNS).where(
                    PARTITIONS.c.table_id == target.id, PARTITIONS.c.values_key == key
                )
            ).first()
        if row is None:
            raise target.not_found(values)
        return target.partition(row)

    def get_partitions(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        expression: str,
        page: PageRequest,
    ) -> Page[Partition]:
        expr = parse(expression)
        with self._db.read() as conn:
            target = self._partition_target(conn, catalog_id, database_name, table_name)
            query = self._tokens.page_query(
                page,
                int,
                "GetPartitions",
                target.catalog_id,
                target.database_name,
                target.table_name,
                expression,
            )
            stmt = select(*_COLUMNS).where(PARTITIONS.c.table_id == target.id)
            if expr is not None:
                stmt = stmt.where(to_sql(expr, target.keys, SLOTS[: len(target.keys)]))
            if (seg := segment_filter(PARTITIONS.c.id, query.segment)) is not None:
                stmt = stmt.where(seg)
            if query.after is not None:
                stmt = stmt.where(PARTITIONS.c.id > query.after)
            rows = conn.execute(stmt.order_by(PARTITIONS.c.id).limit(query.limit + 1)).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.id)
        return Page(items=tuple(target.partition(row) for row in kept), next_token=token)

    def batch_get_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        values_list: Sequence[Sequence[str]],
    ) -> BatchGetPartitionResult:
        check_batch("BatchGetPartition", len(values_list))
        with self._db.read() as conn:
            target = self._partition_target(conn, catalog_id, database_name, table_name)
            keys = list(dict.fromkeys(target.identity(values) for values in values_list))
            rows = _lookup(conn, target.id, keys, *_COLUMNS)
        by_key = {row.values_key: row for row in rows}
        found = tuple(target.partition(by_key[key]) for key in keys if key in by_key)
        return BatchGetPartitionResult(partitions=found)

    def update_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        values: Sequence[str],
        partition_input: PartitionInput,
    ) -> Partition:
        value = checks.partition_input(partition_input)
        with self._db.write() as conn:
            target = self._partition_target(conn, catalog_id, database_name, table_name)
            failures = _update_partitions(conn, target, [(tuple(values), value)])
            if failures:
                raise failures[0][2]
            row = conn.execute(
                select(*_COLUMNS).where(
                    PARTITIONS.c.table_id == target.id,
                    PARTITIONS.c.values_key == _joined(value.values),
                )
            ).first()
        if row is None:
            raise _collided(target)
        return target.partition(row)

    def batch_update_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        entries: Sequence[BatchUpdatePartitionEntry],
    ) -> list[tuple[tuple[str, ...], PartitionError]]:
        check_batch("BatchUpdatePartition", len(entries))
        failures: _Failures = []
        valid: list[tuple[int, tuple[tuple[str, ...], PartitionInput]]] = []
        for i, entry in enumerate(entries):
            old = tuple(entry.partition_value_list)
            try:
                valid.append((i, (old, checks.partition_input(entry.partition_input))))
            except SluiceError as exc:
                failures.append((i, old, exc))
        with self._db.write() as conn:
            target = self._partition_target(conn, catalog_id, database_name, table_name)
            updated = _update_partitions(conn, target, [item for _, item in valid])
        failures += [(valid[i][0], values, exc) for i, values, exc in updated]
        return [(error.partition_values, error) for error in _partition_errors(failures)]

    def delete_partition(
        self, catalog_id: str, database_name: str, table_name: str, values: Sequence[str]
    ) -> None:
        with self._db.write() as conn:
            target = self._partition_target(conn, catalog_id, database_name, table_name)
            failures = _delete_partitions(conn, target, [values])
        if failures:
            raise failures[0][2]

    def batch_delete_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        values_list: Sequence[Sequence[str]],
    ) -> list[PartitionError]:
        check_batch("BatchDeletePartition", len(values_list))
        with self._db.write() as conn:
            target = self._partition_target(conn, catalog_id, database_name, table_name)
            failures = _delete_partitions(conn, target, values_list)
        return _partition_errors(failures)

    def _partition_target(
        self, conn: Connection, catalog_id: str, database_name: str, table_name: str
    ) -> _Target:
        cat = checks.catalog_id(catalog_id)
        db_name = resource_name("database", database_name)
        name = resource_name("table", table_name)
        plan_for_current_sizes(conn)
        return _Target(cat, db_name, name, self._table_ref(conn, cat, db_name, name))
