"""Visual jobs: Glue's CodeGenConfigurationNodes (node id -> one node kind's structure) as a
dataflow graph (dag.Graph), so that the one generator (script.render) writes their script.

The common kinds are read: catalog sources (CatalogSource, S3CatalogSource), file sources
(S3CsvSource, S3JsonSource, S3ParquetSource), ApplyMapping, Filter, Join, DropFields,
SelectFields, RenameField, SparkSQL, catalog targets (CatalogTarget, S3CatalogTarget) and file
targets (S3DirectTarget, S3GlueParquetTarget). Members are Glue's; the members a script needs are
read (READ_MEMBERS), the others (OutputSchemas, GroupSize, ...) are kept with the job but have no
effect. Anything else is InvalidInput naming the node and what is wrong.
"""

from __future__ import annotations

import builtins
import json
import keyword
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sluice.common.errors import InvalidInput
from sluice.control_plane.codegen import dag, script
from sluice.control_plane.codegen.dag import Edge, Graph, Node

MAX_NODES_BYTES = 256 * 1024
# The job argument that picks a Glue job's language (python or scala).
JOB_LANGUAGE = "--job-language"
CATALOG_SOURCES = ("CatalogSource", "S3CatalogSource")
FILE_SOURCES = MappingProxyType(
    {"S3CsvSource": "csv", "S3JsonSource": "json", "S3ParquetSource": "parquet"}
)
CATALOG_TARGETS = ("CatalogTarget", "S3CatalogTarget")
FILE_TARGETS = ("S3DirectTarget", "S3GlueParquetTarget")
# Per kind, the Glue members the generated script depends on.
READ_MEMBERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "CatalogSource": ("Name", "Database", "Table", "PartitionPredicate"),
        "S3CatalogSource": ("Name", "Database", "Table", "PartitionPredicate"),
        "S3CsvSource": (
            "Name",
            "Paths",
            "Separator",
            "QuoteChar",
            "Escaper",
            "WithHeader",
            "Multiline",
        ),
        "S3JsonSource": ("Name", "Paths", "JsonPath", "Multiline"),
        "S3ParquetSource": ("Name", "Paths"),
        "ApplyMapping": ("Name", "Inputs", "Mapping"),
        "Filter": ("Name", "Inputs", "LogicalOperator", "Filters"),
        "Join": ("Name", "Inputs", "JoinType", "Columns"),
        "DropFields": ("Name", "Inputs", "Paths"),
        "SelectFields": ("Name", "Inputs", "Paths"),
        "RenameField": ("Name", "Inputs", "SourcePath", "TargetPath"),
        "SparkSQL": ("Name", "Inputs", "SqlQuery", "SqlAliases"),
        "CatalogTarget": ("Name", "Inputs", "Database", "Table"),
        "S3CatalogTarget": ("Name", "Inputs", "Database", "Table"),
        "S3DirectTarget": (
            "Name",
            "Inputs",
            "Path",
            "Format",
            "PartitionKeys",
            "SchemaChangePolicy",
        ),
        "S3GlueParquetTarget": ("Name", "Inputs", "Path", "PartitionKeys", "SchemaChangePolicy"),
    }
)
KINDS = tuple(READ_MEMBERS)
_SEPARATORS = MappingProxyType(
    {"comma": ",", "ctrla": "\u0001", "pipe": "|", "semicolon": ";", "tab": "\t"}
)
_QUOTES = MappingProxyType({"quote": '"', "single_quote": "'", "quillemet": "\u00ab"})
# Glue's FilterOperation -> (operator, its negation); REGEX and ISNULL have no Sluice form.
_OPERATORS = MappingProxyType(
    {
        "EQ": ("==", "!="),
        "LT": ("<", ">="),
        "GT": (">", "<="),
        "LTE": ("<=", ">"),
        "GTE": (">=", "<"),
    }
)
# The operator seen from the other side (5 < x is x > 5).
_FLIPPED = MappingProxyType({"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="})
_NUMBER = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]+)?")
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


def checked_size(nodes: Mapping[str, Any]) -> None:
    """Raises InvalidInput when the nodes take more than MAX_NODES_BYTES (they are stored)."""
    size = len(json.dumps(dict(nodes), default=str))
    if size > MAX_NODES_BYTES:
        raise InvalidInput(
            f"CodeGenConfigurationNodes take {size} bytes as JSON; at most {MAX_NODES_BYTES}"
        )


def to_graph(nodes: Mapping[str, Any]) -> Graph:
    """The checked graph of a job's CodeGenConfigurationNodes (node id -> {kind: structure}).

    Raises:
        InvalidInput: naming the node (and member) that is wrong, a kind Sluice does not read,
            an input naming no node, or a cycle.
    """
    if not nodes:
        raise InvalidInput("CodeGenConfigurationNodes has no nodes")
    if len(nodes) > dag.MAX_NODES:
        raise InvalidInput(
            f"CodeGenConfigurationNodes has {len(nodes)} nodes; at most {dag.MAX_NODES}"
        )
    checked_size(nodes)
    variables = _variables(list(nodes))
    graph_nodes: list[Node] = []
    edges: list[Edge] = []
    for node_id in sorted(nodes, key=_natural):
        kind, body = _kind(node_id, nodes[node_id])
        reader = _Reader(node_id, kind, body)
        inputs = reader.inputs(variables)
        node_type, args, wired = _convert(reader, inputs)
        args = {**args, "transformation_ctx": node_id}
        graph_nodes.append(dag.make_node(variables[node_id], node_type, args))
        edges.extend(Edge(source, variables[node_id], parameter) for source, parameter in wired)
    return dag.ordered(graph_nodes, edges)


def _natural(node_id: str) -> tuple[Any, ...]:
    """node-2 before node-10: Glue Studio's ids end in numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"([0-9]+)", node_id))


def _variables(ids: list[str]) -> dict[str, str]:
    """Glue node id -> the script's variable for its result (a Python identifier, unique)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for node_id in sorted(ids, key=_natural):
        if not isinstance(node_id, str) or not node_id:
            raise InvalidInput(f"CodeGenConfigurationNodes: node id {node_id!r} is not valid")
        name = _NOT_IDENTIFIER.sub("_", node_id)[:200]
        if (
            not name[0].isalpha()
            or keyword.iskeyword(name)
            or name in dag.RESERVED
            or hasattr(builtins, name)
        ):
            name = f"node_{name}"
        candidate, index = name, 1
        while candidate in used:
            index += 1
            candidate = f"{name}_{index}"
        used.add(candidate)
        out[node_id] = candidate
    return out


def _kind(node_id: str, node: Any) -> tuple[str, Mapping[str, Any]]:
    if not isinstance(node, Mapping):
        raise InvalidInput(f"node {node_id!r}: must be an object with one member, its node kind")
    set_members = [(k, v) for k, v in node.items() if v is not None]
    if len(set_members) != 1:
        raise InvalidInput(
            f"node {node_id!r}: must have exactly one node kind, has "
            + (", ".join(sorted(k for k, _ in set_members)) or "none")
        )
    kind, body = set_members[0]
    if kind not in READ_MEMBERS:
        raise InvalidInput(
            f"node {node_id!r}: node kind {kind} is not supported by Sluice (supported: "
            + ", ".join(KINDS)
            + ")"
        )
    if not isinstance(body, Mapping):
        raise InvalidInput(f"node {node_id!r}: {kind} must be an object")
    return kind, body


class _Reader:
    """A node's members, each read with a check that names the node and member when wrong."""

    def __init__(self, node_id: str, kind: str, body: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.kind = kind
        self.body = body

    def fail(self, message: str) -> InvalidInput:
        return InvalidInput(f"node {self.node_id!r} ({self.kind}): {message}")

    def get(self, member: str) -> Any:
        return self.body.get(member)

    def text(self, member: str, *, required: bool = True) -> str:
        value = self.body.get(member)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value):
            raise self.fail(f"{member} must be a non-empty string")
        return value

    def texts(self, member: str, value: Any = None) -> list[str]:
        value = self.body.get(member) if value is None else value
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise self.fail(f"{member} must be a non-empty list of non-empty strings")
        return list(value)

    def paths(self, member: str, *, required: bool = True) -> list[str]:
        """A GlueStudioPathList ([["a", "b"], ["c"]]) as dotted paths (a.b, c)."""
        value = self.body.get(member)
        if value is None and not required:
            return []
        if not isinstance(value, list) or (required and not value):
            raise self.fail(f"{member} must be a non-empty list of paths (lists of names)")
        return [".".join(self.texts(f"{member}[{i}]", p)) for i, p in enumerate(value)]

    def boolean(self, member: str) -> bool | None:
        value = self.body.get(member)
        if value is not None and not isinstance(value, bool):
            raise self.fail(f"{member} must be true or false")
        return value

    def choice(self, member: str, table: Mapping[str, Any]) -> Any:
        value = self.body.get(member)
        if value not in table:
            raise self.fail(f"{member} must be one of {', '.join(table)}, not {value!r}")
        return table[value]

    def inputs(self, variables: Mapping[str, str]) -> list[str]:
        """The variables of the node's Inputs (none for a source)."""
        value = self.body.get("Inputs")
        if self.kind in CATALOG_SOURCES or self.kind in FILE_SOURCES:
            if value:
                raise self.fail("a source has no Inputs")
            return []
        names = self.texts("Inputs")
        out = []
        for name in names:
            if name not in variables:
                raise self.fail(f"Inputs names {name!r}, which is not a node")
            out.append(variables[name])
        return out


# A converted node: its dag type, arguments, and (source variable, target parameter) inputs.
_Converted = tuple[str, dict[str, Any], list[tuple[str, str]]]


def _convert(node: _Reader, inputs: list[str]) -> _Converted:
    kind = node.kind
    if kind in CATALOG_SOURCES:
        args: dict[str, Any] = {"database": node.text("Database"), "table_name": node.text("Table")}
        predicate = node.text("PartitionPredicate", required=False)
        if predicate:
            args["push_down_predicate"] = predicate
        return dag.DATA_SOURCE, args, []
    if kind in FILE_SOURCES:
        return dag.DATA_SOURCE, _file_source(node), []
    if kind in CATALOG_TARGETS:
        sink = {"database": node.text("Database"), "table_name": node.text("Table")}
        return dag.DATA_SINK, sink, _one(node, inputs)
    if kind in FILE_TARGETS:
        return dag.DATA_SINK, _file_target(node), _one(node, inputs)
    if kind == "ApplyMapping":
        mappings = _mappings(node, node.get("Mapping"), "Mapping", "", "")
        if not mappings:
            raise node.fail("Mapping maps no column (every one is Dropped)")
        return "ApplyMapping", {"mappings": mappings}, _one(node, inputs)
    if kind == "Filter":
        return dag.FILTER, _filter(node), _one(node, inputs)
    if kind == "Join":
        return _join(node, inputs)
    if kind in ("DropFields", "SelectFields"):
        return kind, {"paths": node.paths("Paths")}, _one(node, inputs)
    if kind == "RenameField":
        args = {
            "old_name": ".".join(node.texts("SourcePath")),
            "new_name": ".".join(node.texts("TargetPath")),
        }
        return "RenameField", args, _one(node, inputs)
    return _spark_sql(node, inputs)


def _one(node: _Reader, inputs: list[str]) -> list[tuple[str, str]]:
    if len(inputs) != 1:
        raise node.fail(f"Inputs must name one node, names {len(inputs)}")
    return [(inputs[0], "frame")]


def _connection_type(path: str) -> str:
    scheme = path.partition("://")[0].lower() if "://" in path else "s3"
    return scheme if scheme in ("file", "hdfs") else "s3"


def _file_source(node: _Reader) -> dict[str, Any]:
    paths = node.texts("Paths")
    types = {_connection_type(p) for p in paths}
    if len(types) > 1:
        raise node.fail("Paths mix schemes (s3://, file://, hdfs://)")
    options: dict[str, Any] = {}
    if node.kind == "S3CsvSource":
        options["separator"] = node.choice("Separator", _SEPARATORS)
        if node.get("QuoteChar") == "disabled":
            options["quoteChar"] = -1
        else:
            options["quoteChar"] = node.choice("QuoteChar", _QUOTES)
        escaper = node.text("Escaper", required=False)
        if escaper:
            options["escaper"] = escaper
        for member, option in (("WithHeader", "withHeader"), ("Multiline", "multiline")):
            flag = node.boolean(member)
            if flag is not None:
                options[option] = flag
    elif node.kind == "S3JsonSource":
        json_path = node.text("JsonPath", required=False)
        if json_path:
            options["jsonPath"] = json_path
        flag = node.boolean("Multiline")
        if flag is not None:
            options["multiline"] = flag
    args: dict[str, Any] = {
        "connection_type": types.pop(),
        "paths": paths,
        "format": FILE_SOURCES[node.kind],
    }
    if options:
        args["format_options"] = options
    return args


def _file_target(node: _Reader) -> dict[str, Any]:
    path = node.text("Path")
    if node.kind == "S3GlueParquetTarget":
        file_format = "glueparquet"
    else:
        file_format = node.text("Format")
        if file_format not in dag.FORMATS:
            raise node.fail(
                f"Format {file_format!r} is not supported by Sluice (one of "
                + ", ".join(f for f in dag.FORMATS if f != "glueparquet")
                + ")"
            )
    args: dict[str, Any] = {
        "connection_type": _connection_type(path),
        "path": path,
        "format": file_format,
    }
    keys = node.paths("PartitionKeys", required=False)
    if keys:
        args["partitionKeys"] = keys
    policy = node.get("SchemaChangePolicy")
    if policy is not None:
        if not isinstance(policy, Mapping):
            raise node.fail("SchemaChangePolicy must be an object")
        if policy.get("EnableUpdateCatalog"):
            policy_reader = _Reader(node.node_id, node.kind, policy)
            args["database"] = policy_reader.text("Database")
            args["table_name"] = policy_reader.text("Table")
            behavior = policy.get("UpdateBehavior", "UPDATE_IN_DATABASE")
            if behavior != "UPDATE_IN_DATABASE":
                raise node.fail(
                    f"SchemaChangePolicy.UpdateBehavior {behavior!r} is not supported by Sluice "
                    "(UPDATE_IN_DATABASE)"
                )
    return args


def _mappings(
    node: _Reader, value: Any, member: str, from_prefix: str, to_prefix: str
) -> list[tuple[str, str, str, str]]:
    if not isinstance(value, list) or not value:
        raise node.fail(f"{member} must be a non-empty list of mappings")
    out: list[tuple[str, str, str, str]] = []
    for index, item in enumerate(value):
        where = f"{member}[{index}]"
        if not isinstance(item, Mapping):
            raise node.fail(f"{where} must be an object")
        entry = _Reader(node.node_id, node.kind, item)
        from_path = ".".join(entry.texts("FromPath"))
        to_key = entry.text("ToKey")
        if entry.boolean("Dropped"):
            continue
        children = item.get("Children")
        if children:
            # A struct's fields, each mapped on its own (paths relative to the struct).
            out.extend(
                _mappings(
                    node,
                    children,
                    f"{where}.Children",
                    f"{from_prefix}{from_path}.",
                    f"{to_prefix}{to_key}.",
                )
            )
            continue
        out.append(
            (
                from_prefix + from_path,
                entry.text("FromType"),
                to_prefix + to_key,
                entry.text("ToType"),
            )
        )
    return out


def _filter(node: _Reader) -> dict[str, Any]:
    operator = node.choice("LogicalOperator", {"AND": "and", "OR": "or"})
    filters = node.get("Filters")
    if not isinstance(filters, list) or not filters:
        raise node.fail("Filters must be a non-empty list of filter expressions")
    conditions = []
    for index, item in enumerate(filters):
        where = f"Filters[{index}]"
        if not isinstance(item, Mapping):
            raise node.fail(f"{where} must be an object")
        operation = item.get("Operation")
        if operation not in _OPERATORS:
            raise node.fail(
                f"{where}.Operation {operation!r} is not supported by Sluice (one of "
                + ", ".join(_OPERATORS)
                + ")"
            )
        negated = item.get("Negated") or False
        if not isinstance(negated, bool):
            raise node.fail(f"{where}.Negated must be true or false")
        values = item.get("Values")
        if not isinstance(values, list) or len(values) != 2:
            raise node.fail(f"{where}.Values must be two values: a column and a constant")
        kinds = [v.get("Type") if isinstance(v, Mapping) else None for v in values]
        texts = []
        for position, value in enumerate(values):
            reader = _Reader(node.node_id, node.kind, value if isinstance(value, Mapping) else {})
            texts.append(
                ".".join(reader.texts(f"{where}.Values[{position}].Value", reader.get("Value")))
            )
        symbol = _OPERATORS[operation][1 if negated else 0]
        if kinds == ["COLUMNEXTRACTED", "CONSTANT"]:
            column, constant = texts
        elif kinds == ["CONSTANT", "COLUMNEXTRACTED"]:
            constant, column = texts
            symbol = _FLIPPED[symbol]
        else:
            raise node.fail(
                f"{where}.Values must be one COLUMNEXTRACTED and one CONSTANT, not {kinds}"
            )
        conditions.append((column, symbol, _constant(constant)))
    args: dict[str, Any] = {"conditions": conditions}
    if len(conditions) > 1:
        args["logical_operator"] = operator
    return args


def _constant(text: str) -> Any:
    """A constant as Glue Studio compares it: a number when it reads as one, else text."""
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text


def _join(node: _Reader, inputs: list[str]) -> _Converted:
    if len(inputs) != 2:
        raise node.fail(f"Inputs must name two nodes, names {len(inputs)}")
    join_type = node.get("JoinType")
    if join_type != "equijoin":
        raise node.fail(
            f"JoinType {join_type!r} is not supported by Sluice (equijoin, awsglue's Join)"
        )
    columns = node.get("Columns")
    if not isinstance(columns, list) or len(columns) != 2:
        raise node.fail("Columns must be two objects, {From, Keys} for each input")
    names = node.texts("Inputs")
    keys: dict[str, list[str]] = {}
    for index, item in enumerate(columns):
        where = f"Columns[{index}]"
        if not isinstance(item, Mapping):
            raise node.fail(f"{where} must be an object")
        entry = _Reader(node.node_id, node.kind, item)
        source = entry.text("From")
        if source not in names:
            raise node.fail(f"{where}.From {source!r} is not one of the Inputs")
        keys[source] = entry.paths("Keys")
    if set(keys) != set(names):
        raise node.fail("Columns must give the Keys of each of the two Inputs")
    first, second = (keys[n] for n in names)
    if len(first) != len(second):
        raise node.fail("Columns: both inputs must have as many Keys")
    args = {"keys1": first, "keys2": second}
    return "Join", args, [(inputs[0], "frame1"), (inputs[1], "frame2")]


def _spark_sql(node: _Reader, inputs: list[str]) -> _Converted:
    query = node.text("SqlQuery")
    names = node.texts("Inputs")
    aliases = node.get("SqlAliases")
    if not isinstance(aliases, list) or not aliases:
        raise node.fail("SqlAliases must be a non-empty list of {From, Alias}")
    wired: list[tuple[str, str]] = []
    for index, item in enumerate(aliases):
        where = f"SqlAliases[{index}]"
        if not isinstance(item, Mapping):
            raise node.fail(f"{where} must be an object")
        entry = _Reader(node.node_id, node.kind, item)
        source = entry.text("From")
        if source not in names:
            raise node.fail(f"{where}.From {source!r} is not one of the Inputs")
        wired.append((inputs[names.index(source)], entry.text("Alias")))
    return dag.SPARK_SQL, {"query": query}, wired


def checked_job_language(arguments: Mapping[str, str]) -> None:
    """Raises InvalidInput when a visual job's `--job-language` is not python: Glue would
    generate Scala for `scala`; Sluice generates and runs Python only (it cannot run Scala)."""
    language = arguments.get(JOB_LANGUAGE)
    if language is not None and language.strip().lower() != "python":
        raise InvalidInput(
            f"{JOB_LANGUAGE} {language!r} is not supported for a visual job: Sluice generates "
            "and runs PYTHON scripts only (it cannot run Scala); give python or leave it out"
        )


def script_of(nodes: Mapping[str, Any]) -> str:
    """The script of a visual job: its nodes' graph rendered by the one generator."""
    return script.render(to_graph(nodes), "CodeGenConfigurationNodes")
