"""Tables, table versions, and the filters and sort criteria of SearchTables."""

from __future__ import annotations

from sluice.catalog.core import model
from sluice.catalog.v1 import types_pb2 as pb
from sluice.common.errors import InvalidInput
from sluice.control_plane.convert.common import datetime_from, map_field, params, timestamp
from sluice.control_plane.convert.storage import (
    columns_from_proto,
    columns_to_proto,
    optional_storage_descriptor,
    storage_descriptor_to_proto,
)

_COMPARATORS: dict[int, model.Comparator] = {
    pb.COMPARATOR_EQUALS: model.Comparator.EQUALS,
    pb.COMPARATOR_GREATER_THAN: model.Comparator.GREATER_THAN,
    pb.COMPARATOR_LESS_THAN: model.Comparator.LESS_THAN,
    pb.COMPARATOR_GREATER_THAN_EQUALS: model.Comparator.GREATER_THAN_EQUALS,
    pb.COMPARATOR_LESS_THAN_EQUALS: model.Comparator.LESS_THAN_EQUALS,
}


def table_input_from_proto(message: pb.TableInput) -> model.TableInput:
    return model.TableInput(
        name=message.name,
        description=message.description,
        owner=message.owner,
        last_access_time=datetime_from(message, "last_access_time"),
        retention=message.retention,
        storage_descriptor=optional_storage_descriptor(message),
        partition_keys=columns_from_proto(message.partition_keys),
        view_original_text=message.view_original_text,
        view_expanded_text=message.view_expanded_text,
        table_type=message.table_type,
        parameters=params(message.parameters),
    )


def table_to_proto(table: model.Table) -> pb.Table:
    return pb.Table(
        name=table.name,
        database_name=table.database_name,
        description=table.description,
        owner=table.owner,
        create_time=timestamp(table.create_time),
        update_time=timestamp(table.update_time),
        last_access_time=timestamp(table.last_access_time),
        retention=table.retention,
        storage_descriptor=storage_descriptor_to_proto(table.storage_descriptor),
        partition_keys=columns_to_proto(table.partition_keys),
        view_original_text=table.view_original_text,
        view_expanded_text=table.view_expanded_text,
        table_type=table.table_type,
        parameters=map_field(table.parameters),
        created_by=table.created_by,
        catalog_id=table.catalog_id,
        version_id=table.version_id,
    )


def table_version_to_proto(version: model.TableVersion) -> pb.TableVersion:
    return pb.TableVersion(table=table_to_proto(version.table), version_id=version.version_id)


def comparator_from_proto(value: int) -> model.Comparator:
    """A filter's comparator; it must be given, UNSPECIFIED is an error."""
    try:
        return _COMPARATORS[value]
    except KeyError:
        raise InvalidInput(
            "comparator must be one of EQUALS, GREATER_THAN, LESS_THAN, "
            "GREATER_THAN_EQUALS, LESS_THAN_EQUALS"
        ) from None


def predicate_from_proto(message: pb.PropertyPredicate) -> model.PropertyPredicate:
    return model.PropertyPredicate(
        key=message.key, value=message.value, comparator=comparator_from_proto(message.comparator)
    )


def sort_criterion_from_proto(message: pb.SortCriterion) -> model.SortCriterion:
    """A sort criterion; an UNSPECIFIED direction sorts ascending."""
    if message.sort == pb.SORT_DIRECTION_DESCENDING:
        return model.SortCriterion(field_name=message.field_name, ascending=False)
    if message.sort in (pb.SORT_DIRECTION_ASCENDING, pb.SORT_DIRECTION_UNSPECIFIED):
        return model.SortCriterion(field_name=message.field_name, ascending=True)
    raise InvalidInput("sort must be ASCENDING or DESCENDING")
