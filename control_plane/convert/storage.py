"""Columns, SerDe info, sort orders and storage descriptors."""

from __future__ import annotations

from collections.abc import Iterable

from sluice.catalog.core import model
from sluice.catalog.v1 import types_pb2 as pb
from sluice.control_plane.convert.common import map_field, params


def column_from_proto(column: pb.Column) -> model.Column:
    return model.Column(
        name=column.name,
        type=column.type,
        comment=column.comment,
        parameters=params(column.parameters),
    )


def columns_from_proto(columns: Iterable[pb.Column]) -> tuple[model.Column, ...]:
    return tuple(column_from_proto(c) for c in columns)


def column_to_proto(column: model.Column) -> pb.Column:
    return pb.Column(
        name=column.name,
        type=column.type,
        comment=column.comment,
        parameters=map_field(column.parameters),
    )


def columns_to_proto(columns: Iterable[model.Column]) -> list[pb.Column]:
    return [column_to_proto(c) for c in columns]


def storage_descriptor_from_proto(sd: pb.StorageDescriptor) -> model.StorageDescriptor:
    serde = None
    if sd.HasField("serde_info"):
        serde = model.SerDeInfo(
            name=sd.serde_info.name,
            serialization_library=sd.serde_info.serialization_library,
            parameters=params(sd.serde_info.parameters),
        )
    return model.StorageDescriptor(
        columns=columns_from_proto(sd.columns),
        location=sd.location,
        additional_locations=tuple(sd.additional_locations),
        input_format=sd.input_format,
        output_format=sd.output_format,
        compressed=sd.compressed,
        number_of_buckets=sd.number_of_buckets,
        serde_info=serde,
        bucket_columns=tuple(sd.bucket_columns),
        sort_columns=tuple(
            model.Order(column=o.column, sort_order=o.sort_order) for o in sd.sort_columns
        ),
        parameters=params(sd.parameters),
        stored_as_sub_directories=sd.stored_as_sub_directories,
    )


def optional_storage_descriptor(
    message: pb.TableInput | pb.PartitionInput,
) -> model.StorageDescriptor | None:
    """The storage descriptor of an input message, None when it has none."""
    if not message.HasField("storage_descriptor"):
        return None
    return storage_descriptor_from_proto(message.storage_descriptor)


def storage_descriptor_to_proto(
    sd: model.StorageDescriptor | None,
) -> pb.StorageDescriptor | None:
    if sd is None:
        return None
    serde = None
    if sd.serde_info is not None:
        serde = pb.SerDeInfo(
            name=sd.serde_info.name,
            serialization_library=sd.serde_info.serialization_library,
            parameters=map_field(sd.serde_info.parameters),
        )
    return pb.StorageDescriptor(
        columns=columns_to_proto(sd.columns),
        location=sd.location,
        additional_locations=list(sd.additional_locations),
        input_format=sd.input_format,
        output_format=sd.output_format,
        compressed=sd.compressed,
        number_of_buckets=sd.number_of_buckets,
        serde_info=serde,
        bucket_columns=list(sd.bucket_columns),
        sort_columns=[pb.Order(column=o.column, sort_order=o.sort_order) for o in sd.sort_columns],
        parameters=map_field(sd.parameters),
        stored_as_sub_directories=sd.stored_as_sub_directories,
    )
