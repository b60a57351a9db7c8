"""Generated scripts as real Sluice jobs on a warm environment (the session's `ray_server`):
what test_codegen.py runs in local PySpark, here on Ray and RayDP as the job's role, in two runs.

1. `sluice scripts generate` (GetPlan) then `sluice jobs create --script` and `sluice jobs run`:
   a catalog source mapped with casts, renames, a nested source field, a nested target field,
   a column left out and a column named `x"); import os; #`, written as Parquet partitioned by
   day, its table and partitions kept in the catalog.
2. A visual job (CodeGenConfigurationNodes) with every node kind Sluice reads: a catalog source,
   a CSV source, Filter, ApplyMapping (casts, nested fields, a Dropped one), Join, RenameField,
   DropFields, SelectFields, SparkSQL, a catalog target and a file target updating the catalog.

The tables the runs leave in the catalog are checked, and their files read back with pyarrow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from sluice.sdk import Client, connect
from sluice.sdk.jobs import RunState
from tests.integration.conftest import ServerProcess, wait_until
from tests.integration.test_jobs_on_ray import warm_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

CLI = Path(sys.executable).parent / "sluice"
# A cold environment may take a minute or more on a busy two-core machine.
RUN_TIMEOUT_S = 300.0
HOSTILE = 'x"); import os; #'
ORDERS = [
    {"id": 1, "amount": "12.5", "note": None, "customer": {"name": "ann", "city": "Oslo"},
     "day": "2024-01-01", HOSTILE: "h1"},
    {"id": 2, "amount": "3", "note": None, "customer": {"name": "bo", "city": "Rome"},
     "day": "2024-01-02", HOSTILE: "h2"},
    {"id": 3, "amount": "40.25", "note": None, "customer": {"name": "cy", "city": "Oslo"},
     "day": "2024-01-02", HOSTILE: "h3"},
    {"id": 4, "amount": "7", "note": None, "customer": {"name": "di", "city": "Pisa"},
     "day": "2024-01-03", HOSTILE: "drop-me"},
]  # fmt: skip


@dataclass
class Setup:
    server: ServerProcess
    client: Client
    database: str
    role: str
    data: Path
    # Whether a run of the role's tuple ended: its environment is kept for the next run.
    tuple_warm: bool = False


def _open(path: Path) -> Path:
    """A folder the run's sandbox OS user can read and write."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path


def _write(path: Path, text: str) -> None:
    _open(path.parent)
    path.write_text(text)
    path.chmod(0o666)


@pytest.fixture(scope="module")
def setup(ray_server: ServerProcess) -> Iterator[Setup]:
    data = _open(Path(tempfile.mkdtemp(prefix="sluice-codegen-")))
    _write(data / "orders" / "part-0.json", "".join(json.dumps(r) + "\n" for r in ORDERS))
    database = f"cg_{uuid.uuid4().hex[:8]}"
    # One role for both runs: the second reuses the first's environment.
    role = f"codegen-{uuid.uuid4().hex[:8]}"
    with connect(ray_server.address) as client:
        client.catalog.create_database({"name": database})
        client.catalog.create_table(
            database,
            {
                "name": "orders",
                "parameters": {"classification": "json"},
                "storage_descriptor": {
                    "location": (data / "orders").as_uri(),
                    "columns": [
                        {"name": "id", "type": "bigint"},
                        {"name": "amount", "type": "string"},
                        {"name": "note", "type": "string"},
                        {"name": "customer", "type": "struct<name:string,city:string>"},
                        {"name": "day", "type": "string"},
                        {"name": HOSTILE, "type": "string"},
                    ],
                },
            },
        )
        # What the runs' own token may do: read, create and update the database's tables.
        client.iam.put_policy(
            f"{role}-policy",
            [
                {
                    "effect": "Allow",
                    "actions": ["glue:*"],
                    "resources": [f"database/{database}", f"table/{database}/*"],
                }
            ],
            roles=[role],
        )
        yield Setup(ray_server, client, database, role, data)
    shutil.rmtree(data, ignore_errors=True)


def _wait_warm(setup: Setup) -> None:
    """Until the next run starts warm: the environment of an earlier run of the tuple, or else
    a warm one of the pool (waiting for the pool after a run would wait for the spare it starts
    in place of the one taken)."""
    if setup.tuple_warm:
        return
    wait_until(
        lambda: warm_for(setup.client.jobs.pool_status()),
        RUN_TIMEOUT_S,
        "a warm environment for the account",
    )


def _sluice(setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "--server", setup.server.address, *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S + 60,
        cwd=setup.data,
        env=os.environ,
    )


def _rows(path: Path) -> list[dict[str, Any]]:
    return ds.dataset(str(path), format="parquet", partitioning="hive").to_table().to_pylist()


def test_a_planned_script_from_the_cli_runs_as_a_job(setup: Setup) -> None:
    client, database = setup.client, setup.database
    out = _open(setup.data / "planned")
    mapping = setup.data / "mapping.json"
    mapping.write_text(
        json.dumps(
            [
                ["id", "bigint", "order_id", "string"],
                ["amount", "string", "amount", "double"],
                ["customer.city", "string", "city", "string"],
                ["customer.name", "string", "buyer.name", "string"],
                [HOSTILE, "string", HOSTILE, "string"],
                ["day", "string", "day", "string"],
            ]
        )
    )
    script = setup.data / "planned.py"
    generated = _sluice(
        setup,
        "scripts",
        "generate",
        "--source",
        f"{database}.orders",
        "--target",
        out.as_uri(),
        "--table",
        f"{database}.planned",
        "--format",
        "parquet",
        "--partition-keys",
        "day",
        "--mapping",
        str(mapping),
        "-o",
        str(script),
    )
    assert generated.returncode == 0, generated.stderr
    job = f"planned-{uuid.uuid4().hex[:8]}"
    created = _sluice(setup, "jobs", "create", job, "--script", str(script), "--role", setup.role)
    assert created.returncode == 0, created.stderr

    _wait_warm(setup)
    ran = _sluice(
        setup, "-o", "json", "jobs", "run", job, "--wait", "--wait-timeout", str(RUN_TIMEOUT_S)
    )
    assert ran.returncode == 0, (ran.stdout, ran.stderr)
    run = client.jobs.get_run(job, json.loads(ran.stdout)["id"])
    assert RunState.of(run) == RunState.SUCCEEDED, run.error_message
    assert run.warm_start
    setup.tuple_warm = True

    table = client.catalog.get_table(database, "planned")
    # note is not mapped: it is left out.
    assert [(c.name, c.type) for c in table.storage_descriptor.columns] == [
        ("order_id", "string"),
        ("amount", "double"),
        ("city", "string"),
        ("buyer", "struct<name:string>"),
        (HOSTILE, "string"),
    ]
    assert [(k.name, k.type) for k in table.partition_keys] == [("day", "string")]
    partitions = {tuple(p.values) for p in client.catalog.get_partitions(database, "planned")}
    assert partitions == {("2024-01-01",), ("2024-01-02",), ("2024-01-03",)}
    rows = _rows(out)
    assert sorted(
        (r["order_id"], r["amount"], r["city"], r["buyer"], r[HOSTILE], str(r["day"])) for r in rows
    ) == [
        ("1", 12.5, "Oslo", {"name": "ann"}, "h1", "2024-01-01"),
        ("2", 3.0, "Rome", {"name": "bo"}, "h2", "2024-01-02"),
        ("3", 40.25, "Oslo", {"name": "cy"}, "h3", "2024-01-02"),
        ("4", 7.0, "Pisa", {"name": "di"}, "drop-me", "2024-01-03"),
    ]


def _visual_nodes(setup: Setup, tiers: Path, files: Path) -> dict[str, Any]:
    """Every node kind Sluice reads, as Glue Studio saves them."""
    database = setup.database
    return {
        "node-1": {"CatalogSource": {"Name": "orders", "Database": database, "Table": "orders"}},
        "node-2": {
            "S3CsvSource": {"Name": "tiers", "Paths": [tiers.as_uri()], "Separator": "semicolon",
                            "QuoteChar": "quote", "WithHeader": True}
        },
        "node-3": {
            "Filter": {"Name": "big", "Inputs": ["node-1"], "LogicalOperator": "AND", "Filters": [
                {"Operation": "GTE", "Negated": False, "Values": [
                    {"Type": "COLUMNEXTRACTED", "Value": ["id"]},
                    {"Type": "CONSTANT", "Value": ["2"]}]},
                {"Operation": "EQ", "Negated": True, "Values": [
                    {"Type": "CONSTANT", "Value": ["drop-me"]},
                    {"Type": "COLUMNEXTRACTED", "Value": [HOSTILE]}]}]}
        },
        "node-4": {
            "ApplyMapping": {"Name": "typed", "Inputs": ["node-3"], "Mapping": [
                {"ToKey": "id", "FromPath": ["id"], "FromType": "bigint", "ToType": "string"},
                {"ToKey": "amount", "FromPath": ["amount"], "FromType": "string",
                 "ToType": "double"},
                {"ToKey": "city", "FromPath": ["customer", "city"], "FromType": "string",
                 "ToType": "string"},
                {"ToKey": "buyer", "FromPath": ["customer"], "FromType": "struct",
                 "ToType": "struct", "Children": [
                     {"ToKey": "name", "FromPath": ["name"], "FromType": "string",
                      "ToType": "string"}]},
                {"ToKey": "note", "FromPath": ["note"], "FromType": "string", "ToType": "string",
                 "Dropped": True},
                {"ToKey": HOSTILE, "FromPath": [HOSTILE], "FromType": "string",
                 "ToType": "string"},
                {"ToKey": "day", "FromPath": ["day"], "FromType": "string", "ToType": "string"}]}
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
            "SelectFields": {"Name": "picked", "Inputs": ["node-7"], "Paths": [
                ["id"], ["amount"], ["buyer", "name"], ["level"], [HOSTILE], ["day"]]}
        },
        "node-9": {
            "SparkSQL": {"Name": "by level", "Inputs": ["node-8"],
                         "SqlAliases": [{"From": "node-8", "Alias": "picked"}],
                         "SqlQuery": "SELECT level, SUM(amount) AS total, "
                                     f"MAX(`{HOSTILE}`) AS last FROM picked GROUP BY level"}
        },
        "node-10": {
            "CatalogTarget": {"Name": "by_level", "Inputs": ["node-9"], "Database": database,
                              "Table": "by_level"}
        },
        "node-11": {
            "S3DirectTarget": {"Name": "files", "Inputs": ["node-8"], "Path": files.as_uri(),
                               "Format": "parquet", "PartitionKeys": [["day"]],
                               "SchemaChangePolicy": {"EnableUpdateCatalog": True,
                                                      "Database": database,
                                                      "Table": "visual_files"}}
        },
    }  # fmt: skip


def test_a_visual_job_with_every_node_kind_runs_as_a_job(setup: Setup) -> None:
    client, database = setup.client, setup.database
    tiers = setup.data / "tiers" / "tiers.csv"
    _write(tiers, "cid;tier\n1;gold\n2;silver\n3;gold\n4;gold\n")
    files = _open(setup.data / "visual_files")
    by_level = _open(setup.data / "by_level")
    client.catalog.create_table(
        database,
        {
            "name": "by_level",
            "parameters": {"classification": "parquet"},
            "storage_descriptor": {
                "location": by_level.as_uri(),
                "columns": [
                    {"name": "level", "type": "string"},
                    {"name": "total", "type": "double"},
                    {"name": "last", "type": "string"},
                ],
            },
        },
    )
    job = f"visual-{uuid.uuid4().hex[:8]}"
    client.jobs.create(
        {
            "name": job,
            "role": setup.role,
            "command": {"name": "glueetl"},
            "code_gen_configuration_nodes": _visual_nodes(setup, tiers.parent, files),
        }
    )

    _wait_warm(setup)
    run_id = client.jobs.start_run(job)
    run = client.jobs.wait_for_run(job, run_id, timeout_s=RUN_TIMEOUT_S)
    assert RunState.of(run) == RunState.SUCCEEDED, run.error_message
    assert run.warm_start
    setup.tuple_warm = True

    # The catalog target: the SparkSQL node's groups, in the existing table's files.
    assert sorted((r["level"], r["total"], r["last"]) for r in _rows(by_level)) == [
        ("gold", 40.25, "h3"),
        ("silver", 3.0, "h2"),
    ]
    # The file target: its table made in the catalog, partitioned by day.
    table = client.catalog.get_table(database, "visual_files")
    assert [(c.name, c.type) for c in table.storage_descriptor.columns] == [
        ("id", "string"),
        ("amount", "double"),
        ("buyer", "struct<name:string>"),
        ("level", "string"),
        (HOSTILE, "string"),
    ]
    assert [k.name for k in table.partition_keys] == ["day"]
    partitions = {tuple(p.values) for p in client.catalog.get_partitions(database, "visual_files")}
    assert partitions == {("2024-01-02",)}
    assert sorted(
        (r["id"], r["amount"], r["buyer"], r["level"], r[HOSTILE], str(r["day"]))
        for r in _rows(files)
    ) == [
        ("2", 3.0, {"name": "bo"}, "silver", "h2", "2024-01-02"),
        ("3", 40.25, {"name": "cy"}, "gold", "h3", "2024-01-02"),
    ]
