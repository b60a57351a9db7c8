"""`sluice submit` end to end: the installed command against the session's real server on an
embedded Ray, with real Spark runs. A script is submitted, run and followed; submitted again
(the job is updated) it fails, and the exit code says so."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from tests.integration.conftest import OPERATOR_TOKEN, ServerProcess, authed_channel, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = Path(sys.executable).parent / "sluice"
# A cold environment may take a minute on a busy two-core machine.
RUN_TIMEOUT_S = 240.0

ETL = """
import sys
from sluice.sdk.args import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "day"])
total = spark.range(10).selectExpr("sum(id) AS s").collect()[0]["s"]
print(f"{args['JOB_NAME']} for {args['day']}: {total}", flush=True)
"""
FAILING = """
print("about to fail", flush=True)
raise ValueError("bad row 42")
"""


@pytest.fixture(scope="module")
def jobs(ray_server: ServerProcess) -> Iterator[jobs_pb2_grpc.JobServiceStub]:
    with authed_channel(ray_server.address) as channel:
        yield jobs_pb2_grpc.JobServiceStub(channel)


def submit(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "--server", server.address, "submit", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env={**os.environ, "SLUICE_TOKEN": OPERATOR_TOKEN},
    )


def test_submit_runs_a_script_and_exits_with_its_outcome(
    jobs: jobs_pb2_grpc.JobServiceStub, ray_server: ServerProcess, tmp_path: Path
) -> None:
    wait_until(
        lambda: jobs.GetPoolStatus(jobs_pb2.GetPoolStatusRequest()).pool_status.warm >= 1,
        RUN_TIMEOUT_S,
        "a warm environment in the pool",
    )
    name = f"etl_{uuid.uuid4().hex[:8]}"
    script = tmp_path / f"{name}.py"
    script.write_text(ETL)
    role = f"role-{uuid.uuid4().hex[:8]}"

    done = submit(ray_server, str(script), "--role", role, "--arg", "day=2024-05-01", "--wait")

    assert done.returncode == 0, done.stderr
    assert f"Created job {name}." in done.stderr
    heading, _, output = done.stdout.partition(f"--- output of {name} jr_")
    assert "SUCCEEDED" in heading
    assert f"{name} for 2024-05-01: 45" in output.splitlines()

    script.write_text(FAILING)
    failed = submit(ray_server, str(script), "--wait")

    assert failed.returncode == 4, failed.stderr
    assert f"Updated job {name}." in failed.stderr
    assert "about to fail" in failed.stdout
    assert failed.stderr.splitlines()[-1].startswith("error: job run jr_")
    assert "ended FAILED" in failed.stderr
    assert "ValueError: bad row 42" in failed.stderr
    job = jobs.GetJob(jobs_pb2.GetJobRequest(job_name=name)).job
    assert job.role == role  # kept by the update
    assert job.command.script_location == f"sluice://scripts/{name}.py"
