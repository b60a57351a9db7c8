"""Code generation against a real server: GetMapping and GetPlan read the catalog as the caller,
and generated scripts run for real (local PySpark with Sluice's awsglue, as
test_awsglue_catalog.py runs the Glue-style example) and leave the expected tables in the catalog:
one from GetPlan (ApplyMapping with casts, renames, a nested field and a dropped column;
ResolveChoice; DropNullFields; partitioned Parquet files kept in the catalog), one from
CreateScript (catalog and file sources, Filter, Join, SelectFields, RenameField, DropFields,
SparkSQL, a catalog target)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pyarrow.dataset as ds
import pytest
from google.protobuf import json_format

from sluice.agents.glue_api import PATH
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.jobs.v1 import codegen_pb2, codegen_pb2_grpc, jobs_pb2, jobs_pb2_grpc, types_pb2
from sluice.sdk import connect
from sluice.sdk.errors import AccessDenied, InvalidInput
from sluice.sdk.scripts import FileTarget
from tests.integration.conftest import ServerProcess, authed_channel

pytestmark = pytest.mark.integration

SCRIPT_TIMEOUT_S = 300.0
HOSTILE = 'x"); import os; #'
ORDERS = [
    {"id": 1, "amount": "12.5", "note": None, "customer": {"name": "ann", "city": "Oslo"},
     "day": "2024-01-01"},
    {"id": 2, "amount": "3", "note": None, "customer": {"name": "bo", "city": "Rome"},
     "day": "2024-01-02"},
    {"id": 3, "amount": "40.25", "note": None, "customer": {"name": "cy", "city": "Oslo"},
     "day": "2024-01-02"},
]  # fmt: skip


@dataclass
class Catalog:
    server: ServerProcess
    database: str
    root: Path


@pytest.fixture(scope="module")
def catalog(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    root = tmp_path_factory.mktemp("codegen")
    source = root / "orders"
    source.mkdir()
    (source / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in ORDERS))
    database = f"cg_{uuid.uuid4().hex[:8]}"
    columns = [
        {"name": "id", "type": "bigint"},
        {"name": "amount", "type": "string"},
        {"name": "note", "type": "string"},
        {"name": "customer", "type": "struct<name:string,city:string>"},
        {"name": "day", "type": "string"},
        {"name": HOSTILE, "type": "string"},
    ]
    with connect(server.address) as client:
        client.catalog.create_database({"name": database})
        client.catalog.create_table(
            database,
            {
                "name": "orders",
                "parameters": {"classification": "json"},
                "storage_descriptor": {"location": source.as_uri(), "columns": columns},
            },
        )
    yield Catalog(server, database, root)


def _run(script: str, catalog: Catalog, name: str) -> str:
    path = catalog.root / f"{name}.py"
    path.write_text(script)
    env = {
        **os.environ,
        "PYTHONPATH": PATH,
        "SLUICE_ADDRESS": catalog.server.address,
        "PYSPARK_SUBMIT_ARGS": "--master local[1] --conf spark.ui.enabled=false pyspark-shell",
    }
    done = subprocess.run(
        [sys.executable, str(path), "--JOB_NAME", name],
        capture_output=True,
        text=True,
        env=env,
        timeout=SCRIPT_TIMEOUT_S,
        cwd=catalog.root,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_get_mapping_proposes_every_column(catalog: Catalog) -> None:
    with connect(catalog.server.address) as client:
        mapping = client.scripts.get_mapping((catalog.database, "orders"))
    assert [(m.source_path, m.target_path, m.target_type) for m in mapping][:2] == [
        ("id", "id", "bigint"),
        ("amount", "amount", "string"),
    ]
    assert mapping[-1].source_path == HOSTILE


@pytest.mark.slow
def test_a_planned_script_runs_and_keeps_its_table_in_the_catalog(catalog: Catalog) -> None:
    out = catalog.root / "planned"
    mapping = [
        {"source_path": "id", "source_type": "bigint", "target_path": "order_id",
         "target_type": "string"},
        {"source_path": "amount", "source_type": "string", "target_path": "amount",
         "target_type": "double"},
        {"source_path": "customer.city", "source_type": "string", "target_path": "city",
         "target_type": "string"},
        {"source_path": "note", "source_type": "string", "target_path": "note",
         "target_type": "string"},
        {"source_path": "day", "source_type": "string", "target_path": "day",
         "target_type": "string"},
    ]  # fmt: skip
    with connect(catalog.server.address) as client:
        script = client.scripts.get_plan(
            (catalog.database, "orders"),
            mapping,
            sinks=[(catalog.database, "planned")],
            target=FileTarget(out.as_uri(), "parquet", ["day"]),
        )
        nodes, edges = client.scripts.get_dataflow_graph(script)
        assert [n.node_type for n in nodes] == [
            "DataSource",
            "ApplyMapping",
            "ResolveChoice",
            "DropNullFields",
            "DataSink",
        ]
        assert len(edges) == 4
        _run(script, catalog, "planned")
        table = client.catalog.get_table(catalog.database, "planned")
        partitions = {
            tuple(p.values) for p in client.catalog.get_partitions(catalog.database, "planned")
        }
    # note is null in every record: DropNullFields leaves it out.
    assert [(c.name, c.type) for c in table.storage_descriptor.columns] == [
        ("order_id", "string"),
        ("amount", "double"),
        ("city", "string"),
    ]
    assert [k.name for k in table.partition_keys] == ["day"]
    assert partitions == {("2024-01-01",), ("2024-01-02",)}
    rows = ds.dataset(str(out), format="parquet", partitioning="hive").to_table().to_pylist()
    assert sorted((r["order_id"], r["amount"], r["city"], str(r["day"])) for r in rows) == [
        ("1", 12.5, "Oslo", "2024-01-01"),
        ("2", 3.0, "Rome", "2024-01-02"),
        ("3", 40.25, "Oslo", "2024-01-02"),
    ]


def _node(node_id: str, node_type: str, **args: object) -> dict[str, object]:
    return {
        "id": node_id,
        "node_type": node_type,
        "args": [{"name": k, "value": repr(v)} for k, v in args.items()],
    }


@pytest.mark.slow
def test_a_script_from_a_graph_runs_into_a_catalog_table(catalog: Catalog) -> None:
    tiers = catalog.root / "tiers"
    tiers.mkdir()
    (tiers / "tiers.csv").write_text("cid,tier\n1,gold\n2,silver\n3,gold\n")
    target = catalog.root / "graph_out"
    nodes = [
        _node("orders", "DataSource", database=catalog.database, table_name="orders"),
        _node("tiers", "DataSource", paths=[tiers.as_uri()], format="csv",
              format_options={"withHeader": True}),
        _node("big", "Filter", conditions=[("id", ">=", 2)]),
        _node("joined", "Join", keys1=["id"], keys2=["cid"]),
        _node("picked", "SelectFields", paths=["id", "amount", "tier", "customer"]),
        _node("renamed", "RenameField", old_name="tier", new_name="level"),
        _node("slim", "DropFields", paths=["customer"]),
        _node("typed", "SparkSQL",
              query="SELECT id, level, CAST(amount AS double) AS amount FROM t ORDER BY id"),
        _node("out", "DataSink", database=catalog.database, table_name="by_level"),
    ]  # fmt: skip
    edges = [
        {"source": "orders", "target": "big", "target_parameter": "frame"},
        {"source": "big", "target": "joined", "target_parameter": "frame1"},
        {"source": "tiers", "target": "joined", "target_parameter": "frame2"},
        {"source": "joined", "target": "picked"},
        {"source": "picked", "target": "renamed"},
        {"source": "renamed", "target": "slim"},
        {"source": "slim", "target": "typed", "target_parameter": "t"},
        {"source": "typed", "target": "out"},
    ]
    with connect(catalog.server.address) as client:
        client.catalog.create_table(
            catalog.database,
            {
                "name": "by_level",
                "parameters": {"classification": "parquet"},
                "storage_descriptor": {
                    "location": target.as_uri(),
                    "columns": [
                        {"name": "id", "type": "bigint"},
                        {"name": "level", "type": "string"},
                        {"name": "amount", "type": "double"},
                    ],
                },
            },
        )
        script = client.scripts.create_script(nodes, edges)
        parsed, wired = client.scripts.get_dataflow_graph(script)
        assert [n.id for n in parsed] == [n["id"] for n in nodes]
        assert len(wired) == len(edges)
        _run(script, catalog, "graph")
    rows = ds.dataset(str(target), format="parquet").to_table().to_pylist()
    assert sorted((r["id"], r["level"], r["amount"]) for r in rows) == [
        (2, "silver", 3.0),
        (3, "gold", 40.25),
    ]


def test_bad_input_is_invalid_input_naming_the_problem(catalog: Catalog) -> None:
    with connect(catalog.server.address) as client:
        with pytest.raises(InvalidInput, match=r"source table .*\.gone is not in the catalog"):
            client.scripts.get_mapping((catalog.database, "gone"))
        with pytest.raises(InvalidInput, match="source column 'nope' is not in"):
            client.scripts.get_plan(
                (catalog.database, "orders"),
                [("nope", "int", "x", "int")],
                target=FileTarget("file:///tmp/x"),
            )
        with pytest.raises(InvalidInput, match="cycle through the nodes a, b"):
            client.scripts.create_script(
                [_node("a", "DropNullFields"), _node("b", "DropNullFields")],
                [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}],
            )
        with pytest.raises(InvalidInput, match="not valid Python"):
            client.scripts.get_dataflow_graph("def (")


def test_scala_is_refused(catalog: Catalog) -> None:
    # Sluice runs PySpark only: Glue's SCALA is InvalidInput, not a script it could not run.
    source = codegen_pb2.CatalogEntry(database_name=catalog.database, table_name="orders")
    node = codegen_pb2.CodeGenNode(
        id="src",
        node_type="DataSource",
        args=[
            codegen_pb2.CodeGenNodeArg(name="database", value=repr(catalog.database)),
            codegen_pb2.CodeGenNodeArg(name="table_name", value='"orders"'),
        ],
    )
    with authed_channel(catalog.server.address) as channel:
        stub = codegen_pb2_grpc.CodeGenServiceStub(channel)
        location = codegen_pb2.Location(
            s3=[codegen_pb2.CodeGenNodeArg(name="path", value='"file:///tmp/never"')]
        )
        calls = [
            lambda language: stub.GetPlan(
                codegen_pb2.GetPlanRequest(source=source, location=location, language=language)
            ),
            lambda language: stub.CreateScript(
                codegen_pb2.CreateScriptRequest(dag_nodes=[node], language=language)
            ),
        ]
        for call in calls:
            assert call("PYTHON").python_script
            for language in ("SCALA", "scala"):
                with pytest.raises(grpc.RpcError) as refused:
                    call(language)
                assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
                assert f"Language '{language}' is not supported" in (refused.value.details() or "")
                assert "cannot run Scala" in (refused.value.details() or "")


def test_hostile_names_stay_names_through_the_service(catalog: Catalog) -> None:
    with connect(catalog.server.address) as client:
        script = client.scripts.get_plan(
            (catalog.database, "orders"),
            [
                {
                    "source_path": HOSTILE,
                    "source_type": "string",
                    "target_path": HOSTILE,
                    "target_type": "string",
                }
            ],
            target=FileTarget("file:///tmp/never"),
        )
        nodes, _ = client.scripts.get_dataflow_graph(script)
    assert "import os" not in [line.strip() for line in script.splitlines()]
    mapping = next(n for n in nodes if n.node_type == "ApplyMapping")
    assert HOSTILE in mapping.args[0].value


def test_reading_a_table_needs_get_table(catalog: Catalog) -> None:
    account = str(uuid.uuid4().int)[:12]
    with authed_channel(catalog.server.address) as operator:
        iam = iam_pb2_grpc.IamServiceStub(operator)
        iam.CreatePrincipal(
            iam_pb2.CreatePrincipalRequest(account=account, name="dev", roles=["dev"])
        )
        token = iam.CreateToken(
            iam_pb2.CreateTokenRequest(account=account, principal_name="dev")
        ).token
        iam.PutPolicy(
            iam_pb2.PutPolicyRequest(
                account=account,
                name="codegen-only",
                roles=["dev"],
                statements=[
                    {"effect": "EFFECT_ALLOW", "actions": ["glue:Get*"], "resources": ["*"]},
                    {
                        "effect": "EFFECT_DENY",
                        "actions": ["glue:GetTable"],
                        "resources": ["sluice:catalog:*:table/sales/*"],
                    },
                ],
            )
        )
    with authed_channel(catalog.server.address, token) as dev:
        stub = codegen_pb2_grpc.CodeGenServiceStub(dev)
        request = codegen_pb2.GetMappingRequest(
            source={"database_name": "sales", "table_name": "orders"}
        )
        with pytest.raises(grpc.RpcError) as denied:
            stub.GetMapping(request)
        assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "glue:GetTable" in (denied.value.details() or "")
        request.source.database_name = "other"
        with pytest.raises(grpc.RpcError) as missing:
            stub.GetMapping(request)
        assert missing.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert AccessDenied  # the SDK's name for PERMISSION_DENIED


def _sluice(catalog: Catalog, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sluice.sdk.cli.main", "--server", catalog.server.address]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, cwd=catalog.root
    )


def test_cli_generates_a_script_from_a_mapping_file_and_shows_its_graph(catalog: Catalog) -> None:
    mapping = catalog.root / "mapping.yaml"
    mapping.write_text(
        "- [id, bigint, order_id, string]\n"
        "- {source_path: customer.city, source_type: string, target_path: city,"
        " target_type: string}\n"
        "- {SourcePath: day, SourceType: string, TargetPath: day, TargetType: string}\n"
    )
    job = catalog.root / "job.py"
    generated = _sluice(
        catalog,
        "scripts",
        "generate",
        "--source",
        f"{catalog.database}.orders",
        "--target",
        (catalog.root / "cli_out").as_uri(),
        "--table",
        f"{catalog.database}.cli_out",
        "--format",
        "parquet",
        "--partition-keys",
        "day",
        "--mapping",
        str(mapping),
        "-o",
        str(job),
    )
    assert generated.returncode == 0, generated.stderr
    text = job.read_text()
    assert '("customer.city", "string", "city", "string")' in text
    assert 'partitionKeys=["day"]' in text
    shown = _sluice(catalog, "scripts", "graph", str(job), "-o", "json")
    assert shown.returncode == 0, shown.stderr
    graph = json.loads(shown.stdout)
    assert graph["dag_nodes"][0]["node_type"] == "DataSource"
    assert len(graph["dag_edges"]) == len(graph["dag_nodes"]) - 1
    table = _sluice(catalog, "scripts", "graph", str(job))
    assert "ApplyMapping" in table.stdout
    bad = _sluice(catalog, "scripts", "generate", "--source", "nodot", "--target", "x.y")
    assert bad.returncode != 0
    assert "'nodot' is not DATABASE.TABLE" in bad.stderr


def _visual_nodes(catalog: Catalog, out: Path) -> dict[str, Any]:
    """A visual job as Glue Studio saves one: catalog source, ApplyMapping, file target."""
    return {
        "node-1": {
            "S3CatalogSource": {"Name": "orders", "Database": catalog.database, "Table": "orders"}
        },
        "node-2": {
            "ApplyMapping": {
                "Name": "Change Schema",
                "Inputs": ["node-1"],
                "Mapping": [
                    {"ToKey": "id", "FromPath": ["id"], "FromType": "bigint", "ToType": "string"},
                    {"ToKey": HOSTILE, "FromPath": ["day"], "FromType": "string",
                     "ToType": "string"},
                ],
            }
        },
        "node-3": {
            "S3DirectTarget": {
                "Name": "out",
                "Inputs": ["node-2"],
                "Path": out.as_uri(),
                "Format": "json",
                "PartitionKeys": [],
            }
        },
    }  # fmt: skip


def _stored_script(server: ServerProcess, name: str) -> str:
    """An uploaded script as the server stored it (its SQLite file: no API reads scripts)."""
    path = server.data_dir / "sluice.db"
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT content FROM job_scripts WHERE name = ?", (name,)).fetchall()
    assert len(rows) == 1, rows
    return bytes(rows[0][0]).decode()


def test_a_visual_job_keeps_its_nodes_and_its_generated_script(catalog: Catalog) -> None:
    name = f"visual_{uuid.uuid4().hex[:8]}"
    nodes = _visual_nodes(catalog, catalog.root / name)
    request = jobs_pb2.CreateJobRequest(
        name=name, role="arn:sluice:role/etl", command=types_pb2.JobCommand(name="glueetl")
    )
    for node_id, node in nodes.items():
        request.code_gen_configuration_nodes[node_id].update(node)
    with authed_channel(catalog.server.address) as channel:
        jobs = jobs_pb2_grpc.JobServiceStub(channel)
        jobs.CreateJob(request)
        job = jobs.GetJob(jobs_pb2.GetJobRequest(job_name=name)).job
        kept = {
            k: json_format.MessageToDict(v) for k, v in job.code_gen_configuration_nodes.items()
        }
        assert kept == nodes
        assert job.command.script_location == f"sluice://scripts/{name}.py"
        script = _stored_script(catalog.server, f"{name}.py")
        assert 'transformation_ctx="node-2"' in script
        assert repr(HOSTILE) in script and "\nimport os" not in script
        # The script parses back to the nodes' graph.
        codegen = codegen_pb2_grpc.CodeGenServiceStub(channel)
        graph = codegen.GetDataflowGraph(codegen_pb2.GetDataflowGraphRequest(python_script=script))
        assert [n.node_type for n in graph.dag_nodes] == ["DataSource", "ApplyMapping", "DataSink"]

        # A bad node: InvalidInput naming it; the job and its script are left as they were.
        update = types_pb2.JobUpdate(
            role="arn:sluice:role/etl",
            command=types_pb2.JobCommand(
                name="glueetl", script_location=f"sluice://scripts/{name}.py"
            ),
        )
        update.code_gen_configuration_nodes["node-9"].update({"S3HudiSource": {"Name": "h"}})
        with pytest.raises(grpc.RpcError) as bad:
            jobs.UpdateJob(jobs_pb2.UpdateJobRequest(job_name=name, job_update=update))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "node 'node-9': node kind S3HudiSource is not supported" in bad.value.details()
        assert (
            len(jobs.GetJob(jobs_pb2.GetJobRequest(job_name=name)).job.code_gen_configuration_nodes)
            == 3
        )
        assert _stored_script(catalog.server, f"{name}.py") == script

        # UpdateJob with other nodes regenerates the script; without nodes, it keeps the last.
        del update.code_gen_configuration_nodes["node-9"]
        fewer = {k: v for k, v in nodes.items() if k != "node-2"}
        fewer["node-3"] = {
            "S3DirectTarget": {**nodes["node-3"]["S3DirectTarget"], "Inputs": ["node-1"]}
        }
        for node_id, node in fewer.items():
            update.code_gen_configuration_nodes[node_id].update(node)
        jobs.UpdateJob(jobs_pb2.UpdateJobRequest(job_name=name, job_update=update))
        regenerated = _stored_script(catalog.server, f"{name}.py")
        assert "ApplyMapping" not in regenerated and "node-3" in regenerated
        update.ClearField("code_gen_configuration_nodes")
        jobs.UpdateJob(jobs_pb2.UpdateJobRequest(job_name=name, job_update=update))
        assert not jobs.GetJob(
            jobs_pb2.GetJobRequest(job_name=name)
        ).job.code_gen_configuration_nodes
        assert _stored_script(catalog.server, f"{name}.py") == regenerated


def test_a_visual_scala_job_is_refused(catalog: Catalog) -> None:
    # Glue generates Scala for a visual job with --job-language scala; Sluice cannot run Scala.
    with authed_channel(catalog.server.address) as channel:
        jobs = jobs_pb2_grpc.JobServiceStub(channel)
        for language in ("scala", "python"):
            name = f"visual_{language}_{uuid.uuid4().hex[:8]}"
            request = jobs_pb2.CreateJobRequest(
                name=name,
                role="arn:sluice:role/etl",
                command=types_pb2.JobCommand(name="glueetl"),
                default_arguments={"--job-language": language},
            )
            for node_id, node in _visual_nodes(catalog, catalog.root / name).items():
                request.code_gen_configuration_nodes[node_id].update(node)
            if language == "python":
                jobs.CreateJob(request)
                continue
            with pytest.raises(grpc.RpcError) as refused:
                jobs.CreateJob(request)
            assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert "--job-language 'scala' is not supported for a visual job" in (
                refused.value.details() or ""
            )
            with pytest.raises(grpc.RpcError) as missing:
                jobs.GetJob(jobs_pb2.GetJobRequest(job_name=name))
            assert missing.value.code() is grpc.StatusCode.NOT_FOUND


def test_a_visual_job_needs_the_right_to_upload_its_script(catalog: Catalog) -> None:
    # Its script replaces the one named: the caller needs sluice:UploadScript on it, so that
    # CreateJob cannot overwrite another job's script for a caller who may not upload it.
    account = str(uuid.uuid4().int)[:12]
    with authed_channel(catalog.server.address) as operator:
        iam = iam_pb2_grpc.IamServiceStub(operator)
        iam.CreatePrincipal(
            iam_pb2.CreatePrincipalRequest(account=account, name="dev", roles=["dev"])
        )
        token = iam.CreateToken(
            iam_pb2.CreateTokenRequest(account=account, principal_name="dev")
        ).token
        iam.PutPolicy(
            iam_pb2.PutPolicyRequest(
                account=account,
                name="jobs-but-one-script",
                roles=["dev"],
                statements=[
                    {
                        "effect": "EFFECT_ALLOW",
                        "actions": ["glue:*", "sluice:PassRole", "sluice:UploadScript"],
                        "resources": ["*"],
                    },
                    {
                        "effect": "EFFECT_DENY",
                        "actions": ["sluice:UploadScript"],
                        "resources": ["sluice:jobs:*:script/shared.py"],
                    },
                ],
            )
        )
    nodes = _visual_nodes(catalog, catalog.root / "denied")
    with authed_channel(catalog.server.address, token) as dev:
        jobs = jobs_pb2_grpc.JobServiceStub(dev)
        for name, location in (("denied", "sluice://scripts/shared.py"), ("allowed", "")):
            request = jobs_pb2.CreateJobRequest(
                name=name,
                role="arn:sluice:role/etl",
                command=types_pb2.JobCommand(name="glueetl", script_location=location),
            )
            for node_id, node in nodes.items():
                request.code_gen_configuration_nodes[node_id].update(node)
            if name == "denied":
                with pytest.raises(grpc.RpcError) as denied:
                    jobs.CreateJob(request)
                assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
                assert "sluice:UploadScript" in (denied.value.details() or "")
            else:
                jobs.CreateJob(request)
        with pytest.raises(grpc.RpcError) as missing:
            jobs.GetJob(jobs_pb2.GetJobRequest(job_name="denied"))
        assert missing.value.code() is grpc.StatusCode.NOT_FOUND
        allowed = jobs.GetJob(jobs_pb2.GetJobRequest(job_name="allowed")).job
        assert allowed.command.script_location == "sluice://scripts/allowed.py"


@pytest.mark.slow
def test_a_visual_jobs_script_runs_into_a_catalog_table(catalog: Catalog) -> None:
    # Glue Studio's shapes end to end: catalog and CSV sources, Filter, Join, ApplyMapping
    # (a nested path, casts), RenameField, DropFields, a Parquet target kept in the catalog.
    tiers = catalog.root / "visual_tiers"
    tiers.mkdir()
    (tiers / "tiers.csv").write_text("cid;tier\n1;gold\n2;silver\n3;gold\n")
    out = catalog.root / "visual_out"
    name = f"visual_run_{uuid.uuid4().hex[:8]}"
    nodes = {
        "node-1": {
            "S3CatalogSource": {"Name": "orders", "Database": catalog.database, "Table": "orders"}
        },
        "node-2": {
            "S3CsvSource": {"Name": "tiers", "Paths": [tiers.as_uri()], "Separator": "semicolon",
                            "QuoteChar": "quote", "WithHeader": True}
        },
        "node-3": {
            "Filter": {"Name": "big", "Inputs": ["node-1"], "LogicalOperator": "AND",
                       "Filters": [{"Operation": "LT", "Negated": True, "Values": [
                           {"Type": "COLUMNEXTRACTED", "Value": ["id"]},
                           {"Type": "CONSTANT", "Value": ["2"]}]}]}
        },
        "node-4": {
            "ApplyMapping": {"Name": "typed", "Inputs": ["node-3"], "Mapping": [
                {"ToKey": "id", "FromPath": ["id"], "FromType": "bigint", "ToType": "string"},
                {"ToKey": "amount", "FromPath": ["amount"], "FromType": "string",
                 "ToType": "double"},
                {"ToKey": "city", "FromPath": ["customer", "city"], "FromType": "string",
                 "ToType": "string"},
                {"ToKey": "note", "FromPath": ["note"], "FromType": "string", "ToType": "string",
                 "Dropped": True}]}
        },
        "node-5": {
            "Join": {"Name": "joined", "Inputs": ["node-4", "node-2"], "JoinType": "equijoin",
                     "Columns": [{"From": "node-4", "Keys": [["id"]]},
                                 {"From": "node-2", "Keys": [["cid"]]}]}
        },
        "node-6": {
            "RenameField": {"Name": "level", "Inputs": ["node-5"], "SourcePath": ["tier"],
                            "TargetPath": ["level"]}
        },
        "node-7": {"DropFields": {"Name": "slim", "Inputs": ["node-6"], "Paths": [["cid"]]}},
        "node-8": {
            "S3GlueParquetTarget": {"Name": "out", "Inputs": ["node-7"], "Path": out.as_uri(),
                                    "SchemaChangePolicy": {"EnableUpdateCatalog": True,
                                                           "Database": catalog.database,
                                                           "Table": "visual_out"}}
        },
    }  # fmt: skip
    request = jobs_pb2.CreateJobRequest(
        name=name, role="arn:sluice:role/etl", command=types_pb2.JobCommand(name="glueetl")
    )
    for node_id, node in nodes.items():
        request.code_gen_configuration_nodes[node_id].update(node)
    with authed_channel(catalog.server.address) as channel:
        jobs_pb2_grpc.JobServiceStub(channel).CreateJob(request)
    _run(_stored_script(catalog.server, f"{name}.py"), catalog, name)
    with connect(catalog.server.address) as client:
        table = client.catalog.get_table(catalog.database, "visual_out")
    assert {c.name for c in table.storage_descriptor.columns} == {"id", "amount", "city", "level"}
    rows = ds.dataset(str(out), format="parquet").to_table().to_pylist()
    assert sorted((r["id"], r["amount"], r["city"], r["level"]) for r in rows) == [
        ("2", 3.0, "Rome", "silver"),
        ("3", 40.25, "Oslo", "gold"),
    ]
