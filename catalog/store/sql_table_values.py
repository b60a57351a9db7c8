"""A table's definition as the SQL store keeps it: the values of a `tables` row, the JSON
snapshot of a version, the text SearchTables looks in, and the Table they read back as."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sluice.catalog.core.model import Table, TableInput
from sluice.catalog.core.store.rows import SqlTable
from sluice.catalog.core.store.sql_codec import (
    columns_from_json,
    columns_to_json,
    storage_descriptor_from_json,
    storage_descriptor_to_json,
    time_from_json,
    time_to_json,
)

TABLES = SqlTable.__table__

# The columns of a `tables` row that a Table is built from.
TABLE_COLUMNS = tuple(
    TABLES.c[name]
    for name in (
        "name",
        "description",
        "owner",
        "table_type",
        "retention",
        "view_original_text",
        "view_expanded_text",
        "storage_descriptor",
        "partition_keys",
        "parameters",
        "created_by",
        "create_time",
        "update_time",
        "last_access_time",
        "version",
    )
)
_TIMES = ("create_time", "update_time", "last_access_time")


def table_values(
    value: TableInput, *, create_time: datetime, update_time: datetime, created_by: str
) -> dict[str, Any]:
    """The definition columns of a `tables` row for a validated TableInput."""
    return {
        "name": value.name,
        "description": value.description,
        "owner": value.owner,
        "table_type": value.table_type,
        "retention": value.retention,
        "view_original_text": value.view_original_text,
        "view_expanded_text": value.view_expanded_text,
        "storage_descriptor": storage_descriptor_to_json(value.storage_descriptor),
        "partition_keys": columns_to_json(value.partition_keys),
        "parameters": dict(value.parameters),
        "created_by": created_by,
        "create_time": create_time,
        "update_time": update_time,
        "last_access_time": value.last_access_time,
        "search_text": search_text(value),
    }


def snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of a version, from the values of a `tables` row."""
    out = {key: values[key] for key in values if key not in ("search_text", "version")}
    for key in _TIMES:
        out[key] = time_to_json(values[key])
    return out


def table_from_snapshot(
    data: Mapping[str, Any], database_name: str, catalog_id: str, version: int
) -> Table:
    values = dict(data)
    for key in _TIMES:
        values[key] = time_from_json(data[key])
    return table_from_values(values, database_name, catalog_id, version)


def table_from_values(
    values: Mapping[str, Any], database_name: str, catalog_id: str, version: int
) -> Table:
    """A Table from a `tables` row (a Row's _mapping) or a decoded snapshot."""
    return Table(
        name=values["name"],
        database_name=database_name,
        catalog_id=catalog_id,
        create_time=values["create_time"],
        update_time=values["update_time"],
        version_id=str(version),
        description=values["description"],
        owner=values["owner"],
        last_access_time=values["last_access_time"],
        retention=values["retention"],
        storage_descriptor=storage_descriptor_from_json(values["storage_descriptor"]),
        partition_keys=columns_from_json(values["partition_keys"]),
        view_original_text=values["view_original_text"],
        view_expanded_text=values["view_expanded_text"],
        table_type=values["table_type"],
        parameters=dict(values["parameters"]),
        created_by=values["created_by"],
    )


def search_text(value: TableInput) -> str:
    """What SearchTables matches search_text against, lower-cased (the database name is
    matched separately, from the databases table)."""
    parts = [value.name, value.description]
    columns = value.storage_descriptor.columns if value.storage_descriptor else ()
    for column in (*columns, *value.partition_keys):
        parts.append(column.name)
        parts.append(column.comment)
    for key, item in value.parameters.items():
        parts.append(key)
        parts.append(item)
    # A separator names cannot hold and texts rarely do, so a match stays inside one field.
    return "\x1f".join(part for part in parts if part).lower()
