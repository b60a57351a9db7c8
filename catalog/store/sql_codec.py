"""JSON forms of the catalog's nested values, as the SQL store keeps them in JSON columns.

Fields at their default value are left out, which keeps partition rows small; the decoders
restore the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sluice.catalog.core.model import (
    Column,
    Order,
    PhysicalConnectionRequirements,
    ResourceType,
    ResourceUri,
    SerDeInfo,
    StorageDescriptor,
)

JsonObject = dict[str, Any]


def columns_to_json(columns: Sequence[Column]) -> list[JsonObject]:
    out: list[JsonObject] = []
    for column in columns:
        item: JsonObject = {"name": column.name}
        if column.type:
            item["type"] = column.type
        if column.comment:
            item["comment"] = column.comment
        if column.parameters:
            item["parameters"] = dict(column.parameters)
        out.append(item)
    return out


def columns_from_json(items: Sequence[Mapping[str, Any]] | None) -> tuple[Column, ...]:
    return tuple(
        Column(
            name=item["name"],
            type=item.get("type", ""),
            comment=item.get("comment", ""),
            parameters=dict(item.get("parameters", {})),
        )
        for item in items or ()
    )


def storage_descriptor_to_json(sd: StorageDescriptor | None) -> JsonObject | None:
    if sd is None:
        return None
    out: JsonObject = {}
    if sd.columns:
        out["columns"] = columns_to_json(sd.columns)
    for key in ("location", "input_format", "output_format"):
        if value := getattr(sd, key):
            out[key] = value
    if sd.additional_locations:
        out["additional_locations"] = list(sd.additional_locations)
    if sd.compressed:
        out["compressed"] = True
    if sd.number_of_buckets:
        out["number_of_buckets"] = sd.number_of_buckets
    if sd.serde_info is not None:
        serde = sd.serde_info
        out["serde_info"] = {
            "name": serde.name,
            "serialization_library": serde.serialization_library,
            "parameters": dict(serde.parameters),
        }
    if sd.bucket_columns:
        out["bucket_columns"] = list(sd.bucket_columns)
    if sd.sort_columns:
        out["sort_columns"] = [[o.column, o.sort_order] for o in sd.sort_columns]
    if sd.parameters:
        out["parameters"] = dict(sd.parameters)
    if sd.stored_as_sub_directories:
        out["stored_as_sub_directories"] = True
    return out


def storage_descriptor_from_json(data: Mapping[str, Any] | None) -> StorageDescriptor | None:
    if data is None:
        return None
    serde = data.get("serde_info")
    return StorageDescriptor(
        columns=columns_from_json(data.get("columns")),
        location=data.get("location", ""),
        additional_locations=tuple(data.get("additional_locations", ())),
        input_format=data.get("input_format", ""),
        output_format=data.get("output_format", ""),
        compressed=data.get("compressed", False),
        number_of_buckets=data.get("number_of_buckets", 0),
        serde_info=None
        if serde is None
        else SerDeInfo(
            name=serde["name"],
            serialization_library=serde["serialization_library"],
            parameters=dict(serde["parameters"]),
        ),
        bucket_columns=tuple(data.get("bucket_columns", ())),
        sort_columns=tuple(Order(column, order) for column, order in data.get("sort_columns", ())),
        parameters=dict(data.get("parameters", {})),
        stored_as_sub_directories=data.get("stored_as_sub_directories", False),
    )


def physical_requirements_to_json(
    value: PhysicalConnectionRequirements | None,
) -> JsonObject | None:
    if value is None:
        return None
    return {
        "subnet_id": value.subnet_id,
        "security_group_id_list": list(value.security_group_id_list),
        "availability_zone": value.availability_zone,
    }


def physical_requirements_from_json(
    data: Mapping[str, Any] | None,
) -> PhysicalConnectionRequirements | None:
    if data is None:
        return None
    return PhysicalConnectionRequirements(
        subnet_id=data["subnet_id"],
        security_group_id_list=tuple(data["security_group_id_list"]),
        availability_zone=data["availability_zone"],
    )


def resource_uris_to_json(uris: Sequence[ResourceUri]) -> list[dict[str, str]]:
    return [{"type": str(uri.resource_type), "uri": uri.uri} for uri in uris]


def resource_uris_from_json(items: Sequence[Mapping[str, str]]) -> tuple[ResourceUri, ...]:
    return tuple(ResourceUri(ResourceType(item["type"]), item["uri"]) for item in items)


def time_to_json(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def time_from_json(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
