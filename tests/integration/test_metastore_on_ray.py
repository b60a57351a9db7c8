"""Spark SQL over the Sluice catalog inside real job runs (Ray, RayDP, a warm environment).

The run's Spark session resolves tables through the Hive metastore door of its environment,
which acts with the run's scoped token: what the script writes is authorised by the job's role
and audited as `run/<id>`. Two runs of one job share the warm environment (and its Hive client's
one connection to the door): the second acts as itself, not as the first.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.jobs.v1 import jobs_pb2_grpc, types_pb2
from sluice.sdk import connect
from sluice.sdk.client import Client
from sluice.sdk.config import ClientOptions
from tests.integration.conftest import OPERATOR_TOKEN, ServerProcess, authed_channel
from tests.integration.test_jobs_on_ray import create_job, logs, start, unique, wait_run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Reads a catalog table with Spark SQL (partition pruning), writes one with saveAsTable.
SCRIPT = """
import json, os, sys
from sluice.sdk.args import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_RUN_ID", "database", "output"])
db = args["database"]
rows = spark.sql(f"SELECT region, amount FROM {db}.orders WHERE year = 2024").collect()
(
    spark.table(f"{db}.orders").groupBy("region").count()
    .write.mode("overwrite").saveAsTable(f"{db}.{args['output']}")
)
written = spark.table(f"{db}.{args['output']}").count()
uri = spark.sparkContext.getConf().get("spark.hadoop.hive.metastore.uris")
result = {"rows": sorted([r[0], r[1]] for r in rows), "written": written}
print("RESULT " + json.dumps(result))
print("METASTORE " + json.dumps({"uri": uri, "ports": os.environ.get("SLUICE_SPARK_PORTS", "")}))
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the sandbox's OS user may read and write (pytest's tmp dirs are root's own)."""
    path = Path(tempfile.mkdtemp(prefix="sluice-hms-"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def jobs(ray_server: ServerProcess) -> Iterator[jobs_pb2_grpc.JobServiceStub]:
    with authed_channel(ray_server.address) as channel:
        yield jobs_pb2_grpc.JobServiceStub(channel)


@pytest.fixture
def operator(ray_server: ServerProcess) -> Iterator[Client]:
    with connect(ray_server.address, options=ClientOptions(token=OPERATOR_TOKEN)) as client:
        yield client


def _register_orders(client: Client, database: str, root: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    client.catalog.create_database({"name": database, "location_uri": f"file:{root}/db"})
    client.catalog.create_table(
        database,
        {
            "name": "orders",
            "table_type": "EXTERNAL_TABLE",
            "storage_descriptor": {
                "columns": [{"name": "amount", "type": "double"}],
                "location": f"file:{root}/orders",
                "input_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "output_format": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "serde_info": {
                    "serialization_library": (
                        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    )
                },
            },
            "partition_keys": [
                {"name": "year", "type": "int"},
                {"name": "region", "type": "string"},
            ],
        },
    )
    partitions = {(2024, "eu"): [10.0], (2024, "us"): [5.0], (2023, "eu"): [1.0]}
    for (year, region), amounts in partitions.items():
        folder = root / "orders" / f"year={year}" / f"region={region}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"amount": amounts}), folder / "part-0.parquet")
        os.chmod(folder / "part-0.parquet", 0o644)
    client.catalog.batch_create_partition(
        database,
        "orders",
        [{"values": [str(year), region], "storage_descriptor": {}} for year, region in partitions],
    )


def test_runs_query_and_write_the_catalog_with_spark_sql(
    jobs: jobs_pb2_grpc.JobServiceStub,
    operator: Client,
    shared_dir: Path,
) -> None:
    database = unique("hms_sales").replace("-", "_")
    _register_orders(operator, database, shared_dir)
    role = unique("hms-role")
    operator.iam.put_policy(
        unique("hms-policy"),
        roles=[role],
        statements=[{"effect": "Allow", "actions": ["glue:*"], "resources": ["*"]}],
    )
    job = create_job(jobs, SCRIPT, role=role)

    results = []
    for output in ("by_region", "by_region_again"):
        run_id = start(jobs, job, database=database, output=output)
        run = wait_run(jobs, job, run_id)
        lines = logs(jobs, job, run_id)
        assert run.error_message == "" and run.job_run_state == types_pb2.JOB_RUN_STATE_SUCCEEDED, (
            run,
            lines[-40:],
        )
        result = next(line for line in lines if line.startswith("RESULT "))
        results.append((run_id, output, json.loads(result.removeprefix("RESULT "))))
        door = json.loads(
            next(line for line in lines if line.startswith("METASTORE ")).split(" ", 1)[1]
        )
        # The door listens on loopback, in the sandbox's own ports when it has a block.
        host, port = door["uri"].removeprefix("thrift://").split(":")
        assert host == "127.0.0.1"
        if door["ports"]:
            first, last = (int(p) for p in door["ports"].split("-"))
            assert first <= int(port) <= last

    for run_id, output, result in results:
        assert result == {"rows": [["eu", 10.0], ["us", 5.0]], "written": 2}
        table = operator.catalog.get_table(database, output)
        assert table.storage_descriptor.location.startswith(f"file:{shared_dir}/db")
        created = [
            event
            for event in operator.audit.query(action="glue:CreateTable", limit=1000)
            if event.resource.endswith(f"table/{database}/{output}")
        ]
        assert [event.principal_name for event in created] == [f"run/{run_id}"]
    # The partition filter reached the catalog as a Glue expression, as each run's principal.
    for run_id, _, _ in results:
        reads = list(operator.audit.query(principal=f"run/{run_id}", action="glue:GetPartitions"))
        assert reads, f"run {run_id} did not list partitions through the door"
