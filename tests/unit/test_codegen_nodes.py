"""Visual jobs without a server: Glue's CodeGenConfigurationNodes -> DAG for each node kind, the
script of a whole graph (ruff-clean, parsing back to the same DAG), the members Sluice reads
being Glue's (botocore's model), bad nodes named, and the nodes through the Glue door's shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from sluice.common.errors import InvalidInput
from sluice.control_plane.codegen import graph, nodes
from sluice.control_plane.codegen.dag import Graph, Node
from sluice.control_plane.convert.jobs import code_gen_nodes, job_to_proto
from sluice.control_plane.glue.shapes import to_json, to_message
from sluice.control_plane.jobs.model import Job, JobCommand
from sluice.jobs.v1 import jobs_pb2 as api

pytestmark = pytest.mark.unit

MODEL = botocore.session.get_session().get_service_model("glue")
NODE_SHAPE = MODEL.shape_for("CodeGenConfigurationNode")
HOSTILE = 'x"); import os; #'
SOURCE = {"S3CatalogSource": {"Name": "orders", "Database": "sales", "Table": "orders"}}


def _graph(extra: dict[str, Any]) -> Graph:
    return nodes.to_graph({"src": SOURCE, **extra})


def _node(built: Graph, node_id: str) -> Node:
    return next(n for n in built.nodes if n.id == node_id)


def _one(kind: str, body: dict[str, Any]) -> Node:
    """The DAG node of one transform or target reading from the catalog source."""
    return _node(_graph({"n": {kind: {"Name": kind, "Inputs": ["src"], **body}}}), "n")


def test_catalog_sources() -> None:
    for kind in nodes.CATALOG_SOURCES:
        body = {"Name": "s", "Database": "sales", "Table": "orders", "PartitionPredicate": "y=1"}
        node = _node(nodes.to_graph({"s": {kind: body}}), "s")
        assert node.node_type == "DataSource"
        assert dict(node.args) == {
            "database": "sales",
            "table_name": "orders",
            "push_down_predicate": "y=1",
        }


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        (
            "S3CsvSource",
            {
                "Paths": ["s3://b/in/"],
                "Separator": "pipe",
                "QuoteChar": "disabled",
                "WithHeader": True,
                "Recurse": True,  # kept, not read
            },
            {
                "paths": ("s3://b/in/",),
                "format": "csv",
                "format_options": {"quoteChar": -1, "separator": "|", "withHeader": True},
            },
        ),
        (
            "S3JsonSource",
            {"Paths": ["file:///data/in/"], "JsonPath": "$.items[*]", "Multiline": True},
            {
                "connection_type": "file",
                "paths": ("file:///data/in/",),
                "format": "json",
                "format_options": {"jsonPath": "$.items[*]", "multiline": True},
            },
        ),
        (
            "S3ParquetSource",
            {"Paths": ["s3://b/p/"]},
            {"paths": ("s3://b/p/",), "format": "parquet"},
        ),
    ],
)
def test_file_sources(kind: str, body: dict[str, Any], expected: dict[str, Any]) -> None:
    node = _node(nodes.to_graph({"s": {kind: {"Name": "s", **body}}}), "s")
    assert node.node_type == "DataSource"
    assert {k: dict(v) if k == "format_options" else v for k, v in node.args.items()} == expected


def test_apply_mapping_casts_renames_drops_and_nests() -> None:
    mapping = [
        {"ToKey": "id", "FromPath": ["id"], "FromType": "int", "ToType": "long"},
        {"ToKey": "total", "FromPath": ["amount"], "FromType": "string", "ToType": "double"},
        {
            "ToKey": "note",
            "FromPath": ["note"],
            "FromType": "string",
            "ToType": "string",
            "Dropped": True,
        },
        {
            "ToKey": "buyer",
            "FromPath": ["customer"],
            "FromType": "struct",
            "ToType": "struct",
            "Children": [
                {"ToKey": "town", "FromPath": ["city"], "FromType": "string", "ToType": "string"}
            ],
        },
    ]
    node = _one("ApplyMapping", {"Mapping": mapping})
    assert node.args["mappings"] == (
        ("id", "int", "id", "long"),
        ("amount", "string", "total", "double"),
        ("customer.city", "string", "buyer.town", "string"),
    )


def test_filter_conditions_negation_and_sides() -> None:
    filters = [
        {
            "Operation": "GT",
            "Values": [
                {"Type": "COLUMNEXTRACTED", "Value": ["amount"]},
                {"Type": "CONSTANT", "Value": ["10"]},
            ],
        },
        {
            "Operation": "LT",
            "Negated": True,
            "Values": [
                {"Type": "CONSTANT", "Value": ["2.5"]},
                {"Type": "COLUMNEXTRACTED", "Value": ["rate"]},
            ],
        },
        {
            "Operation": "EQ",
            "Values": [
                {"Type": "COLUMNEXTRACTED", "Value": [HOSTILE]},
                {"Type": "CONSTANT", "Value": [HOSTILE]},
            ],
        },
    ]
    node = _one("Filter", {"LogicalOperator": "OR", "Filters": filters})
    # NOT (2.5 < rate) is rate <= 2.5.
    assert node.args["conditions"] == (
        ("amount", ">", 10),
        ("rate", "<=", 2.5),
        (HOSTILE, "==", HOSTILE),
    )
    assert node.args["logical_operator"] == "or"


def test_join_select_drop_rename_and_sql() -> None:
    built = nodes.to_graph(
        {
            "a": SOURCE,
            "b": {"S3ParquetSource": {"Name": "b", "Paths": ["s3://b/c/"]}},
            "j": {
                "Join": {
                    "Name": "j",
                    "Inputs": ["a", "b"],
                    "JoinType": "equijoin",
                    "Columns": [{"From": "b", "Keys": [["cid"]]}, {"From": "a", "Keys": [["id"]]}],
                }
            },
            "sel": {"SelectFields": {"Name": "s", "Inputs": ["j"], "Paths": [["id"], ["c", "d"]]}},
            "drop": {"DropFields": {"Name": "d", "Inputs": ["sel"], "Paths": [["c", "d"]]}},
            "ren": {
                "RenameField": {
                    "Name": "r",
                    "Inputs": ["drop"],
                    "SourcePath": ["id"],
                    "TargetPath": ["order_id"],
                }
            },
            "sql": {
                "SparkSQL": {
                    "Name": "q",
                    "Inputs": ["ren", "b"],
                    "SqlQuery": "select * from o join c on o.order_id = c.cid",
                    "SqlAliases": [{"From": "ren", "Alias": "o"}, {"From": "b", "Alias": "c"}],
                }
            },
        }
    )
    join = _node(built, "j")
    assert (join.args["keys1"], join.args["keys2"]) == (("id",), ("cid",))
    assert graph_inputs(built, "j") == {"frame1": "a", "frame2": "b"}
    assert _node(built, "sel").args["paths"] == ("id", "c.d")
    assert _node(built, "drop").args["paths"] == ("c.d",)
    assert dict(_node(built, "ren").args) == {"old_name": "id", "new_name": "order_id"}
    assert graph_inputs(built, "sql") == {"o": "ren", "c": "b"}


def graph_inputs(built: Graph, node_id: str) -> dict[str, str]:
    return {e.target_parameter: e.source for e in built.edges if e.target == node_id}


def test_targets() -> None:
    for kind in nodes.CATALOG_TARGETS:
        node = _one(kind, {"Database": "dw", "Table": "orders"})
        assert (node.node_type, dict(node.args)) == (
            "DataSink",
            {"database": "dw", "table_name": "orders"},
        )
    direct = _one(
        "S3DirectTarget",
        {
            "Path": "file:///out/",
            "Format": "csv",
            "PartitionKeys": [["day"]],
            "SchemaChangePolicy": {"EnableUpdateCatalog": True, "Database": "dw", "Table": "t"},
        },
    )
    assert dict(direct.args) == {
        "connection_type": "file",
        "path": "file:///out/",
        "format": "csv",
        "partitionKeys": ("day",),
        "database": "dw",
        "table_name": "t",
    }
    parquet = _one("S3GlueParquetTarget", {"Path": "s3://b/o/", "Compression": "snappy"})
    assert dict(parquet.args) == {"path": "s3://b/o/", "format": "glueparquet"}


GLUE_STUDIO_JOB = {
    "node-1700000000001": {
        "S3CsvSource": {
            "Name": "Amazon S3",
            "Paths": ["file:///data/orders/"],
            "Separator": "comma",
            "QuoteChar": "quote",
            "WithHeader": True,
            "MaxBand": 5,
        }
    },
    "node-1700000000002": {
        "ApplyMapping": {
            "Name": "Change Schema",
            "Inputs": ["node-1700000000001"],
            "Mapping": [
                {"ToKey": "id", "FromPath": ["id"], "FromType": "string", "ToType": "long"},
                {"ToKey": HOSTILE, "FromPath": ["a"], "FromType": "string", "ToType": "string"},
            ],
        }
    },
    "node-1700000000003": {
        "S3DirectTarget": {
            "Name": "Amazon S3",
            "Inputs": ["node-1700000000002"],
            "Path": "file:///data/out/",
            "Format": "parquet",
            "PartitionKeys": [],
        }
    },
}


def test_a_glue_studio_job_renders_ruff_clean_and_parses_back(tmp_path: Path) -> None:
    built = nodes.to_graph(GLUE_STUDIO_JOB)
    assert [n.id for n in built.nodes] == [
        "node_1700000000001",
        "node_1700000000002",
        "node_1700000000003",
    ]
    text = nodes.script_of(GLUE_STUDIO_JOB)
    assert 'transformation_ctx="node-1700000000002"' in text  # bookmarks key on Glue's id
    assert "import os" not in text.replace(repr(HOSTILE), "")
    assert graph.parse(text).same_as(built)
    assert nodes.script_of(GLUE_STUDIO_JOB) == text  # deterministic
    path = tmp_path / "job.py"
    path.write_text(text)
    config = ["--isolated", "--line-length", "100"]
    for command in (["check", "--select", "E,F,W,I,B,UP,SIM,RUF"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *config, str(path)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + text


def test_members_sluice_reads_are_glues() -> None:
    for kind, members in nodes.READ_MEMBERS.items():
        shape = NODE_SHAPE.members[kind]
        assert set(members) <= set(shape.members), kind
        assert set(shape.required_members) - {"Inputs"} <= set(members), kind
    mapping = NODE_SHAPE.members["ApplyMapping"].members["Mapping"].member
    assert {"ToKey", "FromPath", "FromType", "ToType", "Dropped", "Children"} <= set(
        mapping.members
    )
    expression = NODE_SHAPE.members["Filter"].members["Filters"].member
    assert set(nodes._OPERATORS) <= set(expression.members["Operation"].enum)
    value = expression.members["Values"].member
    assert {"Type", "Value"} <= set(value.members)
    csv = NODE_SHAPE.members["S3CsvSource"]
    assert set(nodes._SEPARATORS) == set(csv.members["Separator"].enum)
    assert {*nodes._QUOTES, "disabled"} == set(csv.members["QuoteChar"].enum)
    join = NODE_SHAPE.members["Join"]
    assert "equijoin" in join.members["JoinType"].enum
    assert {"From", "Keys"} <= set(join.members["Columns"].member.members)
    assert {"From", "Alias"} <= set(
        NODE_SHAPE.members["SparkSQL"].members["SqlAliases"].member.members
    )
    policy = NODE_SHAPE.members["S3DirectTarget"].members["SchemaChangePolicy"]
    assert {"EnableUpdateCatalog", "UpdateBehavior", "Database", "Table"} <= set(policy.members)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"x": {"S3DeltaSource": {"Name": "d"}}}, r"node 'x': node kind S3DeltaSource is not"),
        ({"x": {**SOURCE, "CatalogSource": {}}}, r"node 'x': must have exactly one node kind"),
        ({"x": {"S3CatalogSource": {"Name": "s", "Table": "t"}}}, r"'x' \(S3CatalogSource\): Data"),
        (
            {"x": {"DropFields": {"Name": "d", "Inputs": ["nope"], "Paths": [["a"]]}}},
            r"node 'x' \(DropFields\): Inputs names 'nope', which is not a node",
        ),
        (
            {
                "a": {"DropFields": {"Name": "a", "Inputs": ["b"], "Paths": [["x"]]}},
                "b": {"DropFields": {"Name": "b", "Inputs": ["a"], "Paths": [["x"]]}},
            },
            "cycle",
        ),
        (
            {
                "src": SOURCE,
                "f": {
                    "Filter": {
                        "Name": "f",
                        "Inputs": ["src"],
                        "LogicalOperator": "AND",
                        "Filters": [{"Operation": "REGEX", "Values": []}],
                    }
                },
            },
            r"node 'f' \(Filter\): Filters\[0\]\.Operation 'REGEX' is not supported",
        ),
        (
            {
                "src": SOURCE,
                "t": {
                    "S3DirectTarget": {
                        "Name": "t",
                        "Inputs": ["src"],
                        "Path": "s3://b/",
                        "Format": "hudi",
                    }
                },
            },
            r"node 't' \(S3DirectTarget\): Format 'hudi' is not supported",
        ),
        ({}, "has no nodes"),
    ],
)
def test_bad_nodes_are_named(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        nodes.to_graph(bad)


def test_left_join_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"node 'j' \(Join\): JoinType 'left'"):
        _graph(
            {
                "j": {
                    "Join": {
                        "Name": "j",
                        "Inputs": ["src", "src"],
                        "JoinType": "left",
                        "Columns": [],
                    }
                }
            }
        )


def test_nodes_through_the_glue_door_come_back_unchanged() -> None:
    body = {
        "Name": "visual",
        "Role": "r",
        "Command": {"Name": "glueetl", "ScriptLocation": "sluice://scripts/visual.py"},
        "CodeGenConfigurationNodes": GLUE_STUDIO_JOB,
    }
    request = to_message(json.loads(json.dumps(body)), api.CreateJobRequest())
    kept = code_gen_nodes(request)
    assert kept == GLUE_STUDIO_JOB  # MaxBand 5 stays an integer
    job = Job(
        name="visual",
        account="123",
        role="r",
        command=JobCommand(name="glueetl", script_location="sluice://scripts/visual.py"),
        created_on=datetime(2024, 1, 1, tzinfo=UTC),
        last_modified_on=datetime(2024, 1, 1, tzinfo=UTC),
        code_gen_configuration_nodes=kept,
    )
    answer = to_json(api.GetJobResponse(job=job_to_proto(job)), top=True)
    assert answer["Job"]["CodeGenConfigurationNodes"] == GLUE_STUDIO_JOB
    # The same JSON text (keys aside): 5 is 5, not 5.0.
    returned = answer["Job"]["CodeGenConfigurationNodes"]
    assert json.dumps(returned, sort_keys=True) == json.dumps(GLUE_STUDIO_JOB, sort_keys=True)
    with pytest.raises(InvalidInput, match=r"CodeGenConfigurationNodes\.n must be an object"):
        to_message({"CodeGenConfigurationNodes": {"n": 1}}, api.CreateJobRequest())
