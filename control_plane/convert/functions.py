"""User-defined functions, their owners and resource URIs."""

from __future__ import annotations

from sluice.catalog.core import model
from sluice.catalog.v1 import types_pb2 as pb
from sluice.common.errors import InvalidInput
from sluice.control_plane.convert.common import timestamp

_PRINCIPALS_TO_PROTO: dict[model.PrincipalType, pb.PrincipalType] = {
    model.PrincipalType.USER: pb.PRINCIPAL_TYPE_USER,
    model.PrincipalType.ROLE: pb.PRINCIPAL_TYPE_ROLE,
    model.PrincipalType.GROUP: pb.PRINCIPAL_TYPE_GROUP,
}
_PRINCIPALS: dict[int, model.PrincipalType] = {v: k for k, v in _PRINCIPALS_TO_PROTO.items()}
_RESOURCES_TO_PROTO: dict[model.ResourceType, pb.ResourceType] = {
    model.ResourceType.JAR: pb.RESOURCE_TYPE_JAR,
    model.ResourceType.FILE: pb.RESOURCE_TYPE_FILE,
    model.ResourceType.ARCHIVE: pb.RESOURCE_TYPE_ARCHIVE,
}
_RESOURCES: dict[int, model.ResourceType] = {v: k for k, v in _RESOURCES_TO_PROTO.items()}


def principal_type_from_proto(value: int) -> model.PrincipalType:
    """An owner type; UNSPECIFIED means USER, as in Glue."""
    if value == pb.PRINCIPAL_TYPE_UNSPECIFIED:
        return model.PrincipalType.USER
    try:
        return _PRINCIPALS[value]
    except KeyError:
        raise InvalidInput("owner_type must be USER, ROLE or GROUP") from None


def resource_type_from_proto(value: int) -> model.ResourceType:
    """A resource URI's type; it must be given, UNSPECIFIED is an error."""
    try:
        return _RESOURCES[value]
    except KeyError:
        raise InvalidInput("resource_type must be JAR, FILE or ARCHIVE") from None


def _resource_uris_to_proto(uris: tuple[model.ResourceUri, ...]) -> list[pb.ResourceUri]:
    return [
        pb.ResourceUri(resource_type=_RESOURCES_TO_PROTO[u.resource_type], uri=u.uri) for u in uris
    ]


def function_input_from_proto(
    message: pb.UserDefinedFunctionInput,
) -> model.UserDefinedFunctionInput:
    return model.UserDefinedFunctionInput(
        function_name=message.function_name,
        class_name=message.class_name,
        owner_name=message.owner_name,
        owner_type=principal_type_from_proto(message.owner_type),
        resource_uris=tuple(
            model.ResourceUri(resource_type=resource_type_from_proto(u.resource_type), uri=u.uri)
            for u in message.resource_uris
        ),
    )


def function_to_proto(function: model.UserDefinedFunction) -> pb.UserDefinedFunction:
    return pb.UserDefinedFunction(
        function_name=function.function_name,
        database_name=function.database_name,
        class_name=function.class_name,
        owner_name=function.owner_name,
        owner_type=_PRINCIPALS_TO_PROTO[function.owner_type],
        create_time=timestamp(function.create_time),
        resource_uris=_resource_uris_to_proto(function.resource_uris),
        catalog_id=function.catalog_id,
    )
