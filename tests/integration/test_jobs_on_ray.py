"""Jobs end to end: a real server, an embedded Ray with a warm pool, RayDP Spark, over gRPC.

Every test shares the session's `ray_server` (Spark environments take tens of seconds to start
on two cores); each test uses its own jobs and roles so that tests never share a tuple. The
control-plane restart test kills that server and starts it again, so it comes last.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.catalog.core.model import DEFAULT_CATALOG_ID
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2
from tests.integration.conftest import (
    OPERATOR_TOKEN,
    ServerProcess,
    authed_channel,
    restart_server,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = Path(sys.executable).parent / "sluice"
State = types_pb2.JobRunState
TERMINAL = {
    State.JOB_RUN_STATE_SUCCEEDED,
    State.JOB_RUN_STATE_FAILED,
    State.JOB_RUN_STATE_STOPPED,
    State.JOB_RUN_STATE_TIMEOUT,
    State.JOB_RUN_STATE_ERROR,
}
# A cold environment may take a minute on a busy two-core machine.
RUN_TIMEOUT_S = 240.0

# Reports what the run can see of its environment; the secret comes in as a Glue argument.
INFO_SCRIPT = """
import json, os, sys
import ray
from sluice.sdk.args import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_NAME", "JOB_RUN_ID", "secret"])
print("first line", flush=True)
total = spark.range(1000).selectExpr("sum(id) AS s").collect()[0]["s"]
group = ray.util.get_current_placement_group()
print("INFO " + json.dumps({
    "pid": os.getpid(),
    "cwd": os.getcwd(),
    "namespace": ray.get_runtime_context().namespace,
    "placement_group": group.id.hex() if group else None,
    "app_id": spark.sparkContext.applicationId,
    "job_name": args["JOB_NAME"],
    "run_id": args["JOB_RUN_ID"],
    "secret": args["secret"],
    "argv": sys.argv,
    "environ": dict(os.environ),
    "sum": total,
}), flush=True)
"""

RAISING_SCRIPT = """
print("about to fail", flush=True)
def transform(rows):
    raise ValueError("bad row 42")
transform(spark.range(3).collect())
"""

SLEEPING_SCRIPT = """
import os, time
print(f"PID {os.getpid()}", flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def jobs(ray_server: ServerProcess) -> Iterator[jobs_pb2_grpc.JobServiceStub]:
    with authed_channel(ray_server.address) as channel:
        yield jobs_pb2_grpc.JobServiceStub(channel)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_job(
    jobs: jobs_pb2_grpc.JobServiceStub, script: str, *, role: str | None = None, **fields: object
) -> str:
    name = unique("job")
    location = jobs.UploadScript(
        jobs_pb2.UploadScriptRequest(name=f"{name}.py", content=script.encode())
    ).script_location
    jobs.CreateJob(
        jobs_pb2.CreateJobRequest(
            name=name,
            role=role or unique("role"),
            command=types_pb2.JobCommand(name="glueetl", script_location=location),
            **fields,  # type: ignore[arg-type]
        )
    )
    return name


def start(jobs: jobs_pb2_grpc.JobServiceStub, job: str, **arguments: str) -> str:
    request = jobs_pb2.StartJobRunRequest(
        job_name=job, arguments={f"--{k}": v for k, v in arguments.items()}
    )
    return jobs.StartJobRun(request).job_run_id


def get_run(jobs: jobs_pb2_grpc.JobServiceStub, job: str, run_id: str) -> types_pb2.JobRun:
    return jobs.GetJobRun(jobs_pb2.GetJobRunRequest(job_name=job, run_id=run_id)).job_run


def wait_run(
    jobs: jobs_pb2_grpc.JobServiceStub,
    job: str,
    run_id: str,
    states: set[int] = TERMINAL,
    timeout_s: float = RUN_TIMEOUT_S,
) -> types_pb2.JobRun:
    return wait_until(
        lambda: (run := get_run(jobs, job, run_id)).job_run_state in states and run,
        timeout_s,
        f"run {run_id} of {job} to reach {sorted(State.Name(s) for s in states)}",
    )


def logs(jobs: jobs_pb2_grpc.JobServiceStub, job: str, run_id: str) -> list[str]:
    reply = jobs.GetJobRunLogs(
        jobs_pb2.GetJobRunLogsRequest(job_name=job, run_id=run_id, max_results=1000)
    )
    return [entry.message for entry in reply.entries]


def info_of(jobs: jobs_pb2_grpc.JobServiceStub, job: str, run_id: str) -> dict:
    lines = [line for line in logs(jobs, job, run_id) if line.startswith("INFO ")]
    assert lines, f"no INFO line in the logs of {run_id}: {logs(jobs, job, run_id)}"
    return json.loads(lines[-1].removeprefix("INFO "))


def pool(jobs: jobs_pb2_grpc.JobServiceStub) -> types_pb2.PoolStatus:
    return jobs.GetPoolStatus(jobs_pb2.GetPoolStatusRequest()).pool_status


def warm_for(status: types_pb2.PoolStatus, account: str = DEFAULT_CATALOG_ID) -> bool:
    """Whether the account's next run starts warm: a warm environment in its own sandbox, or,
    before it has one, in a spare it would be bound to (the pool's total counts other accounts'
    sandboxes too, which an earlier module on the session's server leaves behind)."""
    if not status.sandboxes:
        return status.warm >= 1
    own = [s for s in status.sandboxes if s.account == account]
    candidates = own or [s for s in status.sandboxes if not s.account]
    return any(s.warm >= 1 for s in candidates)


def wait_warm(jobs: jobs_pb2_grpc.JobServiceStub) -> None:
    wait_until(lambda: warm_for(pool(jobs)), RUN_TIMEOUT_S, "a warm environment for the account")


def test_a_warm_run_executes_spark_and_keeps_its_logs(
    jobs: jobs_pb2_grpc.JobServiceStub,
) -> None:
    wait_warm(jobs)
    job = create_job(jobs, INFO_SCRIPT, default_arguments={"--secret": "default"})
    run_id = start(jobs, job, secret="s3cr3t-warm")

    run = wait_run(jobs, job, run_id)

    assert State.Name(run.job_run_state) == "JOB_RUN_STATE_SUCCEEDED", run.error_message
    assert run.warm_start
    assert run.environment_id
    assert run.HasField("completed_on")
    info = info_of(jobs, job, run_id)
    assert info["sum"] == 499500
    assert (info["job_name"], info["run_id"], info["secret"]) == (job, run_id, "s3cr3t-warm")
    assert logs(jobs, job, run_id)[0] == "first line"
    assert info["environ"]["SLUICE_JOB_RUN_ID"] == run_id
    assert info["environ"]["SLUICE_ADDRESS"]


def test_two_tuples_never_share_an_environment(jobs: jobs_pb2_grpc.JobServiceStub) -> None:
    wait_warm(jobs)
    # Three workers is not the pooled shape: this tuple's environment starts cold.
    job_a = create_job(jobs, INFO_SCRIPT)
    job_b = create_job(jobs, INFO_SCRIPT, number_of_workers=3)
    run_a = start(jobs, job_a, secret="only-for-a")
    run_b = start(jobs, job_b, secret="only-for-b")

    done_a = wait_run(jobs, job_a, run_a)
    done_b = wait_run(jobs, job_b, run_b)

    for done in (done_a, done_b):
        assert State.Name(done.job_run_state) == "JOB_RUN_STATE_SUCCEEDED", done.error_message
    assert done_a.warm_start and not done_b.warm_start
    assert done_a.environment_id != done_b.environment_id
    a, b = info_of(jobs, job_a, run_a), info_of(jobs, job_b, run_b)
    for key in ("pid", "cwd", "namespace", "placement_group", "app_id"):
        assert a[key] != b[key], key
    assert a["placement_group"] and b["placement_group"]
    assert "only-for-a" not in json.dumps([b["argv"], b["environ"]])
    assert "only-for-b" not in json.dumps([a["argv"], a["environ"]])


def test_the_same_tuple_reuses_its_environment(jobs: jobs_pb2_grpc.JobServiceStub) -> None:
    wait_warm(jobs)
    role = unique("role")
    job = create_job(jobs, INFO_SCRIPT, role=role, default_arguments={"--secret": "x"})
    first = wait_run(jobs, job, start(jobs, job))
    second = wait_run(jobs, job, start(jobs, job))

    assert first.job_run_state == second.job_run_state == State.JOB_RUN_STATE_SUCCEEDED
    assert first.environment_id == second.environment_id
    assert second.warm_start


def test_a_failing_script_fails_with_its_traceback_and_is_retried(
    jobs: jobs_pb2_grpc.JobServiceStub,
) -> None:
    job = create_job(jobs, RAISING_SCRIPT, max_retries=1)
    first_id = start(jobs, job)
    first = wait_run(jobs, job, first_id)

    assert State.Name(first.job_run_state) == "JOB_RUN_STATE_FAILED"
    assert "ValueError: bad row 42" in first.error_message
    assert "Traceback" in first.error_message
    assert "about to fail" in logs(jobs, job, first_id)
    assert any("bad row 42" in line for line in logs(jobs, job, first_id))

    runs = wait_until(
        lambda: (
            (found := jobs.GetJobRuns(jobs_pb2.GetJobRunsRequest(job_name=job)).job_runs)
            and len(found) == 2
            and found
        ),
        RUN_TIMEOUT_S,
        "the retry",
    )
    retry = next(run for run in runs if run.id != first_id)
    assert (retry.attempt, retry.previous_run_id) == (1, first_id)
    retried = wait_run(jobs, job, retry.id)
    assert State.Name(retried.job_run_state) == "JOB_RUN_STATE_FAILED"
    assert retried.environment_id != first.environment_id  # a failed run's environment is gone


def test_a_syntax_error_fails_the_run(jobs: jobs_pb2_grpc.JobServiceStub) -> None:
    job = create_job(jobs, "def broken(:\n    pass\n")
    run = wait_run(jobs, job, start(jobs, job))
    assert State.Name(run.job_run_state) == "JOB_RUN_STATE_FAILED"
    assert "SyntaxError" in run.error_message


def test_stop_and_max_concurrent_runs(jobs: jobs_pb2_grpc.JobServiceStub) -> None:
    job = create_job(jobs, SLEEPING_SCRIPT, execution_property={"max_concurrent_runs": 1})
    with ThreadPoolExecutor(4) as threads:
        outcomes = list(threads.map(lambda _: _try_start(jobs, job), range(4)))
    started = [outcome for outcome in outcomes if not isinstance(outcome, grpc.StatusCode)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, grpc.StatusCode)]
    assert len(started) == 1
    assert refused == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 3
    (run_id,) = started
    wait_run(jobs, job, run_id, {State.JOB_RUN_STATE_RUNNING})
    wait_until(lambda: any(line.startswith("PID ") for line in logs(jobs, job, run_id)), 30, "PID")

    reply = jobs.BatchStopJobRun(
        jobs_pb2.BatchStopJobRunRequest(job_name=job, job_run_ids=[run_id])
    )

    assert [s.job_run_id for s in reply.successful_submissions] == [run_id]
    stopped = wait_run(jobs, job, run_id, timeout_s=60)
    assert State.Name(stopped.job_run_state) == "JOB_RUN_STATE_STOPPED"
    # The slot is free again.
    again = start(jobs, job)
    jobs.BatchStopJobRun(jobs_pb2.BatchStopJobRunRequest(job_name=job, job_run_ids=[again]))
    wait_run(jobs, job, again, timeout_s=RUN_TIMEOUT_S)


def _try_start(jobs: jobs_pb2_grpc.JobServiceStub, job: str) -> str | grpc.StatusCode:
    try:
        return start(jobs, job)
    except grpc.RpcError as exc:
        return exc.code()


def test_a_killed_host_fails_the_run_within_seconds(jobs: jobs_pb2_grpc.JobServiceStub) -> None:
    job = create_job(jobs, SLEEPING_SCRIPT)
    run_id = start(jobs, job)
    line = wait_until(
        lambda: next((x for x in logs(jobs, job, run_id) if x.startswith("PID ")), None),
        RUN_TIMEOUT_S,
        "the script's PID",
    )
    os.kill(int(line.split()[1]), signal.SIGKILL)
    killed_at = time.monotonic()

    run = wait_run(jobs, job, run_id, timeout_s=30)

    assert time.monotonic() - killed_at < 15
    assert State.Name(run.job_run_state) == "JOB_RUN_STATE_FAILED"
    assert "died" in run.error_message


def test_timeout_ends_the_run_in_timeout(jobs: jobs_pb2_grpc.JobServiceStub) -> None:
    job = create_job(jobs, SLEEPING_SCRIPT, timeout=1)
    run_id = start(jobs, job)
    run = wait_run(jobs, job, run_id, timeout_s=60 + RUN_TIMEOUT_S)
    assert State.Name(run.job_run_state) == "JOB_RUN_STATE_TIMEOUT"
    assert "timed out" in run.error_message


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (jobs_pb2.StartJobRunRequest(job_name="no-such-job"), grpc.StatusCode.NOT_FOUND),
        (jobs_pb2.StartJobRunRequest(job_name=""), grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_bad_start_requests_are_refused(
    jobs: jobs_pb2_grpc.JobServiceStub, request_: jobs_pb2.StartJobRunRequest, code: object
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        jobs.StartJobRun(request_)
    assert caught.value.code() == code


def test_a_missing_uploaded_script_fails_the_run(jobs: jobs_pb2_grpc.JobServiceStub) -> None:
    name = unique("job")
    jobs.CreateJob(
        jobs_pb2.CreateJobRequest(
            name=name,
            role=unique("role"),
            command=types_pb2.JobCommand(
                name="glueetl", script_location="sluice://scripts/never-uploaded.py"
            ),
        )
    )
    run = wait_run(jobs, name, start(jobs, name), timeout_s=30)
    assert State.Name(run.job_run_state) == "JOB_RUN_STATE_FAILED"
    assert "never-uploaded.py" in run.error_message


CREDENTIALS_SCRIPT = """
import os, sys
from sluice.sdk.args import getResolvedOptions
from sluice.sdk import connect
from sluice.sdk.errors import AccessDenied

args = getResolvedOptions(sys.argv, ["database"])
print("TOKEN " + os.environ["SLUICE_TOKEN"], flush=True)
with connect() as client:
    client.catalog.create_database({"name": args["database"]})
    try:
        client.jobs.pool_status()
        print("POOL ALLOWED", flush=True)
    except AccessDenied:
        print("POOL DENIED", flush=True)
"""


def test_a_run_acts_with_credentials_scoped_to_it(
    jobs: jobs_pb2_grpc.JobServiceStub, ray_server: ServerProcess
) -> None:
    role = unique("etl-role")
    database = unique("made_by_run").replace("-", "_")
    with authed_channel(ray_server.address) as operator:
        iam_pb2_grpc.IamServiceStub(operator).PutPolicy(
            iam_pb2.PutPolicyRequest(
                name=unique("run-policy"),
                roles=[role],
                statements=[
                    {
                        "effect": "EFFECT_ALLOW",
                        "actions": ["glue:CreateDatabase"],
                        "resources": ["database/*"],
                    }
                ],
            )
        )
    job = create_job(jobs, CREDENTIALS_SCRIPT, role=role)
    run_id = start(jobs, job, database=database)

    run = wait_run(jobs, job, run_id)

    assert State.Name(run.job_run_state) == "JOB_RUN_STATE_SUCCEEDED", run.error_message
    lines = logs(jobs, job, run_id)
    assert "POOL DENIED" in lines  # the role's policy allows CreateDatabase only
    token = next(line for line in lines if line.startswith("TOKEN ")).split()[1]
    with authed_channel(ray_server.address) as operator:
        catalog = catalog_pb2_grpc.CatalogServiceStub(operator)
        assert catalog.GetDatabase(catalog_pb2.GetDatabaseRequest(name=database)).database.name
        events = (
            audit_pb2_grpc.AuditServiceStub(operator)
            .QueryAuditEvents(
                audit_pb2.QueryAuditEventsRequest(action="glue:CreateDatabase", max_results=1000)
            )
            .events
        )
        made = [e for e in events if e.resource.endswith(f"database/{database}")]
        assert made and made[0].principal_name == f"run/{run_id}"
        # The run's own call is in the trace of the StartJobRun that started it, under the
        # run's launch span (the SDK sends the environment's TRACEPARENT).
        audit = audit_pb2_grpc.AuditServiceStub(operator)
        found = wait_until(
            lambda: (
                (
                    e := audit.QueryAuditEvents(
                        audit_pb2.QueryAuditEventsRequest(resource=f"*{job}*", max_results=1000)
                    ).events
                )
                and "job_run.launch" in {x.name for x in e}
                and e
            ),
            30,
            "the run's launch span in the audit trail",
        )
        (call,) = [e for e in found if e.action == "glue:StartJobRun"]
        (launch,) = [e for e in found if e.name == "job_run.launch"]
        assert (made[0].trace_id, made[0].parent_span_id) == (call.trace_id, launch.span_id)
    # The run is over: its credentials no longer work.
    with (
        authed_channel(ray_server.address, token) as ended,
        pytest.raises(grpc.RpcError) as caught,
    ):
        catalog_pb2_grpc.CatalogServiceStub(ended).GetDatabases(catalog_pb2.GetDatabasesRequest())
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_one_trace_goes_from_the_call_down_to_the_run(
    jobs: jobs_pb2_grpc.JobServiceStub, ray_server: ServerProcess
) -> None:
    wait_warm(jobs)
    job = create_job(jobs, INFO_SCRIPT, default_arguments={"--secret": "x"})
    run_id = start(jobs, job)
    assert State.Name(wait_run(jobs, job, run_id).job_run_state) == "JOB_RUN_STATE_SUCCEEDED"
    with authed_channel(ray_server.address) as operator:
        audit = audit_pb2_grpc.AuditServiceStub(operator)

        def events() -> list:
            found = audit.QueryAuditEvents(
                audit_pb2.QueryAuditEventsRequest(resource=f"*{job}*", max_results=1000)
            ).events
            return list(found)

        found = wait_until(
            lambda: (
                (e := events()) and {"job_run.launch", "job_run.end"} <= {x.name for x in e} and e
            ),
            30,
            "the run's spans in the audit trail",
        )
    (call,) = [e for e in found if e.action == "glue:StartJobRun"]
    children = [e for e in found if e.name.startswith("job_run.")]
    assert {e.name for e in children} >= {"job_run.launch", "job_run.execute", "job_run.end"}
    assert {e.trace_id for e in children} == {call.trace_id}
    assert {e.parent_span_id for e in children} == {call.span_id}
    # The script ran inside the same trace: its environment had the launch span as parent.
    info = info_of(jobs, job, run_id)
    assert info["environ"]["TRACEPARENT"].split("-")[1] == call.trace_id


def test_cli_runs_a_job_and_waits(
    jobs: jobs_pb2_grpc.JobServiceStub, ray_server: ServerProcess
) -> None:
    wait_warm(jobs)
    job = create_job(jobs, "print('hello from the cli run', flush=True)\n")
    result = subprocess.run(
        [str(CLI), "--server", ray_server.address, "jobs", "run", job, "--wait"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env={**os.environ, "SLUICE_TOKEN": OPERATOR_TOKEN},
    )
    assert result.returncode == 0, result.stderr
    assert "SUCCEEDED" in result.stdout
    assert "hello from the cli run" in result.stdout


def test_a_run_survives_a_control_plane_sigkill(
    jobs: jobs_pb2_grpc.JobServiceStub, ray_server: ServerProcess
) -> None:
    script = """
import time
print("before", flush=True)
time.sleep(20)
print("after", flush=True)
"""
    job = create_job(jobs, script)
    run_id = start(jobs, job)
    wait_until(lambda: "before" in logs(jobs, job, run_id), RUN_TIMEOUT_S, "the first line")
    environment = get_run(jobs, job, run_id).environment_id

    restart_server(ray_server, kill=True)

    run = wait_run(jobs, job, run_id, timeout_s=RUN_TIMEOUT_S)
    assert State.Name(run.job_run_state) == "JOB_RUN_STATE_SUCCEEDED", run.error_message
    assert run.environment_id == environment
    assert logs(jobs, job, run_id) == ["before", "after"]
