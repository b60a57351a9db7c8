"""The dataflow graph of a script, read with Python's parser (ast): the script is never run.

The steps recognised are those script.render writes (and Glue's generated scripts, whatever the
GlueContext variable is called): create_dynamic_frame.from_catalog/from_options,
`<Transform>.apply(...)`, spark_sql_query, write_dynamic_frame.from_catalog and the
getSink / setFormat / setCatalogInfo / writeFrame sequence. Other statements are not steps.
"""

from __future__ import annotations

import ast
from typing import Any

from sluice.common.errors import InvalidInput
from sluice.control_plane.codegen.dag import (
    DATA_SINK,
    DATA_SOURCE,
    FILTER,
    KINDS,
    SPARK_SQL,
    TRANSFORMS,
    Edge,
    Graph,
    Node,
    make_node,
)

MAX_SCRIPT_CHARS = 1_000_000
_FRAME_PARAMETERS = ("frame", "frame1", "frame2")


class _Pending:
    """A node being read: its arguments and inputs so far."""

    def __init__(self, node_id: str, node_type: str, line: int) -> None:
        self.id = node_id
        self.node_type = node_type
        self.line = line
        self.args: dict[str, Any] = {}
        self.inputs: dict[str, str] = {}


def parse(script: str) -> Graph:
    """The graph of a script's recognised steps, in the script's order.

    Raises:
        InvalidInput: the script is not valid Python, or a recognised step has arguments that
            are not literals or not what its node type takes.
    """
    if len(script) > MAX_SCRIPT_CHARS:
        raise InvalidInput(f"the script is longer than {MAX_SCRIPT_CHARS} characters")
    try:
        tree = ast.parse(script)
    except SyntaxError as exc:
        raise InvalidInput(
            f"the script is not valid Python: line {exc.lineno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise InvalidInput(f"the script is not valid Python: {exc}") from None
    pending: dict[str, _Pending] = {}
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Call)
        ):
            step = _assigned_step(statement.targets[0].id, statement.value, statement.lineno)
            if step is not None:
                pending[step.id] = step
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            _sink_call(statement.value, pending)
    return _graph(pending)


def _graph(pending: dict[str, _Pending]) -> Graph:
    nodes: list[Node] = []
    edges: list[Edge] = []
    for step in pending.values():
        nodes.append(make_node(step.id, step.node_type, step.args, step.line))
        for parameter, source in step.inputs.items():
            if source in pending:
                edges.append(Edge(source, step.id, parameter))
    return Graph(tuple(nodes), tuple(edges))


def _dotted(node: ast.expr) -> list[str]:
    """`a.b.c` as ["a", "b", "c"]; [] for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return []


def _literal(step_id: str, name: str, value: ast.expr) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, RecursionError) as exc:
        raise InvalidInput(
            f"line {value.lineno}: argument {name!r} of {step_id!r} is not a literal ({exc})"
        ) from None


def _assigned_step(target: str, call: ast.Call, line: int) -> _Pending | None:
    callee = _dotted(call.func)
    kind = ""
    if callee[1:] == ["create_dynamic_frame", "from_catalog"] or callee[1:] == [
        "create_dynamic_frame",
        "from_options",
    ]:
        kind = DATA_SOURCE
    elif callee[1:] in (
        ["write_dynamic_frame", "from_catalog"],
        ["write_dynamic_frame", "from_options"],
        ["getSink"],
    ):
        kind = DATA_SINK
    elif len(callee) == 2 and callee[0] in TRANSFORMS and callee[1] == "apply":
        kind = callee[0]
    elif callee == ["spark_sql_query"]:
        kind = SPARK_SQL
    if not kind:
        return None
    step = _Pending(target, kind, line)
    for keyword in call.keywords:
        if keyword.arg is None:
            raise InvalidInput(f"line {line}: {target!r} passes **arguments; name each argument")
        name = keyword.arg
        if name in _FRAME_PARAMETERS and isinstance(keyword.value, ast.Name):
            step.inputs[name] = keyword.value.id
        elif kind == SPARK_SQL and name == "mapping" and isinstance(keyword.value, ast.Dict):
            for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                alias = _literal(target, "mapping", key) if key is not None else None
                if not isinstance(alias, str) or not isinstance(value, ast.Name):
                    raise InvalidInput(f"line {line}: {target!r}: mapping is alias: frame")
                step.inputs[alias] = value.id
        elif kind == SPARK_SQL and name == "glue_context":
            continue
        elif kind == FILTER and name == "f":
            step.args.update(_filter_args(target, keyword.value))
        elif name == "connection_options" and kind in (DATA_SOURCE, DATA_SINK):
            options = _literal(target, name, keyword.value)
            if not isinstance(options, dict):
                raise InvalidInput(f"line {line}: {target!r}: connection_options is not a dict")
            for option in ("paths", "path", "partitionKeys"):
                if option in options:
                    step.args[option] = options[option]
        elif kind == DATA_SINK and name in ("updateBehavior",):
            continue
        else:
            step.args[name] = _literal(target, name, keyword.value)
    if kind == DATA_SINK and callee[-1] == "getSink":
        step.args.setdefault("enableUpdateCatalog", False)
    for name, value in list(step.args.items()):
        if isinstance(value, list) and name in ("mappings", "specs"):
            step.args[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    # Arguments a node kind does not describe (Glue's redshift_tmp_dir, format_options of a
    # sink, ...) are not part of the graph.
    for name in [n for n in step.args if n not in KINDS[kind].arguments]:
        del step.args[name]
    if kind == DATA_SINK and callee[-1] == "from_options":
        step.args.setdefault("enableUpdateCatalog", False)
    return step


def _sink_call(call: ast.Call, pending: dict[str, _Pending]) -> None:
    """`sink.setFormat(...)`, `sink.setCatalogInfo(...)` or `sink.writeFrame(frame)`."""
    callee = _dotted(call.func)
    if len(callee) != 2 or callee[0] not in pending:
        return
    step = pending[callee[0]]
    if step.node_type != DATA_SINK:
        return
    method = callee[1]
    if method == "setFormat" and call.args:
        step.args["format"] = _literal(step.id, "format", call.args[0])
    elif method == "setCatalogInfo":
        for keyword in call.keywords:
            name = {"catalogDatabase": "database", "catalogTableName": "table_name"}.get(
                keyword.arg or ""
            )
            if name:
                step.args[name] = _literal(step.id, name, keyword.value)
    elif method in ("writeFrame", "write") and call.args and isinstance(call.args[0], ast.Name):
        step.inputs["frame"] = call.args[0].id


def _filter_args(step_id: str, function: ast.expr) -> dict[str, Any]:
    """The conditions of `lambda row: row["a"] > 1 and row["b"] == "x"`."""
    problem = InvalidInput(
        f"line {function.lineno}: the predicate of {step_id!r} is not a lambda comparing "
        'fields (row["column"]) with literals'
    )
    if not isinstance(function, ast.Lambda) or len(function.args.args) != 1:
        raise problem
    row = function.args.args[0].arg
    body = function.body
    operator = "and"
    clauses: list[ast.expr] = [body]
    if isinstance(body, ast.BoolOp):
        operator = "and" if isinstance(body.op, ast.And) else "or"
        clauses = list(body.values)
    symbols = {
        ast.Eq: "==",
        ast.NotEq: "!=",
        ast.Lt: "<",
        ast.LtE: "<=",
        ast.Gt: ">",
        ast.GtE: ">=",
    }
    conditions = []
    for clause in clauses:
        if not (
            isinstance(clause, ast.Compare)
            and len(clause.ops) == 1
            and type(clause.ops[0]) in symbols
            and isinstance(clause.left, ast.Subscript)
            and isinstance(clause.left.value, ast.Name)
            and clause.left.value.id == row
        ):
            raise problem
        column = _literal(step_id, "f", clause.left.slice)
        value = _literal(step_id, "f", clause.comparators[0])
        conditions.append((column, symbols[type(clause.ops[0])], value))
    return {"conditions": tuple(conditions), "logical_operator": operator}
