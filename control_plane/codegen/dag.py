"""Dataflow graphs (Glue's CodeGenNode / CodeGenEdge): the node kinds, their arguments, and the
checks that make a graph one a script can be generated from.

A node's id is the script's variable for its result; an edge feeds a node's result into a
parameter of another (`frame`, `frame1`/`frame2` of a Join, a table alias of a SparkSQL node).
Argument values arrive as Python literal text (`"sales"`, `["year"]`) and are decoded with
ast.literal_eval; a string argument whose text is not a literal is taken as the string itself.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sluice.common.errors import InvalidInput
from sluice.control_plane.codegen import literals

DATA_SOURCE = "DataSource"
DATA_SINK = "DataSink"
SPARK_SQL = "SparkSQL"
FILTER = "Filter"
TRANSFORMS = (
    "ApplyMapping",
    "ResolveChoice",
    "DropNullFields",
    "Filter",
    "Join",
    "SelectFields",
    "DropFields",
    "RenameField",
)
NODE_TYPES = (DATA_SOURCE, *TRANSFORMS, SPARK_SQL, DATA_SINK)
FILTER_OPERATORS = ("==", "!=", "<", "<=", ">", ">=")
LOGICAL_OPERATORS = ("and", "or")
CONNECTION_TYPES = ("s3", "file", "hdfs")
FORMATS = ("parquet", "glueparquet", "csv", "json", "orc", "avro")
MAX_NODES = 200
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
# Names the generated script uses itself: a node may not be called so.
RESERVED = frozenset(
    {
        "args",
        "glue_context",
        "job",
        "sys",
        "GlueContext",
        "Job",
        "DynamicFrame",
        "SparkContext",
        "getResolvedOptions",
        "spark_sql_query",
        "row",
        *TRANSFORMS,
    }
)


@dataclass(frozen=True)
class Node:
    """A node with its arguments decoded (canonical: defaults left out)."""

    id: str
    node_type: str
    args: Mapping[str, Any] = field(default_factory=dict)
    line_number: int = 0


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    target_parameter: str


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def same_as(self, other: Graph) -> bool:
        """Whether both have the same nodes (line numbers aside) and edges."""

        def key(graph: Graph) -> list[tuple[str, str, dict[str, Any]]]:
            return sorted(((n.id, n.node_type, dict(n.args)) for n in graph.nodes), key=str)

        return key(self) == key(other) and set(self.edges) == set(other.edges)


# Argument checks: each decodes one value or raises ValueError saying what it must be.


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("must be a list of non-empty strings")
    return tuple(value)


def _options(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValueError("must be a dict with string keys")
    for item in value.values():
        if not isinstance(item, str | int | float | bool):
            raise ValueError("must be a dict of strings, numbers and booleans")
    return MappingProxyType(dict(sorted(value.items())))


def _mappings(value: Any) -> tuple[tuple[str, str, str, str], ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a non-empty list of (source, source type, target, target type)")
    out = []
    for item in value:
        if (
            not isinstance(item, list | tuple)
            or len(item) != 4
            or not all(isinstance(v, str) and v for v in item)
        ):
            raise ValueError(
                f"must be a list of (source, source type, target, target type): {item!r} is not"
            )
        out.append(tuple(item))
    return tuple(out)  # type: ignore[return-value]


def _specs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a non-empty list of (path, action)")
    out = []
    for item in value:
        if (
            not isinstance(item, list | tuple)
            or len(item) != 2
            or not all(isinstance(v, str) and v for v in item)
        ):
            raise ValueError(f"must be a list of (path, action): {item!r} is not")
        out.append(tuple(item))
    return tuple(out)  # type: ignore[return-value]


def _conditions(value: Any) -> tuple[tuple[str, str, Any], ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a non-empty list of (column, operator, value)")
    out = []
    for item in value:
        if not isinstance(item, list | tuple) or len(item) != 3:
            raise ValueError(f"must be a list of (column, operator, value): {item!r} is not")
        column, operator, literal = item
        if not isinstance(column, str) or not column:
            raise ValueError(f"a condition's column must be a non-empty string: {column!r}")
        if operator not in FILTER_OPERATORS:
            raise ValueError(f"operator {operator!r} is not one of {', '.join(FILTER_OPERATORS)}")
        if isinstance(literal, bool) or not isinstance(literal, str | int | float):
            raise ValueError(f"a condition's value must be a string or a number: {literal!r}")
        out.append((column, operator, literal))
    return tuple(out)


def _choice_of(options: Sequence[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value.lower()

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


@dataclass(frozen=True)
class Kind:
    """What a node type takes: its arguments (check per name), which are required (one tuple
    per alternative form), and the parameters its inputs come in on (None: any alias)."""

    arguments: Mapping[str, Callable[[Any], Any]]
    forms: tuple[tuple[str, ...], ...]
    inputs: tuple[str, ...] | None
    defaults: Mapping[str, Any] = field(default_factory=dict)


_CTX = {"transformation_ctx": _name}
_FRAME = ("frame",)
KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        DATA_SOURCE: Kind(
            {
                **_CTX,
                "database": _name,
                "table_name": _name,
                "push_down_predicate": _text,
                "connection_type": _choice_of(CONNECTION_TYPES),
                "paths": _names,
                "format": _choice_of(FORMATS),
                "format_options": _options,
            },
            (("database", "table_name"), ("paths", "format")),
            (),
            {"connection_type": "s3", "push_down_predicate": ""},
        ),
        "ApplyMapping": Kind({**_CTX, "mappings": _mappings}, (("mappings",),), _FRAME),
        "ResolveChoice": Kind(
            {**_CTX, "choice": _name, "specs": _specs, "database": _name, "table_name": _name},
            (("choice",), ("specs",)),
            _FRAME,
        ),
        "DropNullFields": Kind(dict(_CTX), ((),), _FRAME),
        FILTER: Kind(
            {
                **_CTX,
                "conditions": _conditions,
                "logical_operator": _choice_of(LOGICAL_OPERATORS),
            },
            (("conditions",),),
            _FRAME,
            {"logical_operator": "and"},
        ),
        "Join": Kind(
            {**_CTX, "keys1": _names, "keys2": _names}, (("keys1", "keys2"),), ("frame1", "frame2")
        ),
        "SelectFields": Kind({**_CTX, "paths": _names}, (("paths",),), _FRAME),
        "DropFields": Kind({**_CTX, "paths": _names}, (("paths",),), _FRAME),
        "RenameField": Kind(
            {**_CTX, "old_name": _name, "new_name": _name}, (("old_name", "new_name"),), _FRAME
        ),
        SPARK_SQL: Kind({**_CTX, "query": _name}, (("query",),), None),
        DATA_SINK: Kind(
            {
                **_CTX,
                "database": _name,
                "table_name": _name,
                "connection_type": _choice_of(CONNECTION_TYPES),
                "path": _name,
                "format": _choice_of(FORMATS),
                "partitionKeys": _names,
                "enableUpdateCatalog": _boolean,
            },
            (("database", "table_name"), ("path", "format")),
            _FRAME,
            {"connection_type": "s3", "enableUpdateCatalog": True},
        ),
    }
)
# A SparkSQL input's alias: a table name Spark SQL reads without quoting.
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def form_of(node: Node) -> tuple[str, ...] | None:
    """The form a node's arguments take (the first whose required arguments are all given)."""
    for form in KINDS[node.node_type].forms:
        if all(name in node.args for name in form):
            return form
    return None


def decode_arg(node_id: str, node_type: str, name: str, text: str) -> Any:
    """The value of a node's argument from its literal text.

    Raises:
        InvalidInput: the node type has no such argument, or the value is not what it takes.
    """
    check = KINDS[node_type].arguments.get(name)
    if check is None:
        raise InvalidInput(
            f"node {node_id!r}: {node_type} has no argument {name!r} (it takes "
            + ", ".join(sorted(KINDS[node_type].arguments))
            + ")"
        )
    try:
        value: Any = literals.parse(text)
    except ValueError:
        value = text
    if check in (_name, _text) and not isinstance(value, str):
        value = text
    return check_arg(node_id, name, check, value)


def check_arg(node_id: str, name: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise InvalidInput(f"node {node_id!r}: argument {name!r} {exc}") from None


def encode_arg(value: Any) -> str:
    """The literal text of an argument's value (what GetDataflowGraph answers)."""
    return literals.flat(value)


def make_node(node_id: str, node_type: str, args: Mapping[str, Any], line: int = 0) -> Node:
    """A node from decoded arguments, checked, with its defaults left out.

    Raises:
        InvalidInput: the id or type is not valid, or an argument is not what the type takes.
    """
    if not isinstance(node_id, str) or not _IDENTIFIER.fullmatch(node_id):
        raise InvalidInput(
            f"node id {node_id!r} is not valid: a letter or _ then letters, digits or _ "
            "(at most 255)"
        )
    if keyword.iskeyword(node_id) or node_id in RESERVED or hasattr(builtins, node_id):
        raise InvalidInput(f"node id {node_id!r} is a name the script uses itself; choose another")
    kind = KINDS.get(node_type)
    if kind is None:
        raise InvalidInput(
            f"node {node_id!r}: node type {node_type!r} is not one of {', '.join(NODE_TYPES)}"
        )
    checked: dict[str, Any] = {}
    for name, value in args.items():
        check = kind.arguments.get(name)
        if check is None:
            raise InvalidInput(
                f"node {node_id!r}: {node_type} has no argument {name!r} (it takes "
                + ", ".join(sorted(kind.arguments))
                + ")"
            )
        checked[name] = check_arg(node_id, name, check, value)
    if checked.get("transformation_ctx") == node_id:
        del checked["transformation_ctx"]
    if node_type == DATA_SINK and ("database" not in checked or "path" not in checked):
        checked.pop("enableUpdateCatalog", None)
    if node_type == FILTER and len(checked.get("conditions", ())) < 2:
        checked.pop("logical_operator", None)
    for name, default in kind.defaults.items():
        if checked.get(name) == default:
            del checked[name]
    node = Node(node_id, node_type, MappingProxyType(dict(sorted(checked.items()))), line)
    if form_of(node) is None:
        forms = " or ".join(", ".join(f) for f in kind.forms)
        raise InvalidInput(f"node {node_id!r}: {node_type} needs the arguments {forms}")
    return node


def transformation_ctx(node: Node) -> str:
    return str(node.args.get("transformation_ctx", node.id))


def ordered(nodes: Iterable[Node], edges: Iterable[Edge]) -> Graph:
    """The graph checked, its nodes in the order the script runs them (sources first, otherwise
    in the order given).

    Raises:
        InvalidInput: duplicate ids, an edge naming an unknown node or parameter, a node missing
            an input, or a cycle.
    """
    nodes = list(nodes)
    edges = list(edges)
    if not nodes:
        raise InvalidInput("the graph has no nodes")
    if len(nodes) > MAX_NODES:
        raise InvalidInput(f"the graph has {len(nodes)} nodes; at most {MAX_NODES} are allowed")
    by_id: dict[str, Node] = {}
    for node in nodes:
        if node.id in by_id:
            raise InvalidInput(f"node id {node.id!r} is used twice")
        by_id[node.id] = node
    inputs: dict[str, dict[str, str]] = {node.id: {} for node in nodes}
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in by_id:
                raise InvalidInput(
                    f"edge {edge.source!r} -> {edge.target!r}: there is no node {end!r}"
                )
        target = by_id[edge.target]
        expected = KINDS[target.node_type].inputs
        parameter = edge.target_parameter or (expected[0] if expected else "")
        if expected is None:
            if not _ALIAS.fullmatch(parameter):
                raise InvalidInput(
                    f"edge {edge.source!r} -> {edge.target!r}: a SparkSQL input's "
                    f"target_parameter is its table alias (letters, digits, _), not {parameter!r}"
                )
        elif parameter not in expected:
            takes = ", ".join(expected) if expected else "no input"
            raise InvalidInput(
                f"edge {edge.source!r} -> {edge.target!r}: {target.node_type} takes {takes}, "
                f"not {parameter!r}"
            )
        if parameter in inputs[edge.target]:
            raise InvalidInput(f"node {edge.target!r} has two inputs for {parameter!r}")
        inputs[edge.target][parameter] = edge.source
    for node in nodes:
        expected = KINDS[node.node_type].inputs
        missing = [p for p in expected or () if p not in inputs[node.id]]
        if expected is None and not inputs[node.id]:
            missing = ["a table alias"]
        if missing:
            raise InvalidInput(f"node {node.id!r} ({node.node_type}) has no input for {missing[0]}")
    # Kahn's algorithm, taking ready nodes in the order given: deterministic.
    done: list[Node] = []
    placed: set[str] = set()
    while len(done) < len(nodes):
        ready = [
            n
            for n in nodes
            if n.id not in placed and all(s in placed for s in inputs[n.id].values())
        ]
        if not ready:
            stuck = [n.id for n in nodes if n.id not in placed]
            raise InvalidInput("the graph has a cycle through the nodes " + ", ".join(stuck))
        done.append(ready[0])
        placed.add(ready[0].id)
    wired = tuple(
        Edge(source, node.id, parameter)
        for node in done
        for parameter, source in sorted(
            inputs[node.id].items(), key=lambda item: _parameter_order(node, item[0])
        )
    )
    return Graph(tuple(done), wired)


def _parameter_order(node: Node, parameter: str) -> tuple[int, str]:
    expected = KINDS[node.node_type].inputs or ()
    return (expected.index(parameter) if parameter in expected else len(expected), parameter)


def inputs_of(graph: Graph, node: Node) -> dict[str, str]:
    """A node's inputs: parameter -> source node id, in parameter order."""
    return {e.target_parameter: e.source for e in graph.edges if e.target == node.id}
