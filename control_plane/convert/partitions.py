"""Partitions, partition value lists, and the per-item errors of batch calls."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sluice.catalog.core import model
from sluice.catalog.v1 import types_pb2 as pb
from sluice.control_plane.convert.common import (
    datetime_from,
    map_field,
    params,
    required,
    timestamp,
)
from sluice.control_plane.convert.storage import (
    optional_storage_descriptor,
    storage_descriptor_to_proto,
)


def partition_input_from_proto(message: pb.PartitionInput) -> model.PartitionInput:
    return model.PartitionInput(
        values=tuple(message.values),
        last_access_time=datetime_from(message, "last_access_time"),
        storage_descriptor=optional_storage_descriptor(message),
        parameters=params(message.parameters),
    )


def partition_to_proto(partition: model.Partition) -> pb.Partition:
    return pb.Partition(
        values=list(partition.values),
        database_name=partition.database_name,
        table_name=partition.table_name,
        creation_time=timestamp(partition.creation_time),
        last_access_time=timestamp(partition.last_access_time),
        storage_descriptor=storage_descriptor_to_proto(partition.storage_descriptor),
        parameters=map_field(partition.parameters),
        catalog_id=partition.catalog_id,
    )


def value_lists_from_proto(lists: Iterable[pb.PartitionValueList]) -> list[tuple[str, ...]]:
    return [tuple(item.values) for item in lists]


def value_lists_to_proto(lists: Iterable[Sequence[str]]) -> list[pb.PartitionValueList]:
    return [pb.PartitionValueList(values=list(values)) for values in lists]


def update_entry_from_proto(
    entry: pb.BatchUpdatePartitionRequestEntry,
) -> model.BatchUpdatePartitionEntry:
    """A BatchUpdatePartition entry; every entry needs its partition_input."""
    return model.BatchUpdatePartitionEntry(
        partition_value_list=tuple(entry.partition_value_list),
        partition_input=partition_input_from_proto(required(entry, "partition_input")),
    )


def error_detail_to_proto(detail: model.ErrorDetail) -> pb.ErrorDetail:
    return pb.ErrorDetail(error_code=detail.error_code, error_message=detail.error_message)


def partition_error_to_proto(error: model.PartitionError) -> pb.PartitionError:
    return pb.PartitionError(
        partition_values=list(error.partition_values),
        error_detail=error_detail_to_proto(error.error_detail),
    )


def update_failure_to_proto(
    values: Sequence[str], error: model.PartitionError
) -> pb.BatchUpdatePartitionFailureEntry:
    return pb.BatchUpdatePartitionFailureEntry(
        partition_value_list=list(values),
        error_detail=error_detail_to_proto(error.error_detail),
    )


def table_error_to_proto(error: model.TableError) -> pb.TableError:
    return pb.TableError(
        table_name=error.table_name, error_detail=error_detail_to_proto(error.error_detail)
    )
