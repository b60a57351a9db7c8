"""Validation of what callers give the SQL store: each check returns the normalised value or
raises InvalidInput, before anything is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from sluice.catalog.core import names
from sluice.catalog.core.model import (
    CONNECTION_TYPES,
    Column,
    ConnectionInput,
    DatabaseInput,
    PartitionInput,
    StorageDescriptor,
    TableInput,
    UserDefinedFunctionInput,
)
from sluice.catalog.core.partition_keys import partition_keys_of
from sluice.common.errors import InvalidInput

MAX_DESCRIPTION = 2048
MAX_PARAMETER_KEY = 255
MAX_PARAMETER_VALUE = 512_000
MAX_SHORT_TEXT = 255
MAX_COMMENT = 255
MAX_COLUMN_TYPE = 131_072
MAX_VIEW_TEXT = 409_600
MAX_URI = 1024
MAX_MATCH_CRITERIA = 10
MAX_RESOURCE_URIS = 1000


def catalog_id(value: str) -> str:
    """The catalog_id a store method was given: resolved by the caller, so never empty."""
    if not value:
        raise InvalidInput("catalog_id must not be empty")
    return names.catalog_id(value, default=value)


def bounded(field: str, value: str, max_length: int) -> str:
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters")
    return value


def description(value: str) -> str:
    return bounded("description", value, MAX_DESCRIPTION)


def parameters(field: str, params: Mapping[str, str]) -> dict[str, str]:
    """Parameter maps: keys of 1 to 255 characters on one line, values up to 512,000."""
    for key, value in params.items():
        if not key:
            raise InvalidInput(f"{field} keys must not be empty")
        names.text_value(f"{field} key", key, MAX_PARAMETER_KEY)
        bounded(f"{field} value of {key!r}", value, MAX_PARAMETER_VALUE)
    return dict(params)


def columns(field: str, items: Sequence[Column]) -> tuple[Column, ...]:
    out = []
    for column in items:
        bounded(f"{field} type", column.type, MAX_COLUMN_TYPE)
        bounded(f"{field} comment", column.comment, MAX_COMMENT)
        out.append(
            Column(
                name=names.column_name(column.name),
                type=column.type,
                comment=column.comment,
                parameters=parameters(f"{field} parameters", column.parameters),
            )
        )
    return tuple(out)


def storage_descriptor(sd: StorageDescriptor | None) -> StorageDescriptor | None:
    if sd is None:
        return None
    if sd.number_of_buckets < -1:
        raise InvalidInput("number_of_buckets must be -1 or more")
    serde = sd.serde_info
    if serde is not None:
        serde = replace(serde, parameters=parameters("serde parameters", serde.parameters))
    return replace(
        sd,
        columns=columns("column", sd.columns),
        serde_info=serde,
        parameters=parameters("storage descriptor parameters", sd.parameters),
    )


def database_input(value: DatabaseInput) -> DatabaseInput:
    return DatabaseInput(
        name=names.resource_name("database", value.name),
        description=description(value.description),
        location_uri=bounded("location_uri", value.location_uri, MAX_URI),
        parameters=parameters("parameters", value.parameters),
    )


def table_input(value: TableInput) -> TableInput:
    keys = columns("partition key", value.partition_keys)
    partition_keys_of(keys)
    if value.retention < 0:
        raise InvalidInput("retention must not be negative")
    return replace(
        value,
        name=names.resource_name("table", value.name),
        description=description(value.description),
        owner=bounded("owner", value.owner, MAX_SHORT_TEXT),
        table_type=bounded("table_type", value.table_type, MAX_SHORT_TEXT),
        view_original_text=bounded("view_original_text", value.view_original_text, MAX_VIEW_TEXT),
        view_expanded_text=bounded("view_expanded_text", value.view_expanded_text, MAX_VIEW_TEXT),
        storage_descriptor=storage_descriptor(value.storage_descriptor),
        partition_keys=keys,
        parameters=parameters("parameters", value.parameters),
    )


def partition_input(value: PartitionInput) -> PartitionInput:
    """Everything but the values, which only the table's partition keys can check."""
    return replace(
        value,
        values=tuple(value.values),
        storage_descriptor=storage_descriptor(value.storage_descriptor),
        parameters=parameters("parameters", value.parameters),
    )


def connection_input(value: ConnectionInput) -> ConnectionInput:
    if value.connection_type not in CONNECTION_TYPES:
        allowed = ", ".join(sorted(CONNECTION_TYPES))
        raise InvalidInput(f"connection_type {value.connection_type!r} is not one of {allowed}")
    if len(value.match_criteria) > MAX_MATCH_CRITERIA:
        raise InvalidInput(f"match_criteria has more than {MAX_MATCH_CRITERIA} items")
    return replace(
        value,
        name=names.resource_name("connection", value.name),
        description=description(value.description),
        match_criteria=match_criteria(value.match_criteria),
        connection_properties=parameters("connection_properties", value.connection_properties),
    )


def match_criteria(items: Sequence[str]) -> tuple[str, ...]:
    for item in items:
        if not item:
            raise InvalidInput("a match criterion must not be empty")
        names.text_value("match criterion", item, MAX_SHORT_TEXT)
    return tuple(items)


def function_input(value: UserDefinedFunctionInput) -> UserDefinedFunctionInput:
    if not value.class_name:
        raise InvalidInput("class_name is required")
    names.text_value("class_name", value.class_name, MAX_SHORT_TEXT)
    if len(value.resource_uris) > MAX_RESOURCE_URIS:
        raise InvalidInput(f"resource_uris has more than {MAX_RESOURCE_URIS} items")
    for uri in value.resource_uris:
        if not uri.uri:
            raise InvalidInput("a resource uri must not be empty")
        bounded("resource uri", uri.uri, MAX_URI)
    return replace(
        value,
        function_name=names.resource_name("function", value.function_name),
        owner_name=bounded("owner_name", value.owner_name, MAX_SHORT_TEXT),
        resource_uris=tuple(value.resource_uris),
    )


def same_name(kind: str, name: str, input_name: str) -> None:
    """Updates address a resource by name and cannot rename it."""
    if input_name and names.resource_name(kind, input_name) != name:
        raise InvalidInput(f"renaming a {kind} is not supported ({name} -> {input_name})")
