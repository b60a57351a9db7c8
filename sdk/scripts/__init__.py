"""Script generation: Glue-style ETL scripts from a source table, a target and a column mapping,
or from a dataflow graph, and the graph of a script (the server parses it, never runs it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from sluice.jobs.v1 import codegen_pb2 as api
from sluice.jobs.v1 import codegen_pb2_grpc, scripts_pb2, scripts_pb2_grpc
from sluice.sdk._calls import ServiceCalls
from sluice.sdk.config import ClientOptions
from sluice.sdk.messages import to_message

# An entry, a dict of its fields, or (source path, source type, target path, target type).
MappingLike = api.MappingEntry | Mapping[str, Any] | Sequence[str]
_MAPPING_FIELDS = ("source_path", "source_type", "target_path", "target_type")


@dataclass(frozen=True)
class FileTarget:
    """Files a plan writes: a path (file://, s3://), a format, partition columns."""

    path: str
    format: str = "parquet"
    partition_keys: Sequence[str] = ()

    def location(self) -> api.Location:
        args = [
            api.CodeGenNodeArg(name="path", value=_literal(self.path)),
            api.CodeGenNodeArg(name="format", value=_literal(self.format)),
        ]
        if self.partition_keys:
            keys = "[" + ", ".join(_literal(k) for k in self.partition_keys) + "]"
            args.append(api.CodeGenNodeArg(name="partitionKeys", value=keys))
        return api.Location(s3=args)


def _literal(value: str) -> str:
    return repr(value)


def mapping_entry(value: MappingLike) -> api.MappingEntry:
    """A mapping entry from an entry, a dict of its fields or a 4-item sequence."""
    if isinstance(value, api.MappingEntry | Mapping):
        return to_message(value, api.MappingEntry)
    items = list(value)
    if len(items) != 4 or not all(isinstance(v, str) for v in items):
        raise ValueError(
            f"a mapping entry is (source, source type, target, target type): {value!r}"
        )
    return api.MappingEntry(**dict(zip(_MAPPING_FIELDS, items, strict=True)))


def _entry(database: str, table: str) -> api.CatalogEntry:
    return api.CatalogEntry(database_name=database, table_name=table)


class ScriptsClient(ServiceCalls):
    """Glue's code generation calls (GetMapping, GetPlan, CreateScript, GetDataflowGraph), and
    uploaded scripts read back (ScriptService.GetScript). Obtain one from `Client.scripts`.

    Example:
        >>> mapping = client.scripts.get_mapping(("sales", "orders"))  # doctest: +SKIP
        >>> script = client.scripts.get_plan(("sales", "orders"), mapping,
        ...     target=FileTarget("file:///data/out", partition_keys=["year"]))  # doctest: +SKIP
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = codegen_pb2_grpc.CodeGenServiceStub(channel)
        self._uploads = scripts_pb2_grpc.ScriptServiceStub(channel)

    def get(self, name: str) -> bytes:
        """The content of script `name`, as uploaded (`client.jobs.upload_script`).

        Raises:
            EntityNotFound: The account has no script by that name.
            AccessDenied: The caller may not sluice:GetScript on it.
        """
        response: scripts_pb2.GetScriptResponse = self._call(
            self._uploads.GetScript, scripts_pb2.GetScriptRequest(name=name)
        )
        return response.content

    def get_mapping(
        self, source: tuple[str, str], sinks: Iterable[tuple[str, str]] = ()
    ) -> list[api.MappingEntry]:
        """The source table's columns mapped onto the first sink table's (by name, cast to its
        types), or every column as it is when there is no sink table.

        Raises:
            InvalidInput: The source table is not in the catalog.
            AccessDenied: The caller may not read one of the tables.
        """
        response: api.GetMappingResponse = self._call(
            self._stub.GetMapping,
            api.GetMappingRequest(source=_entry(*source), sinks=[_entry(*s) for s in sinks]),
        )
        return list(response.mapping)

    def get_plan(
        self,
        source: tuple[str, str],
        mapping: Iterable[MappingLike] = (),
        *,
        sinks: Iterable[tuple[str, str]] = (),
        target: FileTarget | None = None,
    ) -> str:
        """A Python script reading source, applying the mapping (the proposed one if empty) and
        writing the sinks: files at target (the sink tables created or updated in the catalog),
        or into existing sink tables.

        Raises:
            InvalidInput: A table is not in the catalog, the mapping names a column the tables
                do not have, or a partition key is not a mapped column.
        """
        request = api.GetPlanRequest(
            source=_entry(*source),
            mapping=[mapping_entry(m) for m in mapping],
            sinks=[_entry(*s) for s in sinks],
            language="PYTHON",
        )
        if target is not None:
            request.location.CopyFrom(target.location())
        response: api.GetPlanResponse = self._call(self._stub.GetPlan, request)
        return response.python_script

    def create_script(
        self,
        nodes: Iterable[api.CodeGenNode | Mapping[str, Any]],
        edges: Iterable[api.CodeGenEdge | Mapping[str, Any]] = (),
    ) -> str:
        """The script of a dataflow graph.

        Raises:
            InvalidInput: An unknown node type or argument, an edge to a missing node, a cycle.
        """
        request = api.CreateScriptRequest(
            dag_nodes=[to_message(n, api.CodeGenNode) for n in nodes],
            dag_edges=[to_message(e, api.CodeGenEdge) for e in edges],
            language="PYTHON",
        )
        response: api.CreateScriptResponse = self._call(self._stub.CreateScript, request)
        return response.python_script

    def get_dataflow_graph(
        self, script: str
    ) -> tuple[list[api.CodeGenNode], list[api.CodeGenEdge]]:
        """The nodes and edges of a script's recognised steps.

        Raises:
            InvalidInput: The script is not valid Python, or a step's arguments are not literals.
        """
        response: api.GetDataflowGraphResponse = self._call(
            self._stub.GetDataflowGraph, api.GetDataflowGraphRequest(python_script=script)
        )
        return list(response.dag_nodes), list(response.dag_edges)


__all__ = ["FileTarget", "MappingLike", "ScriptsClient", "mapping_entry"]
