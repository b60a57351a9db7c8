"""The AWS CLI end to end through the Glue door of the session's Ray server: create-database,
create-table and batch-create-partition, get-partitions with an --expression, and a job made
with create-job, started with start-job-run and followed with get-job-run to SUCCEEDED on a real
Spark run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from sluice.catalog.core.model import DEFAULT_CATALOG_ID
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from tests.integration.conftest import ServerProcess, authed_channel, glue_endpoint, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A cold environment may take minutes on a busy two-core machine.
RUN_TIMEOUT_S = 300.0
SCRIPT = """
import sys
from sluice.sdk.args import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "day"])
total = spark.range(10).selectExpr("sum(id) AS s").collect()[0]["s"]
print(f"{args['JOB_NAME']} for {args['day']}: {total}", flush=True)
"""


class Aws:
    """The `aws glue` command with an access key of an admin of the default account."""

    def __init__(self, server: ServerProcess) -> None:
        name = f"cli_{uuid.uuid4().hex[:8]}"
        with authed_channel(server.address) as channel:
            iam = iam_pb2_grpc.IamServiceStub(channel)
            iam.CreatePrincipal(
                iam_pb2.CreatePrincipalRequest(
                    account=DEFAULT_CATALOG_ID, name=name, roles=["admin"]
                )
            )
            made = iam.CreateAccessKey(
                iam_pb2.CreateAccessKeyRequest(account=DEFAULT_CATALOG_ID, principal_name=name)
            )
        bin_dir = Path(sys.executable).parent
        self._aws = shutil.which("aws", path=str(bin_dir)) or "aws"
        self._endpoint = glue_endpoint(server)
        self._env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": made.access_key_info.access_key_id,
            "AWS_SECRET_ACCESS_KEY": made.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    def __call__(self, *args: str) -> Any:
        done = subprocess.run(
            [self._aws, "glue", *args, "--endpoint-url", self._endpoint, "--output", "json"],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (args, done.stderr)
        return json.loads(done.stdout) if done.stdout.strip() else {}


def test_aws_cli_catalog_and_a_real_spark_run(ray_server: ServerProcess) -> None:
    aws = Aws(ray_server)
    suffix = uuid.uuid4().hex[:8]
    database, job = f"cli_db_{suffix}", f"cli_job_{suffix}"

    aws("create-database", "--database-input", json.dumps({"Name": database}))
    table = {
        "Name": "events",
        "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"}],
            "Location": "s3://bucket/events/",
        },
        "PartitionKeys": [{"Name": "year", "Type": "int"}, {"Name": "region", "Type": "string"}],
    }
    aws("create-table", "--database-name", database, "--table-input", json.dumps(table))
    partitions = [
        {"Values": [str(year), region]} for year in (2023, 2024) for region in ("eu", "us")
    ]
    aws(
        "batch-create-partition",
        "--database-name",
        database,
        "--table-name",
        "events",
        "--partition-input-list",
        json.dumps(partitions),
    )
    found = aws(
        "get-partitions",
        "--database-name",
        database,
        "--table-name",
        "events",
        "--expression",
        "year = 2024 AND region = 'eu'",
    )
    assert [p["Values"] for p in found["Partitions"]] == [["2024", "eu"]]

    with authed_channel(ray_server.address) as channel:
        jobs = jobs_pb2_grpc.JobServiceStub(channel)
        location = jobs.UploadScript(
            jobs_pb2.UploadScriptRequest(name=f"{job}.py", content=SCRIPT.encode())
        ).script_location
    aws(
        "create-job",
        "--name",
        job,
        "--role",
        f"role-{suffix}",
        "--command",
        json.dumps({"Name": "glueetl", "ScriptLocation": location}),
        "--glue-version",
        "4.0",
    )
    run_id = aws("start-job-run", "--job-name", job, "--arguments", '{"--day": "2024-05-01"}')[
        "JobRunId"
    ]

    def ended() -> dict[str, Any] | None:
        run = aws("get-job-run", "--job-name", job, "--run-id", run_id)["JobRun"]
        return run if run["JobRunState"] in ("SUCCEEDED", "FAILED", "STOPPED", "ERROR") else None

    run = wait_until(ended, RUN_TIMEOUT_S, f"job run {run_id} to end", interval_s=2.0)
    assert run["JobRunState"] == "SUCCEEDED", run
    assert run["Arguments"] == {"--day": "2024-05-01"}
    assert run["StartedOn"] <= run["CompletedOn"]
    with authed_channel(ray_server.address) as channel:
        logs = jobs_pb2_grpc.JobServiceStub(channel).GetJobRunLogs(
            jobs_pb2.GetJobRunLogsRequest(job_name=job, run_id=run_id, max_results=1000)
        )
    assert f"{job} for 2024-05-01: 45" in [entry.message for entry in logs.entries]
