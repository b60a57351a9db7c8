"""`sluice jobs`, `sluice runs` and `sluice pool` against a fake JobService on a loopback port."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from sluice.jobs.v1 import types_pb2
from sluice.sdk.cli import runs as runs_cli
from sluice.sdk.cli.context import CliContext
from sluice.sdk.cli.main import cli
from tests.unit.test_sdk_jobs_support import (
    DRIVER,
    FAILED,
    RUNNING,
    STARTING,
    STDERR,
    STDOUT,
    SUCCEEDED,
    Abort,
    Served,
    TailStep,
    serving,
)

pytestmark = pytest.mark.unit

JOB = types_pb2.Job(
    name="daily",
    role="etl",
    command=types_pb2.JobCommand(name="glueetl", script_location="sluice://scripts/daily.py"),
    default_arguments={"--input": "file:///in"},
    execution_property=types_pb2.ExecutionProperty(max_concurrent_runs=1),
    worker_type="G.1X",
    number_of_workers=2,
    tags={"team": "data"},
)


@pytest.fixture
def served() -> Iterator[Served]:
    with serving() as s:
        yield s


def sluice(served: Served, *args: str) -> Result:
    """`sluice --server ADDRESS ARGS`."""
    runner = CliRunner(env={"COLUMNS": "200", "SLUICE_ADDRESS": None, "SLUICE_CATALOG_ID": None})
    return runner.invoke(
        cli, ["--server", served.address, "--timeout", "5", *args], catch_exceptions=False
    )


def assert_one_error_line(result: Result, exit_code: int, text: str) -> None:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert text in lines[0]
    assert "Traceback" not in result.output


def fields_of(text: str) -> dict[str, str]:
    """The 'Field   value' lines of a detail view, as a dict."""
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition("  ")
        fields[name] = value.strip()
    return fields


def with_job(served: Served, job: types_pb2.Job = JOB) -> None:
    stored = types_pb2.Job()
    stored.CopyFrom(job)
    served.service.jobs[job.name] = stored


# sluice jobs create


def test_create_uploads_the_script_and_defaults_the_command(served: Served, tmp_path: Path) -> None:
    script = tmp_path / "whatever.py"
    script.write_text("print('hi')\n")

    result = sluice(
        served,
        "jobs",
        "create",
        "daily",
        "--script",
        str(script),
        "--role",
        "etl",
        "--arg",
        "input=file:///in",
        "--arg",
        "--day=2024-03-01",
        "--non-overridable-arg",
        "mode=strict",
        "--max-retries",
        "2",
        "--timeout",
        "30",
        "--max-concurrent-runs",
        "3",
        "--worker-type",
        "G.2X",
        "--number-of-workers",
        "4",
        "--connection",
        "vpc-a",
        "--connection",
        "vpc-b",
        "--tag",
        "team=data",
        "--description",
        "Daily roll-up",
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == "Created job daily.\n"
    assert served.service.scripts == {"daily.py": b"print('hi')\n"}
    job = served.service.jobs["daily"]
    assert (job.command.name, job.command.script_location) == (
        "glueetl",
        "sluice://scripts/daily.py",
    )
    assert dict(job.default_arguments) == {"--input": "file:///in", "--day": "2024-03-01"}
    assert dict(job.non_overridable_arguments) == {"--mode": "strict"}
    assert (job.max_retries, job.timeout, job.execution_property.max_concurrent_runs) == (2, 30, 3)
    assert (job.worker_type, job.number_of_workers) == ("G.2X", 4)
    assert list(job.connections.connections) == ["vpc-a", "vpc-b"]
    assert dict(job.tags) == {"team": "data"}
    assert (job.role, job.description) == ("etl", "Daily roll-up")
    calls = [name for name, _, _ in served.service.calls]
    assert calls == ["GetJob", "UploadScript", "CreateJob"]


def test_create_with_a_script_location_and_pythonshell(served: Served) -> None:
    result = sluice(
        served,
        "jobs",
        "create",
        "shell",
        "--script-location",
        "file:///opt/jobs/shell.py",
        "--role",
        "r",
        "--command",
        "pythonshell",
    )

    assert result.exit_code == 0, result.output
    command = served.service.jobs["shell"].command
    assert (command.name, command.script_location) == ("pythonshell", "file:///opt/jobs/shell.py")
    assert served.service.scripts == {}


def test_create_with_a_script_does_not_replace_an_existing_jobs_script(
    served: Served, tmp_path: Path
) -> None:
    with_job(served)
    script = tmp_path / "daily.py"
    script.write_text("print('new')\n")

    result = sluice(served, "jobs", "create", "daily", "--script", str(script), "--role", "r")

    assert_one_error_line(result, 1, "AlreadyExistsException: Job daily already exists")
    assert served.service.scripts == {}


def test_create_from_a_yaml_file_with_flags_over_it(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "daily.yaml"
    path.write_text(
        "name: daily\n"
        "role: etl\n"
        "command: {name: glueetl, script_location: 'sluice://scripts/daily.py'}\n"
        "default_arguments: {--input: file:///in, --limit: 10}\n"
        "number_of_workers: 2\n"
        "connections: [vpc-a]\n"
        "tags: {team: data}\n"
    )

    result = sluice(
        served, "jobs", "create", "-f", str(path), "--arg", "limit=20", "--number-of-workers", "3"
    )

    assert result.exit_code == 0, result.output
    job = served.service.jobs["daily"]
    assert dict(job.default_arguments) == {"--input": "file:///in", "--limit": "20"}
    assert job.number_of_workers == 3
    assert list(job.connections.connections) == ["vpc-a"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("jobs", "create", "daily", "--role", "r"), "--script FILE or --script-location"),
        (("jobs", "create", "--script-location", "file:///a.py"), "give the job's NAME"),
        (
            ("jobs", "create", "d", "--script", "__file__", "--script-location", "file:///a.py"),
            "not both",
        ),
        (("jobs", "create", "d", "--script", "/no/such/file.py"), "does not exist"),
        (("jobs", "create", "d", "--script-location", "x", "--arg", "novalue"), "KEY=VALUE"),
        (("jobs", "create", "d", "--script-location", "x", "--command", "spark"), "spark"),
        (("jobs", "create", "d", "--script-location", "x", "--max-retries", "-1"), "-1"),
        (("jobs", "run"), "Missing argument"),
        (("runs", "stop", "daily"), "Missing argument"),
        (("runs", "logs", "daily", "jr_1", "--stream", "stdin"), "stdin"),
    ],
)
def test_usage_errors_are_exit_2(served: Served, args: tuple[str, ...], message: str) -> None:
    args = tuple(__file__ if a == "__file__" else a for a in args)

    result = sluice(served, *args)

    assert_one_error_line(result, 2, message)
    assert served.service.calls == []


def test_a_bad_job_file_is_exit_2(served: Served, tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("name: daily\nmax_retries: lots\n")

    result = sluice(served, "jobs", "create", "-f", str(path), "--script-location", "file:///a")

    assert_one_error_line(result, 2, "max_retries")
    assert served.service.calls == []


# sluice jobs get | list | update | delete


def test_get_shows_the_fields(served: Served) -> None:
    with_job(served)

    result = sluice(served, "jobs", "get", "daily")

    assert result.exit_code == 0, result.output
    fields = fields_of(result.stdout)
    assert fields["Script"] == "sluice://scripts/daily.py"
    assert fields["Default arguments"] == "--input=file:///in"
    assert (fields["Tags"], fields["Workers"], fields["Max concurrent runs"]) == (
        "team=data",
        "2",
        "1",
    )


def test_get_as_json(served: Served) -> None:
    with_job(served)

    result = sluice(served, "-o", "json", "jobs", "get", "daily")

    document = json.loads(result.stdout)
    assert document["name"] == "daily"
    assert document["command"] == {
        "name": "glueetl",
        "script_location": "sluice://scripts/daily.py",
    }
    assert document["execution_property"] == {"max_concurrent_runs": 1}


def test_get_an_unknown_job_is_exit_1(served: Served) -> None:
    result = sluice(served, "jobs", "get", "nope")

    assert result.exit_code == 1
    assert result.stderr == "error: EntityNotFoundException: Job nope not found\n"


def test_list_follows_pages(served: Served) -> None:
    for i in range(5):
        with_job(served, types_pb2.Job(name=f"job{i}", command=JOB.command, worker_type="G.1X"))

    result = sluice(served, "jobs", "list")

    assert result.exit_code == 0, result.output
    header, _, *rows = result.stdout.splitlines()
    assert header.split() == ["NAME", "COMMAND", "ROLE", "WORKERS", "SCRIPT", "UPDATED"]
    assert [row.split()[0] for row in rows] == [f"job{i}" for i in range(5)]
    assert len(served.service.requests("GetJobs")) == 2


def test_list_by_tag_as_json(served: Served) -> None:
    with_job(served)
    with_job(served, types_pb2.Job(name="other", tags={"team": "web"}))

    result = sluice(served, "-o", "json", "jobs", "list", "--tag", "team=data")

    assert result.exit_code == 0, result.output
    assert [job["name"] for job in json.loads(result.stdout)] == ["daily"]
    assert dict(served.service.requests("ListJobs")[0].tags) == {"team": "data"}


def test_update_from_flags_keeps_the_rest(served: Served) -> None:
    with_job(served)

    result = sluice(
        served, "jobs", "update", "daily", "--arg", "day=today", "--number-of-workers", "5"
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == "Updated job daily.\n"
    (request,) = served.service.requests("UpdateJob")
    update = request.job_update
    assert dict(update.default_arguments) == {"--input": "file:///in", "--day": "today"}
    assert (update.number_of_workers, update.worker_type, update.role) == (5, "G.1X", "etl")
    assert update.command.script_location == "sluice://scripts/daily.py"
    assert dict(served.service.jobs["daily"].tags) == {"team": "data"}


def test_update_from_the_file_that_created_the_job(served: Served, tmp_path: Path) -> None:
    with_job(served)
    path = tmp_path / "daily.json"
    path.write_text(
        json.dumps(
            {
                "name": "daily",
                "role": "etl2",
                "command": {"script_location": "file:///opt/daily.py"},
                "tags": {"team": "data"},
            }
        )
    )

    result = sluice(served, "jobs", "update", "daily", "-f", str(path))

    assert result.exit_code == 0, result.output
    update = served.service.requests("UpdateJob")[0].job_update
    assert update.role == "etl2"
    assert (update.command.name, update.command.script_location) == (
        "glueetl",
        "file:///opt/daily.py",
    )
    assert update.number_of_workers == 0
    assert served.service.requests("GetJob") == []


def test_update_with_a_script_uploads_it(served: Served, tmp_path: Path) -> None:
    with_job(served, types_pb2.Job(name="daily", role="r", command=JOB.command))
    script = tmp_path / "v2.py"
    script.write_text("print('v2')\n")

    result = sluice(served, "jobs", "update", "daily", "--script", str(script))

    assert result.exit_code == 0, result.output
    assert served.service.scripts == {"daily.py": b"print('v2')\n"}
    assert served.service.jobs["daily"].command.script_location == "sluice://scripts/daily.py"


def test_delete(served: Served) -> None:
    with_job(served)

    result = sluice(served, "jobs", "delete", "daily")

    assert (result.exit_code, result.stdout) == (0, "Deleted job daily.\n")
    assert served.service.jobs == {}


# sluice jobs run


def test_run_prints_the_run_id(served: Served) -> None:
    with_job(served)

    result = sluice(
        served,
        "jobs",
        "run",
        "daily",
        "--arg",
        "day=2024-03-01",
        "--timeout",
        "10",
        "--worker-type",
        "G.2X",
        "--number-of-workers",
        "3",
    )

    assert result.exit_code == 0, result.output
    (run_id,) = served.service.runs
    assert result.stdout == f"{run_id}\n"
    (request,) = served.service.requests("StartJobRun")
    assert dict(request.arguments) == {"--day": "2024-03-01"}
    assert (request.timeout, request.worker_type, request.number_of_workers) == (10, "G.2X", 3)
    assert served.service.requests("GetJobRun") == []


def test_run_as_json_prints_the_run_id(served: Served) -> None:
    with_job(served)

    result = sluice(served, "-o", "json", "jobs", "run", "daily")

    (run_id,) = served.service.runs
    assert json.loads(result.stdout) == {"job_name": "daily", "job_run_id": run_id}


def test_run_beyond_max_concurrent_runs_is_exit_1(served: Served) -> None:
    with_job(served)
    sluice(served, "jobs", "run", "daily")

    result = sluice(served, "jobs", "run", "daily")

    assert_one_error_line(result, 1, "ConcurrentRunsExceededException")


def planned(served: Served, *states: int, error: str = "") -> None:
    with_job(served)
    served.service.plans["daily"] = list(states)
    served.service.errors["daily"] = error
    served.service.logs["daily"] = [
        (STDOUT, "rows: 42"),
        (DRIVER, "INFO SparkContext: Running Spark"),
        (STDERR, "a warning"),
        (STDOUT, "done\n"),
    ]


def test_run_wait_prints_the_run_then_its_output(served: Served) -> None:
    planned(served, STARTING, RUNNING, SUCCEEDED)

    result = sluice(served, "jobs", "run", "daily", "--wait")

    assert result.exit_code == 0, result.output
    details, heading, output = result.stdout.partition("\n--- output of daily jr_")
    fields = fields_of(details)
    assert fields["State"] == "SUCCEEDED"
    assert fields["Environment"] == "env-7"
    assert fields["Start"] == "warm"
    assert heading
    assert output.splitlines()[0].endswith(" (stdout; stderr on stderr) ---")
    assert output.splitlines()[1:] == ["rows: 42", "done"]
    assert result.stderr == "a warning\n"
    assert "Running Spark" not in result.output


def test_run_wait_of_a_failed_run_is_exit_4_with_its_error(served: Served) -> None:
    planned(
        served, RUNNING, FAILED, error="Traceback (most recent call last):\n  ZeroDivisionError"
    )

    result = sluice(served, "jobs", "run", "daily", "--wait")

    assert result.exit_code == 4
    assert result.stdout.splitlines()[-2:] == ["rows: 42", "done"]
    stderr = result.stderr.splitlines()
    assert stderr[0] == "a warning"
    assert stderr[1].startswith("error: job run jr_")
    assert stderr[1].endswith(
        "of daily ended FAILED: Traceback (most recent call last): ZeroDivisionError"
    )
    assert len(stderr) == 2


def test_run_wait_interrupted_leaves_the_run_going(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned(served, RUNNING)

    def interrupted(*args: object, **kwargs: object) -> types_pb2.JobRun:
        raise KeyboardInterrupt

    monkeypatch.setattr(runs_cli, "watch_run", interrupted)

    result = sluice(served, "jobs", "run", "daily", "--wait")

    assert_one_error_line(result, 130, "interrupted; run jr_0001 goes on")
    assert "sluice runs stop daily jr_0001" in result.stderr
    assert served.service.requests("BatchStopJobRun") == []


def test_runs_list_shows_the_last_line_of_an_error(served: Served) -> None:
    planned(served, FAILED, error="Traceback (most recent call last):\n  ValueError: bad\n")
    sluice(served, "jobs", "run", "daily", "--wait")

    result = sluice(served, "runs", "list", "daily")

    (row,) = result.stdout.splitlines()[2:]
    assert row.split()[2] == "FAILED"
    assert row.rstrip().endswith("  ValueError: bad")
    assert "Traceback" not in row


def test_run_wait_as_json_prints_only_the_finished_run(served: Served) -> None:
    planned(served, RUNNING, FAILED, error="boom")

    result = sluice(served, "-o", "json", "jobs", "run", "daily", "--wait")

    assert result.exit_code == 4
    run = json.loads(result.stdout)
    assert run["job_run_state"] == "JOB_RUN_STATE_FAILED"
    assert run["error_message"] == "boom"
    assert served.service.requests("GetJobRunLogs") == []
    assert result.stderr.endswith("ended FAILED: boom\n")


def test_runs_wait_follows_a_started_run_on_one_stream(served: Served) -> None:
    planned(served, STARTING, RUNNING, RUNNING, RUNNING, FAILED, error="boom")
    run_id = sluice(served, "jobs", "run", "daily").stdout.strip()

    result = sluice(served, "runs", "wait", "daily", run_id)

    assert result.exit_code == 4
    assert fields_of(result.stdout.partition("\n--- output of")[0])["State"] == "FAILED"
    assert len(served.service.requests("WatchJobRun")) == 1
    assert served.service.requests("GetJobRun") == []


def test_run_wait_gives_up_after_the_wait_timeout(served: Served) -> None:
    planned(served, RUNNING)

    result = sluice(served, "jobs", "run", "daily", "--wait", "--wait-timeout", "0.3")

    assert_one_error_line(result, 7, "JobRunWaitTimeout: job run jr_")
    assert "still RUNNING after 0.3 s" in result.stderr
    assert "sluice runs get daily jr_" in result.stderr


def test_run_wait_on_a_terminal_shows_the_run_live(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned(served, STARTING, RUNNING, RUNNING, SUCCEEDED)

    def terminal(cli: CliContext) -> Console:
        return Console(file=sys.stdout, force_terminal=True, width=120, color_system=None)

    monkeypatch.setattr(runs_cli, "terminal_console", terminal)

    result = sluice(served, "jobs", "run", "daily", "--wait")

    assert result.exit_code == 0, result.output
    assert "✓ daily jr_" in result.stdout
    assert "SUCCEEDED in " in result.stdout
    assert "on env-7 (warm)" in result.stdout
    assert result.stdout.rstrip().splitlines()[-2:] == ["rows: 42", "done"]
    assert "Id " not in result.stdout


# sluice runs


def started(served: Served, count: int = 1) -> list[str]:
    job = types_pb2.Job()
    job.CopyFrom(JOB)
    job.execution_property.max_concurrent_runs = 10
    with_job(served, job)
    return [sluice(served, "jobs", "run", "daily").stdout.strip() for _ in range(count)]


def test_runs_get(served: Served) -> None:
    (run_id,) = started(served)

    result = sluice(served, "runs", "get", "daily", run_id)
    as_json = sluice(served, "-o", "json", "runs", "get", "daily", run_id)

    assert result.exit_code == 0, result.output
    fields = fields_of(result.stdout)
    assert (fields["Id"], fields["Job"], fields["State"]) == (run_id, "daily", "STARTING")
    assert json.loads(as_json.stdout)["id"] == run_id


def test_runs_get_of_an_unknown_run_is_exit_1(served: Served) -> None:
    started(served)

    result = sluice(served, "runs", "get", "daily", "jr_9999")

    assert_one_error_line(result, 1, "EntityNotFoundException: Job run jr_9999 of job daily")


def test_runs_list_newest_first(served: Served) -> None:
    ids = started(served, 4)

    result = sluice(served, "runs", "list", "daily")
    as_json = sluice(served, "-o", "json", "runs", "list", "daily")

    assert result.exit_code == 0, result.output
    header, _, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["ID", "ATTEMPT", "STATE"]
    assert [row.split()[0] for row in rows] == ids[::-1]
    assert [run["id"] for run in json.loads(as_json.stdout)] == ids[::-1]


def test_runs_stop(served: Served) -> None:
    first, second = started(served, 2)

    result = sluice(served, "runs", "stop", "daily", first, second)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Stopping run {first} of daily.\nStopping run {second} of daily.\n"
    assert {served.service.runs[i].job_run_state for i in (first, second)} == {
        types_pb2.JOB_RUN_STATE_STOPPING
    }


def test_runs_stop_with_failures_shows_them_and_is_exit_1(served: Served) -> None:
    (run_id,) = started(served)

    result = sluice(served, "runs", "stop", "daily", run_id, "jr_9999")

    assert_one_error_line(result, 1, "1 of 2 runs were not stopped")
    assert "jr_9999" in result.stdout
    assert "EntityNotFoundException" in result.stdout


def test_runs_logs(served: Served) -> None:
    planned(served, RUNNING)
    (run_id,) = started(served)
    served.service.logs["daily"] = [(STDOUT, "a"), (DRIVER, "b\n"), (STDERR, "c")]

    every = sluice(served, "runs", "logs", "daily", run_id)
    errors = sluice(served, "runs", "logs", "daily", run_id, "--stream", "stderr")
    as_json = sluice(served, "-o", "json", "runs", "logs", "daily", run_id, "--stream", "driver")

    assert (every.exit_code, every.stdout) == (0, "a\nb\nc\n")
    assert errors.stdout == "c\n"
    assert served.service.requests("GetJobRunLogs")[1].stream == STDERR
    (entry,) = json.loads(as_json.stdout)
    assert (entry["stream"], entry["message"]) == ("LOG_STREAM_DRIVER", "b\n")


def test_runs_logs_follow_until_the_run_ends(served: Served) -> None:
    (run_id,) = started(served)
    served.service.tails[run_id] = [
        TailStep(entries=[(STDOUT, "one")], state=RUNNING),
        TailStep(entries=[(STDERR, "two"), (STDOUT, "three")], state=SUCCEEDED),
    ]

    result = sluice(served, "runs", "logs", "daily", run_id, "--follow")
    as_json = sluice(served, "-o", "json", "runs", "logs", "daily", run_id, "-f")

    assert (result.exit_code, result.stdout) == (0, "one\ntwo\nthree\n")
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(e["stream"], e["message"]) for e in lines] == [
        ("LOG_STREAM_STDOUT", "one"),
        ("LOG_STREAM_STDERR", "two"),
        ("LOG_STREAM_STDOUT", "three"),
    ]


def test_runs_logs_follow_prints_entries_as_they_come(served: Served) -> None:
    (run_id,) = started(served)
    gate = threading.Event()
    served.service.tails[run_id] = [
        TailStep(entries=[(STDOUT, "early")], state=RUNNING),
        TailStep(entries=[(STDOUT, "late")], state=SUCCEEDED, after=gate),
    ]
    seen_early = threading.Event()
    original = runs_cli._line

    def spy(entry: types_pb2.LogEntry) -> str:
        if entry.message == "early":
            seen_early.set()
            gate.set()
        else:
            assert seen_early.is_set()
        return original(entry)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs_cli, "_line", spy)
        result = sluice(served, "runs", "logs", "daily", run_id, "--follow")

    assert (result.exit_code, result.stdout) == (0, "early\nlate\n")


# sluice pool status, failures


def test_pool_status(served: Served) -> None:
    served.service.pool = types_pb2.PoolStatus(
        target_size=2,
        warm=1,
        starting=1,
        busy=0,
        ray_started=True,
        ray_address="127.0.0.1:6380",
        resource_limits="not enforced: an attached cluster",
    )

    result = sluice(served, "pool", "status")
    as_json = sluice(served, "-o", "json", "pool", "status")

    assert result.exit_code == 0, result.output
    fields = fields_of(result.stdout)
    assert (fields["Target size"], fields["Warm"], fields["Busy"]) == ("2", "1", "0")
    assert (fields["Ray started"], fields["Ray address"]) == ("yes", "127.0.0.1:6380")
    assert fields["Resource limits"] == "not enforced: an attached cluster"
    assert json.loads(as_json.stdout) == {
        "target_size": 2,
        "warm": 1,
        "starting": 1,
        "ray_started": True,
        "ray_address": "127.0.0.1:6380",
        "resource_limits": "not enforced: an attached cluster",
    }


def test_pool_status_lists_the_sandboxes(served: Served) -> None:
    served.service.pool = types_pb2.PoolStatus(
        target_size=2,
        warm=1,
        sandboxes=[
            types_pb2.SandboxStatus(
                sandbox_id="sb-0123abcd",
                account="111122223333",
                os_user="sluice-sb-0123abcd",
                state="up",
                busy=1,
            ),
            types_pb2.SandboxStatus(sandbox_id="sb-feed0001", state="up", warm=1),
        ],
    )

    result = sluice(served, "pool", "status")
    as_json = sluice(served, "-o", "json", "pool", "status")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    bound = next(line for line in lines if "sb-0123abcd" in line)
    spare = next(line for line in lines if "sb-feed0001" in line)
    assert "111122223333" in bound and "sluice-sb-0123abcd" in bound
    assert "(unbound)" in spare
    sandboxes = json.loads(as_json.stdout)["sandboxes"]
    assert [s["sandbox_id"] for s in sandboxes] == ["sb-0123abcd", "sb-feed0001"]


def test_a_server_error_on_any_call_is_one_line(served: Served) -> None:
    served.service.failures["GetPoolStatus"] = Abort(
        grpc.StatusCode.INTERNAL, "pool broke\nbadly", "InternalServiceException"
    )

    result = sluice(served, "pool", "status")

    assert result.exit_code == 1
    assert result.stderr == "error: InternalServiceException: pool broke badly\n"


def test_an_unreachable_server_is_exit_3() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    result = CliRunner().invoke(
        cli, ["--server", f"127.0.0.1:{port}", "--timeout", "2", "jobs", "run", "daily", "--wait"]
    )

    assert_one_error_line(result, 3, "cannot reach the Sluice server")


VISUAL_NODES = {
    "node-1": {
        "S3CsvSource": {
            "Name": "in",
            "Paths": ["s3://b/in/"],
            "Separator": "comma",
            "QuoteChar": "quote",
            "MaxBand": 5,
        }
    },
    "node-2": {
        "S3DirectTarget": {
            "Name": "out",
            "Inputs": ["node-1"],
            "Path": "s3://b/out/",
            "Format": "json",
        }
    },
}


def test_create_a_visual_job_from_a_glue_file_needs_no_script(
    served: Served, tmp_path: Path
) -> None:
    # As `aws glue get-job` prints one: the server generates the script from the nodes.
    path = tmp_path / "visual.json"
    document = {"Job": {"Name": "visual", "Role": "etl", "CreatedOn": 1700000000.0}}
    document["Job"]["CodeGenConfigurationNodes"] = VISUAL_NODES
    path.write_text(json.dumps(document))
    result = sluice(served, "jobs", "create", "-f", str(path))
    assert result.exit_code == 0, result.output
    job = served.service.jobs["visual"]
    assert set(job.code_gen_configuration_nodes) == {"node-1", "node-2"}
    assert job.code_gen_configuration_nodes["node-1"]["S3CsvSource"]["MaxBand"] == 5
    assert served.service.scripts == {}

    refused = sluice(served, "jobs", "create", "-f", str(path), "--script", str(path))
    assert refused.exit_code == 2
    assert "has a generated script" in refused.output


def test_update_a_visual_job_with_flags_keeps_its_nodes(served: Served) -> None:
    job = types_pb2.Job(name="visual", role="etl", command=types_pb2.JobCommand(name="glueetl"))
    for node_id, node in VISUAL_NODES.items():
        job.code_gen_configuration_nodes[node_id].update(node)
    with_job(served, job)
    result = sluice(served, "jobs", "update", "visual", "--arg", "day=1")
    assert result.exit_code == 0, result.output
    updated = served.service.jobs["visual"]
    assert updated.code_gen_configuration_nodes == job.code_gen_configuration_nodes
    assert updated.default_arguments == {"--day": "1"}
