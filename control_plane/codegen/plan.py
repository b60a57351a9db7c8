"""GetMapping and GetPlan: a column mapping between catalog tables, and the graph of the script
that applies it (source, ApplyMapping, ResolveChoice, DropNullFields, sinks), as Glue plans it.

Tables come through a lookup the servicer gives (it authorises each read as the caller).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sluice.catalog.core.model import Column, Table
from sluice.common.errors import InvalidInput
from sluice.control_plane.codegen import dag
from sluice.control_plane.codegen.dag import Edge, Graph, Node

# A table of the catalog by (database, name); None when there is none.
TableLookup = Callable[[str, str], Table | None]


@dataclass(frozen=True)
class TableRef:
    database: str
    name: str

    def __str__(self) -> str:
        return f"{self.database}.{self.name}"


@dataclass(frozen=True)
class MappingEntry:
    source_table: str
    source_path: str
    source_type: str
    target_table: str
    target_path: str
    target_type: str


@dataclass(frozen=True)
class FileLocation:
    """Where file sinks write (Glue's Location.S3 arguments)."""

    path: str
    format: str = "parquet"
    partition_keys: tuple[str, ...] = ()
    connection_type: str = "s3"


def columns(table: Table) -> list[Column]:
    """A table's columns, then its partition keys."""
    data = list(table.storage_descriptor.columns) if table.storage_descriptor else []
    return [*data, *table.partition_keys]


def struct_fields(type_name: str) -> dict[str, str] | None:
    """The fields of a `struct<a:int,b:struct<...>>` type (lower-cased names); None if the type
    is not a struct."""
    text = type_name.strip()
    if not text.lower().startswith("struct<") or not text.endswith(">"):
        return None
    fields: dict[str, str] = {}
    depth = 0
    start = 0
    body = text[len("struct<") : -1]
    parts = []
    for index, char in enumerate(body):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:index])
            start = index + 1
    parts.append(body[start:])
    for part in parts:
        name, _, field_type = part.partition(":")
        if name.strip():
            fields[name.strip().strip("`").lower()] = field_type.strip()
    return fields


def path_type(table: Table, path: str) -> str | None:
    """The type of a column or nested field (`a.b.c`) of a table; None if it has none."""
    parts = path.split(".")
    by_name = {c.name.lower(): c.type for c in columns(table)}
    current = by_name.get(parts[0].lower())
    for part in parts[1:]:
        if current is None:
            return None
        fields = struct_fields(current)
        current = fields.get(part.lower()) if fields is not None else None
    return current


def table(lookup: TableLookup, ref: TableRef, role: str) -> Table:
    found = lookup(ref.database, ref.name)
    if found is None:
        raise InvalidInput(f"{role} table {ref} is not in the catalog")
    return found


def get_mapping(
    lookup: TableLookup, source: TableRef, sinks: Sequence[TableRef]
) -> list[MappingEntry]:
    """The source's columns mapped by name onto the first sink's (cast to its types); every
    column as it is when there is no sink table (yet)."""
    src = table(lookup, source, "source")
    target = lookup(sinks[0].database, sinks[0].name) if sinks else None
    target_name = sinks[0].name if sinks else src.name
    target_types = {c.name.lower(): c for c in columns(target)} if target is not None else None
    mapping = []
    for column in columns(src):
        if target_types is None:
            mapping.append(
                MappingEntry(
                    src.name, column.name, column.type, target_name, column.name, column.type
                )
            )
            continue
        match = target_types.get(column.name.lower())
        if match is not None:
            mapping.append(
                MappingEntry(
                    src.name, column.name, column.type, target_name, match.name, match.type
                )
            )
    return mapping


def check_mapping(
    mapping: Sequence[MappingEntry], src: Table, target: Table | None, target_ref: str
) -> None:
    """Every source path is in the source table, every target column in the target table.

    Raises:
        InvalidInput: naming the first path that is not.
    """
    if not mapping:
        raise InvalidInput("the mapping is empty")
    for entry in mapping:
        for value, what in (
            (entry.source_path, "source_path"),
            (entry.source_type, "source_type"),
            (entry.target_path, "target_path"),
            (entry.target_type, "target_type"),
        ):
            if not value:
                raise InvalidInput(f"a mapping entry has no {what}")
        if path_type(src, entry.source_path) is None:
            raise InvalidInput(
                f"mapping: source column {entry.source_path!r} is not in "
                f"{src.database_name}.{src.name}"
            )
        if target is not None and path_type(target, entry.target_path.split(".")[0]) is None:
            raise InvalidInput(
                f"mapping: target column {entry.target_path!r} is not in {target_ref}"
            )


def plan(
    lookup: TableLookup,
    mapping: Sequence[MappingEntry],
    source: TableRef,
    sinks: Sequence[TableRef],
    location: FileLocation | None,
) -> Graph:
    """The graph of Glue's plan: read the source, ApplyMapping, ResolveChoice, DropNullFields,
    then write each sink (files at the location, the sink table kept up to date; or into the
    existing sink table).

    Raises:
        InvalidInput: the source or a sink without location is not in the catalog, the mapping
            names a column the tables do not have, a partition key is not a mapped column, or
            there is nowhere to write.
    """
    if not sinks and location is None:
        raise InvalidInput("give sinks (catalog tables) or a location to write to")
    src = table(lookup, source, "source")
    targets: list[tuple[TableRef, Table | None]] = [
        (sink, lookup(sink.database, sink.name)) for sink in sinks
    ]
    if not mapping:
        mapping = get_mapping(lookup, source, sinks)
    first = targets[0] if targets else None
    target_table = first[1] if first is not None and location is None else None
    check_mapping(mapping, src, target_table, str(first[0]) if first else "")
    mapped = {e.target_path.split(".")[0] for e in mapping}
    if location is not None:
        for key in location.partition_keys:
            if key not in mapped:
                raise InvalidInput(f"partition key {key!r} is not a target column of the mapping")
    nodes: list[Node] = []
    edges: list[Edge] = []

    def add(node_type: str, args: Mapping[str, Any], frame: str | None) -> str:
        node_id = f"{node_type.lower()}{len(nodes)}"
        nodes.append(dag.make_node(node_id, node_type, args))
        if frame is not None:
            edges.append(Edge(frame, node_id, "frame"))
        return node_id

    last = add(dag.DATA_SOURCE, {"database": source.database, "table_name": source.name}, None)
    last = add(
        "ApplyMapping",
        {
            "mappings": tuple(
                (e.source_path, e.source_type, e.target_path, e.target_type) for e in mapping
            )
        },
        last,
    )
    if location is None and first is not None:
        choice: dict[str, Any] = {
            "choice": "match_catalog",
            "database": first[0].database,
            "table_name": first[0].name,
        }
    else:
        # Each mapped column resolved to its target type. Glue's plans say choice="make_struct",
        # for its choice types; Sluice's frames have none, and its awsglue would wrap every
        # field in a struct.
        specs = {
            e.target_path: f"cast:{e.target_type}" for e in mapping if "." not in e.target_path
        }
        choice = {"specs": tuple(specs.items())} if specs else {}
    if choice:
        last = add("ResolveChoice", choice, last)
    last = add("DropNullFields", {}, last)
    if location is not None:
        file_args: dict[str, Any] = {
            "connection_type": location.connection_type,
            "path": location.path,
            "format": location.format,
        }
        if location.partition_keys:
            file_args["partitionKeys"] = location.partition_keys
        for sink, _ in targets or [(None, None)]:
            sink_args = dict(file_args)
            if sink is not None:
                sink_args.update(database=sink.database, table_name=sink.name)
            add(dag.DATA_SINK, sink_args, last)
    else:
        for sink, found in targets:
            if found is None:
                raise InvalidInput(
                    f"sink table {sink} is not in the catalog: give a location to create it"
                )
            add(dag.DATA_SINK, {"database": sink.database, "table_name": sink.name}, last)
    return dag.ordered(nodes, edges)
