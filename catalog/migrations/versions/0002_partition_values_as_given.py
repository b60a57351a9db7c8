"""Partitions are identified by their values as given ('01' and '1' are two partitions of an
int key, as in Glue), and decimal, double and timestamp keys compare by value.

values_key becomes the values as given (values_json, which always kept them) joined with
'\\x1f', and every slot is re-encoded with the typed encoding of catalog.partition_keys.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# The store's own encoding: a later change to it must come with a migration of its own.
from sluice.catalog.core.model import Column
from sluice.catalog.core.partition_keys import (
    SLOT_COUNT,
    KeyType,
    PartitionKey,
    encode_value,
    partition_keys_of,
)
from sluice.common.errors import InvalidInput

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SEPARATOR = "\x1f"
# Values never hold control characters, so a key moved aside under this prefix is unique.
_ASIDE = "\x1e"
_CHUNK = 1000
_SLOTS = [f"k{i}" for i in range(SLOT_COUNT)]
_OLD_INT_OFFSET = 2**63


def _tables() -> tuple[sa.Table, sa.Table]:
    metadata = sa.MetaData()
    tables = sa.Table(
        "tables",
        metadata,
        sa.Column("id", sa.Integer()),
        sa.Column("partition_keys", sa.JSON()),
    )
    partitions = sa.Table(
        "partitions",
        metadata,
        sa.Column("id", sa.BigInteger()),
        sa.Column("table_id", sa.Integer()),
        sa.Column("values_json", sa.JSON()),
        sa.Column("values_key", sa.Text()),
        *(sa.Column(slot, sa.String()) for slot in _SLOTS),
    )
    return tables, partitions


def _keys(partition_keys: list[dict[str, Any]]) -> tuple[PartitionKey, ...]:
    columns = [Column(str(key.get("name", "")), str(key.get("type", ""))) for key in partition_keys]
    return partition_keys_of(columns)


def _new_slot(key: PartitionKey, raw: str) -> str | None:
    """The typed encoding of a stored value; a value the new rules refuse still gets a slot
    where one exists (an out-of-range tinyint orders as a bigint), else none."""
    try:
        return encode_value(key, raw)
    except InvalidInput:
        if key.key_type in (KeyType.TINYINT, KeyType.SMALLINT):
            try:
                return encode_value(PartitionKey(key.name, KeyType.INTEGER), raw)
            except InvalidInput:
                return None
        return None


def _old_slot(key: PartitionKey, raw: str) -> str:
    """The encoding revision 0001 used: offset integers, ISO dates, everything else as is."""
    if key.key_type in (KeyType.TINYINT, KeyType.SMALLINT, KeyType.INTEGER):
        try:
            return str(int(raw) + _OLD_INT_OFFSET).zfill(20)
        except ValueError:
            return raw
    return raw


def _rewrite(identity: bool) -> None:
    """Re-encodes every partition: values as given (identity) or revision 0001's encoding."""
    conn = op.get_bind()
    tables, partitions = _tables()
    # Moved aside first, so no new key can collide with an old one during the rewrite.
    conn.execute(
        sa.update(partitions).values(values_key=sa.literal(_ASIDE) + partitions.c.values_key)
    )
    for table_id, partition_keys in conn.execute(
        sa.select(tables.c.id, tables.c.partition_keys).order_by(tables.c.id)
    ):
        keys = _keys(partition_keys or [])
        after = -1
        while True:
            rows = conn.execute(
                sa.select(partitions.c.id, partitions.c.values_json)
                .where(partitions.c.table_id == table_id, partitions.c.id > after)
                .order_by(partitions.c.id)
                .limit(_CHUNK)
            ).all()
            if not rows:
                break
            after = rows[-1].id
            conn.execute(
                sa.update(partitions).where(partitions.c.id == sa.bindparam("row_id")),
                [_row_params(row.id, list(row.values_json), keys, identity) for row in rows],
            )


def _row_params(
    row_id: int, values: Sequence[str], keys: Sequence[PartitionKey], identity: bool
) -> dict[str, Any]:
    pairs = list(zip(keys, values, strict=False))
    if identity:
        slots = [_new_slot(key, value) for key, value in pairs]
        values_key = _SEPARATOR.join(values)
    else:
        slots = [_old_slot(key, value) for key, value in pairs]
        values_key = _SEPARATOR.join(str(slot) for slot in slots)
    params: dict[str, Any] = {"row_id": row_id, "values_key": values_key}
    for i, slot in enumerate(_SLOTS):
        params[slot] = slots[i] if i < len(slots) else None
    return params


def upgrade() -> None:
    _rewrite(identity=True)


def downgrade() -> None:
    # Fails on the unique key when two partitions differ only in how a number is written.
    _rewrite(identity=False)
