"""Databases."""

from __future__ import annotations

from sluice.catalog.core import model
from sluice.catalog.v1 import types_pb2 as pb
from sluice.control_plane.convert.common import map_field, params, timestamp


def database_input_from_proto(message: pb.DatabaseInput) -> model.DatabaseInput:
    return model.DatabaseInput(
        name=message.name,
        description=message.description,
        location_uri=message.location_uri,
        parameters=params(message.parameters),
    )


def database_to_proto(database: model.Database) -> pb.Database:
    return pb.Database(
        name=database.name,
        description=database.description,
        location_uri=database.location_uri,
        parameters=map_field(database.parameters),
        create_time=timestamp(database.create_time),
        catalog_id=database.catalog_id,
    )
