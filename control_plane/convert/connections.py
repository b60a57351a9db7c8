"""Connections, their filter, and hiding secrets from callers who asked not to see them."""

from __future__ import annotations

from collections.abc import Mapping

from sluice.catalog.core import model
from sluice.catalog.v1 import types_pb2 as pb
from sluice.common.redaction import is_secret_key
from sluice.control_plane.convert.common import map_field, params, timestamp


def is_secret_property(key: str) -> bool:
    """Whether a connection property is secret: the rule that also encrypts it at rest and
    redacts it from the audit trail (sluice.common.redaction.is_secret_key)."""
    return is_secret_key(key)


def _requirements_from_proto(
    message: pb.ConnectionInput,
) -> model.PhysicalConnectionRequirements | None:
    if not message.HasField("physical_connection_requirements"):
        return None
    req = message.physical_connection_requirements
    return model.PhysicalConnectionRequirements(
        subnet_id=req.subnet_id,
        security_group_id_list=tuple(req.security_group_id_list),
        availability_zone=req.availability_zone,
    )


def _requirements_to_proto(
    req: model.PhysicalConnectionRequirements | None,
) -> pb.PhysicalConnectionRequirements | None:
    if req is None:
        return None
    return pb.PhysicalConnectionRequirements(
        subnet_id=req.subnet_id,
        security_group_id_list=list(req.security_group_id_list),
        availability_zone=req.availability_zone,
    )


def connection_input_from_proto(message: pb.ConnectionInput) -> model.ConnectionInput:
    return model.ConnectionInput(
        name=message.name,
        connection_type=message.connection_type,
        description=message.description,
        match_criteria=tuple(message.match_criteria),
        connection_properties=params(message.connection_properties),
        physical_connection_requirements=_requirements_from_proto(message),
    )


def connection_to_proto(connection: model.Connection, *, hide_password: bool) -> pb.Connection:
    """The connection as a caller sees it; hide_password leaves out secret properties."""
    properties: Mapping[str, str] = connection.connection_properties
    if hide_password:
        properties = {k: v for k, v in properties.items() if not is_secret_property(k)}
    return pb.Connection(
        name=connection.name,
        description=connection.description,
        connection_type=connection.connection_type,
        match_criteria=list(connection.match_criteria),
        connection_properties=map_field(properties),
        physical_connection_requirements=_requirements_to_proto(
            connection.physical_connection_requirements
        ),
        creation_time=timestamp(connection.creation_time),
        last_updated_time=timestamp(connection.last_updated_time),
        last_updated_by=connection.last_updated_by,
        catalog_id=connection.catalog_id,
    )


def connections_filter_from_proto(request: pb.GetConnectionsFilter) -> model.GetConnectionsFilter:
    return model.GetConnectionsFilter(
        match_criteria=tuple(request.match_criteria), connection_type=request.connection_type
    )
