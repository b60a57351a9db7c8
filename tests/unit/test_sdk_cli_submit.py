"""`sluice submit` against a fake JobService on a loopback port: upload, create or update, run,
and with --wait the run's outcome as the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.jobs.v1 import jobs_pb2, types_pb2
from tests.unit.test_sdk_cli_jobs import JOB, assert_one_error_line, served, sluice, with_job
from tests.unit.test_sdk_jobs_support import RUNNING, STDOUT, SUCCEEDED, Served

pytestmark = pytest.mark.unit
__all__ = ["served"]  # the fixture, imported for the tests below

SCRIPT = "print('hello')\n"


@pytest.fixture
def etl(tmp_path: Path) -> Path:
    path = tmp_path / "etl.py"
    path.write_text(SCRIPT)
    return path


def test_submit_creates_the_job_named_after_the_script_and_starts_a_run(
    served: Served, etl: Path
) -> None:
    result = sluice(
        served,
        "submit",
        str(etl),
        "--role",
        "etl",
        "--arg",
        "day=2024-05-01",
        "--worker-type",
        "G.1X",
        "--workers",
        "2",
    )

    assert result.exit_code == 0, result.output
    (run_id,) = served.service.runs
    assert result.stdout == f"{run_id}\n"
    assert result.stderr.splitlines() == [
        f"Uploaded {etl} as sluice://scripts/etl.py.",
        "Created job etl.",
    ]
    assert served.service.scripts == {"etl.py": SCRIPT.encode()}
    (create,) = served.service.requests("CreateJob")
    assert create == jobs_pb2.CreateJobRequest(
        name="etl",
        role="etl",
        command=types_pb2.JobCommand(name="glueetl", script_location="sluice://scripts/etl.py"),
        worker_type="G.1X",
        number_of_workers=2,
    )
    (start,) = served.service.requests("StartJobRun")
    assert start.job_name == "etl"
    assert dict(start.arguments) == {"--day": "2024-05-01"}


def test_submit_updates_an_existing_job_keeping_what_is_not_given(
    served: Served, etl: Path
) -> None:
    with_job(served)  # daily: role etl, G.1X x 2, --input default, a tag

    result = sluice(served, "submit", str(etl), "--job", "daily", "--workers", "5")

    assert result.exit_code == 0, result.output
    assert served.service.requests("CreateJob") == []
    assert served.service.scripts == {"daily.py": SCRIPT.encode()}
    job = served.service.jobs["daily"]
    assert job.command.script_location == "sluice://scripts/daily.py"
    assert job.command.name == "glueetl"
    assert job.number_of_workers == 5
    assert (job.role, job.worker_type) == (JOB.role, JOB.worker_type)
    assert dict(job.default_arguments) == dict(JOB.default_arguments)
    assert dict(job.tags) == dict(JOB.tags)
    assert "Updated job daily." in result.stderr


def test_submit_of_a_new_job_without_a_role_is_a_usage_error(served: Served, etl: Path) -> None:
    result = sluice(served, "submit", str(etl))

    assert_one_error_line(result, 2, "job etl does not exist yet: give --role to create it")
    assert served.service.scripts == {}


@pytest.mark.parametrize(
    ("final", "exit_code"),
    [
        (SUCCEEDED, 0),
        (types_pb2.JOB_RUN_STATE_FAILED, 4),
        (types_pb2.JOB_RUN_STATE_ERROR, 4),
        (types_pb2.JOB_RUN_STATE_TIMEOUT, 5),
        (types_pb2.JOB_RUN_STATE_STOPPED, 6),
    ],
)
def test_submit_wait_exits_with_the_runs_outcome(
    served: Served, etl: Path, final: int, exit_code: int
) -> None:
    served.service.plans["etl"] = [RUNNING, final]
    served.service.logs["etl"] = [(STDOUT, "hello")]

    result = sluice(served, "submit", str(etl), "--role", "etl", "--wait")

    assert result.exit_code == exit_code, result.output
    assert "--- output of etl jr_" in result.stdout
    assert result.stdout.splitlines()[-1] == "hello"
    assert "Started run jr_" in result.stderr
    if exit_code:
        assert result.stderr.splitlines()[-1].startswith("error: job run jr_")


def test_submit_as_json_prints_the_job_and_run(served: Served, etl: Path) -> None:
    result = sluice(served, "-o", "json", "submit", str(etl), "--role", "etl")

    assert result.exit_code == 0, result.output
    (run_id,) = served.service.runs
    assert result.stdout.strip() == f'{{"job_name": "etl", "job_run_id": "{run_id}"}}'
    assert result.stderr == ""
