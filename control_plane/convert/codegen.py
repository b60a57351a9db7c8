"""CodeGenService messages ⇄ the code generator's graphs, mappings and locations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sluice.common.errors import InvalidInput
from sluice.control_plane.codegen import dag
from sluice.control_plane.codegen.dag import Edge, Graph, Node
from sluice.control_plane.codegen.plan import FileLocation, MappingEntry, TableRef
from sluice.jobs.v1 import codegen_pb2 as pb

PYTHON = "PYTHON"


def checked_language(language: str) -> None:
    """Raises InvalidInput unless language is Python (or not given): Sluice runs PySpark
    scripts only, so a Scala script (Glue's SCALA) is refused rather than generated."""
    if language and language.upper() != PYTHON:
        raise InvalidInput(
            f"Language {language!r} is not supported: Sluice generates and runs PYTHON scripts "
            "only (it cannot run Scala); ask for Language PYTHON"
        )


def _args(node_id: str, node_type: str, args: Iterable[pb.CodeGenNodeArg]) -> dict[str, object]:
    decoded: dict[str, object] = {}
    for arg in args:
        if arg.param:
            raise InvalidInput(
                f"node {node_id!r}: argument {arg.name!r} is a job parameter (Param); "
                "parameters are not supported, give its value"
            )
        if arg.name in decoded:
            raise InvalidInput(f"node {node_id!r}: argument {arg.name!r} is given twice")
        decoded[arg.name] = dag.decode_arg(node_id, node_type, arg.name, arg.value)
    return decoded


def node_from_proto(message: pb.CodeGenNode) -> Node:
    node_type = message.node_type
    if node_type not in dag.KINDS:
        raise InvalidInput(
            f"node {message.id!r}: node type {node_type!r} is not one of "
            + ", ".join(dag.NODE_TYPES)
        )
    return dag.make_node(message.id, node_type, _args(message.id, node_type, message.args))


def graph_from_proto(nodes: Sequence[pb.CodeGenNode], edges: Sequence[pb.CodeGenEdge]) -> Graph:
    """The checked graph of a CreateScript request (see dag.ordered)."""
    return dag.ordered(
        [node_from_proto(n) for n in nodes],
        [Edge(e.source, e.target, e.target_parameter) for e in edges],
    )


def graph_to_proto(graph: Graph) -> tuple[list[pb.CodeGenNode], list[pb.CodeGenEdge]]:
    nodes = [
        pb.CodeGenNode(
            id=node.id,
            node_type=node.node_type,
            args=[
                pb.CodeGenNodeArg(name=name, value=dag.encode_arg(value))
                for name, value in node.args.items()
            ],
            line_number=node.line_number,
        )
        for node in graph.nodes
    ]
    edges = [
        pb.CodeGenEdge(source=e.source, target=e.target, target_parameter=e.target_parameter)
        for e in graph.edges
    ]
    return nodes, edges


def table_ref(entry: pb.CatalogEntry, role: str) -> TableRef:
    if not entry.database_name or not entry.table_name:
        raise InvalidInput(f"the {role} needs database_name and table_name")
    return TableRef(entry.database_name, entry.table_name)


def mapping_from_proto(entries: Iterable[pb.MappingEntry]) -> list[MappingEntry]:
    return [
        MappingEntry(
            e.source_table,
            e.source_path,
            e.source_type,
            e.target_table,
            e.target_path,
            e.target_type,
        )
        for e in entries
    ]


def mapping_to_proto(entries: Iterable[MappingEntry]) -> list[pb.MappingEntry]:
    return [
        pb.MappingEntry(
            source_table=e.source_table,
            source_path=e.source_path,
            source_type=e.source_type,
            target_table=e.target_table,
            target_path=e.target_path,
            target_type=e.target_type,
        )
        for e in entries
    ]


def location_from_proto(location: pb.Location) -> FileLocation | None:
    """The S3 location's path, format and partitionKeys; None when there is none."""
    if location.jdbc:
        raise InvalidInput("JDBC locations are not supported: give an S3 location")
    if not location.s3:
        return None
    known = ("path", "format", "partitionKeys", "connection_type")
    values: dict[str, object] = {}
    for arg in location.s3:
        if arg.name not in known:
            raise InvalidInput(
                f"location: S3 argument {arg.name!r} is not one of {', '.join(known)}"
            )
        values[arg.name] = dag.decode_arg("location", dag.DATA_SINK, arg.name, arg.value)
    if "path" not in values:
        raise InvalidInput("location: the S3 location needs a path")
    return FileLocation(
        path=str(values["path"]),
        format=str(values.get("format", "parquet")),
        partition_keys=tuple(values.get("partitionKeys", ())),  # type: ignore[arg-type]
        connection_type=str(values.get("connection_type", "s3")),
    )
