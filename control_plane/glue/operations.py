"""Which gRPC method serves each Glue operation: found by name among the services' descriptors.

Glue's operation name is the RPC's name (`AWSGlue.GetTable` is `CatalogService/GetTable`); the
few that differ would be in RENAMES. Every unary RPC of the services given is served, so a new
RPC is on the Glue door the moment its service is; streaming RPCs (log tails) are not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

# Glue operation -> RPC name, where they differ.
RENAMES: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class GlueOperation:
    """A Glue operation and the gRPC method that serves it."""

    name: str
    method: str
    request: type[Message]
    response: type[Message]


def glue_operations(services: Iterable[str]) -> Mapping[str, GlueOperation]:
    """The Glue operations the unary RPCs of services (full names) serve, by Glue name."""
    rpc_to_glue = {rpc: glue for glue, rpc in RENAMES.items()}
    pool = descriptor_pool.Default()
    found: dict[str, GlueOperation] = {}
    for service_name in services:
        service = pool.FindServiceByName(service_name)
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                continue
            name = rpc_to_glue.get(method.name, method.name)
            found[name] = GlueOperation(
                name=name,
                method=f"/{service.full_name}/{method.name}",
                request=GetMessageClass(method.input_type),
                response=GetMessageClass(method.output_type),
            )
    return MappingProxyType(found)
