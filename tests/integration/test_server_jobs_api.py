"""JobService through a real gRPC server on a loopback port: the servicer over a SQL job store and
catalog store on SQLite, the error interceptor, and the real scheduler and reconciler driving an
executor double (the test decides when runs finish and what they log)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice.catalog.core.schema import upgrade_schema as upgrade_catalog_schema
from sluice.catalog.core.store.sql import SqlCatalogStore
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from sluice.catalog.v1 import types_pb2 as catalog_pb
from sluice.common.db import Database, sqlite_url
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.interceptors import ErrorInterceptor
from sluice.control_plane.jobs.executor import CapacityUnavailable, PoolSnapshot
from sluice.control_plane.jobs.log_arrivals import LogArrivals
from sluice.control_plane.jobs.model import IsolationTuple, LogLine, LogStream, RunState
from sluice.control_plane.jobs.reconciler import Reconciler, ReconcilerConfig
from sluice.control_plane.jobs.scheduler import Scheduler, SchedulerConfig
from sluice.control_plane.jobs.schema import upgrade_schema as upgrade_jobs_schema
from sluice.control_plane.jobs.scripts import ScriptSources
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.security.roles import AnyRolePasses
from sluice.control_plane.servicers.catalog import CatalogServicer
from sluice.control_plane.servicers.jobs import JobServicer
from sluice.jobs.v1 import jobs_pb2 as api
from sluice.jobs.v1 import jobs_pb2_grpc
from sluice.jobs.v1 import types_pb2 as pb
from tests.unit.test_jobs_support import FakeClock, FakeExecutor, eventually

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
ROLE = "arn:sluice:role/etl"
SCRIPT = b"print('hello')\n"
SCRIPT_LOCATION = "sluice://scripts/etl.py"
CALL_TIMEOUT_S = 20.0
TRACEBACK_MARKERS = ("Traceback", 'File "')
UNKNOWN_RUN_ID = "jr_" + "0" * 64
BROKEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE}
# No authentication here (see test_job_security.py for PassRole); jobs may name files in /opt.
SCRIPT_SOURCES = ScriptSources(roots=(Path("/opt"),))
JobStub = jobs_pb2_grpc.JobServiceStub


@dataclass
class Harness:
    jobs: JobStub
    catalog: catalog_pb2_grpc.CatalogServiceStub
    store: SqlJobStore
    catalog_store: SqlCatalogStore
    executor: FakeExecutor
    scheduler: Scheduler
    pool: list[PoolSnapshot] = field(default_factory=list)
    # One entry per on_run_started call the servicer made.
    wakes: list[None] = field(default_factory=list)


POOL = PoolSnapshot(
    target_size=2, warm=1, starting=1, bound_idle=0, busy=0, ray_started=False, ray_address=""
)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    db = Database(sqlite_url(tmp_path))
    upgrade_catalog_schema(db)
    upgrade_jobs_schema(db)
    codec = PageTokenCodec(b"jobs-api-integration-test-key")
    store = SqlJobStore(db, codec)
    catalog_store = SqlCatalogStore(db, codec)
    executor = FakeExecutor(FakeClock())
    scheduler = Scheduler(store, executor, config=SchedulerConfig(poll_interval_s=0.02))
    reconciler = Reconciler(
        store, executor, config=ReconcilerConfig(interval_s=0.5), on_change=scheduler.wake
    )
    pool = [POOL]
    wakes: list[None] = []

    def on_run_started() -> None:
        wakes.append(None)
        scheduler.wake()

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="jobs-api-test"),
        interceptors=[ErrorInterceptor()],
    )
    jobs_pb2_grpc.add_JobServiceServicer_to_server(
        JobServicer(
            store,
            catalog_store,
            account=ACCOUNT,
            on_run_started=on_run_started,
            pool_status=lambda: pool[-1],
            tail_poll_interval_s=0.02,
            roles=AnyRolePasses(),
            scripts=SCRIPT_SOURCES,
        ),
        server,
    )
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(
        CatalogServicer(catalog_store, ACCOUNT), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    scheduler.start()
    reconciler.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Harness(
            jobs=JobStub(channel),
            catalog=catalog_pb2_grpc.CatalogServiceStub(channel),
            store=store,
            catalog_store=catalog_store,
            executor=executor,
            scheduler=scheduler,
            pool=pool,
            wakes=wakes,
        )
    finally:
        channel.close()
        server.stop(0).wait()
        reconciler.stop()
        scheduler.stop()
        db.dispose()


@pytest.fixture
def jobs(harness: Harness) -> JobStub:
    """The stub, with etl.py uploaded and a job `etl` running it."""
    harness.jobs.UploadScript(api.UploadScriptRequest(name="etl.py", content=SCRIPT))
    create_job(harness.jobs)
    return harness.jobs


# Helpers


def create_job(jobs: JobStub, name: str = "etl", **fields: Any) -> None:
    fields.setdefault("command", pb.JobCommand(name="glueetl", script_location=SCRIPT_LOCATION))
    jobs.CreateJob(api.CreateJobRequest(name=name, role=ROLE, **fields), timeout=CALL_TIMEOUT_S)


def start_run(jobs: JobStub, job: str = "etl", **fields: Any) -> str:
    request = api.StartJobRunRequest(job_name=job, **fields)
    return jobs.StartJobRun(request, timeout=CALL_TIMEOUT_S).job_run_id


def get_run(jobs: JobStub, run_id: str, job: str = "etl") -> pb.JobRun:
    request = api.GetJobRunRequest(job_name=job, run_id=run_id)
    return jobs.GetJobRun(request, timeout=CALL_TIMEOUT_S).job_run


def wait_state(
    jobs: JobStub, run_id: str, state: pb.JobRunState.ValueType, job: str = "etl"
) -> pb.JobRun:
    name = pb.JobRunState.Name(state)
    eventually(lambda: get_run(jobs, run_id, job).job_run_state == state, f"run to be {name}")
    return get_run(jobs, run_id, job)


def failure(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"no rich status in {error}"
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info.reason


def assert_clean(error: grpc.RpcError) -> None:
    details = error.details() or ""  # type: ignore[attr-defined]
    assert details, "an error must say what went wrong"
    assert not any(marker in details for marker in TRACEBACK_MARKERS), details


def all_pages(list_call: Callable[[str], tuple[list[Any], str]]) -> list[list[Any]]:
    pages: list[list[Any]] = []
    token = ""
    for _ in range(100):
        items, token = list_call(token)
        pages.append(items)
        if not token:
            return pages
    raise AssertionError("paging did not end")


# Jobs


def test_job_crud_keeps_glue_fields(harness: Harness) -> None:
    jobs = harness.jobs
    create_job(
        jobs,
        description="nightly sales",
        command=pb.JobCommand(name="pythonshell", script_location="file:///opt/etl.py"),
        default_arguments={"--day": "1"},
        non_overridable_arguments={"--env": "prod"},
        max_retries=2,
        timeout=30,
        execution_property=pb.ExecutionProperty(max_concurrent_runs=3),
        worker_type="G.2X",
        number_of_workers=4,
        connections=pb.ConnectionsList(connections=["vpc"]),
        tags={"team": "data"},
    )

    job = jobs.GetJob(api.GetJobRequest(job_name="etl")).job
    assert (job.name, job.description, job.role) == ("etl", "nightly sales", ROLE)
    assert job.command == pb.JobCommand(
        name="pythonshell", script_location="file:///opt/etl.py", python_version="3"
    )
    assert dict(job.default_arguments) == {"--day": "1"}
    assert dict(job.non_overridable_arguments) == {"--env": "prod"}
    assert (job.max_retries, job.timeout, job.execution_property.max_concurrent_runs) == (2, 30, 3)
    assert (job.worker_type, job.number_of_workers) == ("G.2X", 4)
    assert list(job.connections.connections) == ["vpc"]
    assert dict(job.tags) == {"team": "data"}
    assert job.HasField("created_on") and job.HasField("last_modified_on")

    duplicate = failure(lambda: create_job(jobs))
    assert duplicate.code() is grpc.StatusCode.ALREADY_EXISTS
    assert reason(duplicate) == "AlreadyExistsException"

    renamed = jobs.UpdateJob(
        api.UpdateJobRequest(
            job_name="etl",
            job_update=pb.JobUpdate(
                role="arn:sluice:role/other",
                command=pb.JobCommand(name="glueetl", script_location=SCRIPT_LOCATION),
            ),
        )
    )
    assert renamed.job_name == "etl"
    updated = jobs.GetJob(api.GetJobRequest(job_name="etl")).job
    # The definition is replaced, Glue's defaults included; tags are not part of it.
    assert updated.role == "arn:sluice:role/other"
    assert updated.command.name == "glueetl"
    assert not updated.default_arguments and not updated.HasField("connections")
    assert (updated.timeout, updated.worker_type, updated.number_of_workers) == (2880, "G.1X", 2)
    assert updated.execution_property.max_concurrent_runs == 1
    assert dict(updated.tags) == {"team": "data"}
    assert updated.created_on == job.created_on
    assert updated.last_modified_on.ToDatetime() >= job.last_modified_on.ToDatetime()

    assert jobs.DeleteJob(api.DeleteJobRequest(job_name="etl")).job_name == "etl"
    gone = failure(lambda: jobs.GetJob(api.GetJobRequest(job_name="etl")))
    assert gone.code() is grpc.StatusCode.NOT_FOUND
    # As in Glue, deleting a job that is not there succeeds.
    assert jobs.DeleteJob(api.DeleteJobRequest(job_name="etl")).job_name == "etl"


def test_list_jobs_and_get_jobs_page(harness: Harness) -> None:
    jobs = harness.jobs
    names = [f"job-{i}" for i in range(7)]
    for index, name in enumerate(names):
        create_job(jobs, name, tags={"team": "a" if index % 2 else "b"})

    list_pages = all_pages(
        lambda token: _list(jobs.ListJobs(api.ListJobsRequest(max_results=3, next_token=token)))
    )
    assert [len(page) for page in list_pages] == [3, 3, 1]
    assert [name for page in list_pages for name in page] == names

    get_pages = all_pages(
        lambda token: _jobs(jobs.GetJobs(api.GetJobsRequest(max_results=2, next_token=token)))
    )
    assert [len(page) for page in get_pages] == [2, 2, 2, 1]
    assert [job.name for page in get_pages for job in page] == names
    assert all(job.role == ROLE for page in get_pages for job in page)

    tagged = jobs.ListJobs(api.ListJobsRequest(tags={"team": "a"}))
    assert list(tagged.job_names) == names[1::2]
    assert not tagged.next_token


def _list(response: api.ListJobsResponse) -> tuple[list[str], str]:
    return list(response.job_names), response.next_token


def _jobs(response: api.GetJobsResponse) -> tuple[list[pb.Job], str]:
    return list(response.jobs), response.next_token


def test_get_job_runs_pages_newest_first(harness: Harness, jobs: JobStub) -> None:
    create_job(jobs, "many", execution_property=pb.ExecutionProperty(max_concurrent_runs=10))
    started = [start_run(jobs, "many") for _ in range(5)]

    pages = all_pages(
        lambda token: _runs(
            jobs.GetJobRuns(api.GetJobRunsRequest(job_name="many", max_results=2, next_token=token))
        )
    )
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [run.id for page in pages for run in page] == started[::-1]
    assert all(run.job_name == "many" for page in pages for run in page)


def _runs(response: api.GetJobRunsResponse) -> tuple[list[pb.JobRun], str]:
    return list(response.job_runs), response.next_token


# Runs


def test_a_run_succeeds_with_its_logs(harness: Harness, jobs: JobStub) -> None:
    executor = harness.executor
    upload = jobs.UploadScript(api.UploadScriptRequest(name="etl.py", content=SCRIPT))
    assert upload.script_location == SCRIPT_LOCATION

    run_id = start_run(jobs)
    running = wait_state(jobs, run_id, pb.JOB_RUN_STATE_RUNNING)
    assert (running.environment_id, running.warm_start) == ("env-1", True)
    assert not running.HasField("completed_on")
    [launched] = executor.launched
    assert launched.script_text == SCRIPT.decode()

    tail = jobs.TailJobRunLogs(
        api.TailJobRunLogsRequest(job_name="etl", run_id=run_id), timeout=CALL_TIMEOUT_S
    )
    responses = [next(tail)]
    assert responses[0].job_run_state == pb.JOB_RUN_STATE_RUNNING
    # Lines written while the tail is open arrive on it while the run is still running.
    executor.emit(run_id, "one", "two", "three")
    while _messages(responses) != ["one", "two", "three"]:
        responses.append(next(tail))
    assert responses[-1].job_run_state == pb.JOB_RUN_STATE_RUNNING

    executor.emit(run_id, "careful", stream=LogStream.STDERR)
    executor.emit(run_id, "four")
    executor.finish(run_id, ok=True, seconds=42)
    responses.extend(tail)  # ends by itself once the run has ended

    assert _messages(responses) == ["one", "two", "three", "careful", "four"]
    assert responses[-1].job_run_state == pb.JOB_RUN_STATE_SUCCEEDED
    run = get_run(jobs, run_id)
    assert run.job_run_state == pb.JOB_RUN_STATE_SUCCEEDED
    assert (run.execution_time, run.environment_id, run.warm_start) == (42, "env-1", True)
    assert run.HasField("completed_on")
    assert run.completed_on.ToDatetime() >= run.started_on.ToDatetime()
    assert (run.attempt, run.timeout, run.worker_type, run.number_of_workers) == (
        0,
        2880,
        "G.1X",
        2,
    )

    logs = jobs.GetJobRunLogs(api.GetJobRunLogsRequest(job_name="etl", run_id=run_id)).entries
    assert [e.message for e in logs] == ["one", "two", "three", "careful", "four"]
    assert [e.stream for e in logs].count(pb.LOG_STREAM_STDERR) == 1
    assert all(e.HasField("timestamp") for e in logs)
    paged = jobs.GetJobRunLogs(
        api.GetJobRunLogsRequest(job_name="etl", run_id=run_id, max_results=4)
    )
    assert len(paged.entries) == 4 and paged.next_token
    rest = jobs.GetJobRunLogs(
        api.GetJobRunLogsRequest(job_name="etl", run_id=run_id, next_token=paged.next_token)
    )
    assert [e.message for e in rest.entries] == ["four"] and not rest.next_token

    stderr = api.TailJobRunLogsRequest(job_name="etl", run_id=run_id, stream=pb.LOG_STREAM_STDERR)
    finished_tail = list(jobs.TailJobRunLogs(stderr, timeout=CALL_TIMEOUT_S))
    assert _messages(finished_tail) == ["careful"]
    assert finished_tail[-1].job_run_state == pb.JOB_RUN_STATE_SUCCEEDED


def _messages(responses: list[api.TailJobRunLogsResponse]) -> list[str]:
    return [entry.message for response in responses for entry in response.entries]


def test_a_failed_run_says_why_and_can_be_retried(harness: Harness, jobs: JobStub) -> None:
    first = start_run(jobs)
    wait_state(jobs, first, pb.JOB_RUN_STATE_RUNNING)
    harness.executor.finish(first, ok=False, error="ZeroDivisionError: division by zero")
    failed = wait_state(jobs, first, pb.JOB_RUN_STATE_FAILED)
    assert failed.error_message == "ZeroDivisionError: division by zero"

    retry = start_run(jobs, job_run_id=first)
    run = get_run(jobs, retry)
    assert (run.attempt, run.previous_run_id) == (1, first)


def test_run_arguments_merge_over_the_jobs(harness: Harness, jobs: JobStub) -> None:
    create_job(
        jobs,
        "args",
        default_arguments={"--a": "1", "--b": "2"},
        non_overridable_arguments={"--c": "3"},
    )
    run_id = start_run(jobs, "args", arguments={"--b": "run", "--c": "run", "--d": "4"})

    expected = {"--a": "1", "--b": "run", "--c": "3", "--d": "4"}
    assert dict(get_run(jobs, run_id, "args").arguments) == expected
    wait_state(jobs, run_id, pb.JOB_RUN_STATE_RUNNING, "args")
    assert harness.executor.launched[-1].arguments == expected


def test_the_first_connection_gives_the_runs_subnet_and_security_group(
    harness: Harness, jobs: JobStub
) -> None:
    for name, requirements in (
        (
            "vpc-net",
            catalog_pb.PhysicalConnectionRequirements(
                subnet_id="subnet-0abc", security_group_id_list=["sg-1", "sg-2"]
            ),
        ),
        (
            "other",
            catalog_pb.PhysicalConnectionRequirements(
                subnet_id="subnet-other", security_group_id_list=["sg-other"]
            ),
        ),
    ):
        harness.catalog.CreateConnection(
            catalog_pb2.CreateConnectionRequest(
                connection_input=catalog_pb.ConnectionInput(
                    name=name,
                    connection_type="NETWORK",
                    physical_connection_requirements=requirements,
                )
            )
        )
    harness.catalog.CreateConnection(
        catalog_pb2.CreateConnectionRequest(
            connection_input=catalog_pb.ConnectionInput(name="plain", connection_type="JDBC")
        )
    )
    create_job(jobs, "vpc", connections=pb.ConnectionsList(connections=["VPC-Net", "other"]))
    create_job(jobs, "plain", connections=pb.ConnectionsList(connections=["plain"]))

    vpc_run = start_run(jobs, "vpc")
    wait_state(jobs, vpc_run, pb.JOB_RUN_STATE_RUNNING, "vpc")
    plain_run = start_run(jobs, "plain")
    wait_state(jobs, plain_run, pb.JOB_RUN_STATE_RUNNING, "plain")

    isolation = {request.run_id: request.isolation for request in harness.executor.launched}
    assert isolation[vpc_run] == IsolationTuple(ACCOUNT, ROLE, "subnet-0abc", "sg-1")
    assert isolation[plain_run] == IsolationTuple(ACCOUNT, ROLE, "", "")


def test_a_job_naming_a_missing_connection_cannot_start(harness: Harness, jobs: JobStub) -> None:
    create_job(jobs, "lost", connections=pb.ConnectionsList(connections=["nowhere"]))

    error = failure(lambda: start_run(jobs, "lost"))

    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert reason(error) == "EntityNotFoundException"
    assert "Connection nowhere of job lost not found" in error.details()  # type: ignore[attr-defined]
    assert not jobs.GetJobRuns(api.GetJobRunsRequest(job_name="lost")).job_runs


def test_max_concurrent_runs_holds_under_concurrent_starts(harness: Harness, jobs: JobStub) -> None:
    create_job(jobs, "capped", execution_property=pb.ExecutionProperty(max_concurrent_runs=2))
    callers = 8
    barrier = threading.Barrier(callers)

    def start() -> grpc.StatusCode:
        barrier.wait(CALL_TIMEOUT_S)
        try:
            start_run(jobs, "capped")
        except grpc.RpcError as error:
            assert reason(error) == "ConcurrentRunsExceededException"
            return error.code()  # type: ignore[attr-defined, no-any-return]
        return grpc.StatusCode.OK

    with futures.ThreadPoolExecutor(max_workers=callers) as pool:
        codes = list(pool.map(lambda _: start(), range(callers)))

    assert codes.count(grpc.StatusCode.OK) == 2
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == callers - 2
    runs = jobs.GetJobRuns(api.GetJobRunsRequest(job_name="capped")).job_runs
    assert len(runs) == 2

    # A finished run frees its slot.
    wait_state(jobs, runs[0].id, pb.JOB_RUN_STATE_RUNNING, "capped")
    harness.executor.finish(runs[0].id)
    wait_state(jobs, runs[0].id, pb.JOB_RUN_STATE_SUCCEEDED, "capped")
    assert start_run(jobs, "capped")


def test_batch_stop_job_run_reports_per_run(harness: Harness, jobs: JobStub) -> None:
    create_job(jobs, "stoppable", execution_property=pb.ExecutionProperty(max_concurrent_runs=5))
    first, second, done = (start_run(jobs, "stoppable") for _ in range(3))
    for run_id in (first, second, done):
        wait_state(jobs, run_id, pb.JOB_RUN_STATE_RUNNING, "stoppable")
    harness.executor.finish(done)
    wait_state(jobs, done, pb.JOB_RUN_STATE_SUCCEEDED, "stoppable")

    response = jobs.BatchStopJobRun(
        api.BatchStopJobRunRequest(
            job_name="stoppable", job_run_ids=[first, second, done, UNKNOWN_RUN_ID, "nope"]
        )
    )

    assert [(s.job_name, s.job_run_id) for s in response.successful_submissions] == [
        ("stoppable", first),
        ("stoppable", second),
    ]
    errors = {e.job_run_id: e.error_detail for e in response.errors}
    assert errors[done].error_code == "InvalidStateException"
    assert "already finished" in errors[done].error_message
    assert errors[UNKNOWN_RUN_ID].error_code == "EntityNotFoundException"
    assert errors["nope"].error_code == "InvalidInputException"
    assert all(e.job_name == "stoppable" for e in response.errors)
    for run_id in (first, second):
        assert wait_state(jobs, run_id, pb.JOB_RUN_STATE_STOPPED, "stoppable").HasField(
            "completed_on"
        )
    assert {first, second} <= set(harness.executor.stopped)

    elsewhere = jobs.BatchStopJobRun(
        api.BatchStopJobRunRequest(job_name="no-such-job", job_run_ids=[first])
    )
    assert not elsewhere.successful_submissions
    assert elsewhere.errors[0].error_detail.error_code == "EntityNotFoundException"


def test_deleting_a_job_stops_its_runs(harness: Harness, jobs: JobStub) -> None:
    run_id = start_run(jobs)
    wait_state(jobs, run_id, pb.JOB_RUN_STATE_RUNNING)

    jobs.DeleteJob(api.DeleteJobRequest(job_name="etl"))

    eventually(lambda: run_id in harness.executor.stopped, "the deleted job's run to be stopped")
    gone = failure(lambda: get_run(jobs, run_id))
    assert gone.code() is grpc.StatusCode.NOT_FOUND


def test_starting_and_stopping_runs_wake_the_scheduler(harness: Harness, jobs: JobStub) -> None:
    assert not harness.wakes
    run_id = start_run(jobs)
    assert len(harness.wakes) == 1
    failure(lambda: start_run(jobs))  # beyond max_concurrent_runs: nothing to wake for
    assert len(harness.wakes) == 1
    jobs.BatchStopJobRun(api.BatchStopJobRunRequest(job_name="etl", job_run_ids=[UNKNOWN_RUN_ID]))
    assert len(harness.wakes) == 1
    jobs.BatchStopJobRun(api.BatchStopJobRunRequest(job_name="etl", job_run_ids=[run_id]))
    assert len(harness.wakes) == 2
    jobs.DeleteJob(api.DeleteJobRequest(job_name="etl"))
    assert len(harness.wakes) == 3


def test_get_pool_status(harness: Harness) -> None:
    status = harness.jobs.GetPoolStatus(api.GetPoolStatusRequest()).pool_status
    assert status == pb.PoolStatus(target_size=2, warm=1, starting=1)

    harness.pool.append(
        PoolSnapshot(
            target_size=2,
            warm=2,
            starting=0,
            bound_idle=1,
            busy=3,
            ray_started=True,
            ray_address="127.0.0.1:41234",
            resource_limits="not enforced: an attached cluster",
        )
    )
    status = harness.jobs.GetPoolStatus(api.GetPoolStatusRequest()).pool_status
    assert (status.warm, status.bound_idle, status.busy) == (2, 1, 3)
    assert (status.ray_started, status.ray_address) == (True, "127.0.0.1:41234")
    assert status.resource_limits == "not enforced: an attached cluster"


# Errors


def _unknown_job_calls(jobs: JobStub, run_id: str) -> dict[str, Callable[[], Any]]:
    return {
        "GetJob": lambda: jobs.GetJob(api.GetJobRequest(job_name="nope")),
        "UpdateJob": lambda: jobs.UpdateJob(
            api.UpdateJobRequest(
                job_name="nope",
                job_update=pb.JobUpdate(
                    role=ROLE, command=pb.JobCommand(script_location=SCRIPT_LOCATION)
                ),
            )
        ),
        "StartJobRun": lambda: start_run(jobs, "nope"),
        "GetJobRuns": lambda: jobs.GetJobRuns(api.GetJobRunsRequest(job_name="nope")),
        "GetJobRun of an unknown job": lambda: get_run(jobs, run_id, "nope"),
        "GetJobRun of an unknown run": lambda: get_run(jobs, UNKNOWN_RUN_ID),
        "GetJobRunLogs": lambda: jobs.GetJobRunLogs(
            api.GetJobRunLogsRequest(job_name="nope", run_id=run_id)
        ),
    }


def test_unknown_jobs_and_runs_are_not_found(jobs: JobStub) -> None:
    run_id = start_run(jobs)
    for what, call in _unknown_job_calls(jobs, run_id).items():
        error = failure(call)
        assert error.code() is grpc.StatusCode.NOT_FOUND, what
        assert reason(error) == "EntityNotFoundException", what
        assert_clean(error)


def test_tailing_an_unknown_run_is_not_found(jobs: JobStub) -> None:
    error = failure(
        lambda: list(
            jobs.TailJobRunLogs(
                api.TailJobRunLogsRequest(job_name="etl", run_id=UNKNOWN_RUN_ID),
                timeout=CALL_TIMEOUT_S,
            )
        )
    )
    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert reason(error) == "EntityNotFoundException"
    bad = failure(
        lambda: list(
            jobs.TailJobRunLogs(
                api.TailJobRunLogsRequest(job_name="etl", run_id=UNKNOWN_RUN_ID, stream=99),  # type: ignore[arg-type]
                timeout=CALL_TIMEOUT_S,
            )
        )
    )
    assert bad.code() is grpc.StatusCode.INVALID_ARGUMENT


def _command(**fields: str) -> pb.JobCommand:
    return pb.JobCommand(**{"name": "glueetl", "script_location": SCRIPT_LOCATION, **fields})


def _create(**fields: Any) -> Callable[[JobStub], Any]:
    fields = {"name": "new", "role": ROLE, "command": _command(), **fields}
    return lambda jobs: jobs.CreateJob(api.CreateJobRequest(**fields))


def _start(**fields: Any) -> Callable[[JobStub], Any]:
    return lambda jobs: jobs.StartJobRun(api.StartJobRunRequest(job_name="etl", **fields))


def _token_of_get_jobs(jobs: JobStub) -> str:
    create_job(jobs, "second")
    token = jobs.GetJobs(api.GetJobsRequest(max_results=1)).next_token
    assert token
    return token


# Each case: a call that gives bad input, and a fragment of the message saying what is wrong.
BAD_INPUT: dict[str, tuple[Callable[[JobStub], Any], str]] = {
    "worker type": (_create(worker_type="G.9X"), "worker_type 'G.9X' is not one of"),
    "command name": (_create(command=_command(name="spark")), "command.name 'spark'"),
    "no command": (_create(command=None), "command is required"),
    "script location": (
        _create(command=_command(script_location="s3://bucket/etl.py")),
        "script_location 's3://bucket/etl.py' is not valid",
    ),
    "relative file": (
        _create(command=_command(script_location="file://etl.py")),
        "not an absolute file:// path",
    ),
    "python version": (_create(command=_command(python_version="2.7")), "python_version"),
    "no role": (_create(role=""), "role must not be empty"),
    "one worker": (_create(number_of_workers=1), "number_of_workers must be between 2 and 299"),
    "job name": (_create(name="bad name!"), "job name 'bad name!' is not valid"),
    "negative timeout": (_create(timeout=-1), "timeout must be between"),
    "too many retries": (_create(max_retries=11), "max_retries must be between 0 and 10"),
    "concurrency": (
        _create(execution_property=pb.ExecutionProperty(max_concurrent_runs=-1)),
        "max_concurrent_runs must be between",
    ),
    "argument key": (_create(default_arguments={"day": "1"}), "key 'day' is not valid"),
    "connection name": (
        _create(connections=pb.ConnectionsList(connections=["bad\nname"])),
        "connection",
    ),
    "empty job name": (lambda jobs: jobs.GetJob(api.GetJobRequest()), "job name '' is not valid"),
    "max_results": (
        lambda jobs: jobs.GetJobs(api.GetJobsRequest(max_results=5000)),
        "max_results must be between 1 and 1000",
    ),
    # Glue's GetJobRuns takes at most 200 (OrchestrationPageSize200).
    "GetJobRuns max_results": (
        lambda jobs: jobs.GetJobRuns(api.GetJobRunsRequest(job_name="daily", max_results=201)),
        "max_results must be between 1 and 200",
    ),
    "forged token": (
        lambda jobs: jobs.ListJobs(api.ListJobsRequest(next_token="garbage")),
        "next_token is malformed",
    ),
    "token of another call": (
        lambda jobs: jobs.GetJobRuns(
            api.GetJobRunsRequest(job_name="etl", next_token=_token_of_get_jobs(jobs))
        ),
        "next_token was issued for a different request",
    ),
    "update without job_update": (
        lambda jobs: jobs.UpdateJob(api.UpdateJobRequest(job_name="etl")),
        "job_update is required",
    ),
    "update with tags-free bad worker type": (
        lambda jobs: jobs.UpdateJob(
            api.UpdateJobRequest(
                job_name="etl",
                job_update=pb.JobUpdate(role=ROLE, command=_command(), worker_type="huge"),
            )
        ),
        "worker_type 'huge'",
    ),
    "script name": (
        lambda jobs: jobs.UploadScript(api.UploadScriptRequest(name="../x.py", content=b"")),
        "script name '../x.py' is not valid",
    ),
    "script encoding": (
        lambda jobs: jobs.UploadScript(api.UploadScriptRequest(name="x.py", content=b"\xff\xfe")),
        "is not UTF-8 text",
    ),
    "run argument key": (_start(arguments={"day": "1"}), "arguments key 'day' is not valid"),
    "run worker type": (_start(worker_type="G.9X"), "worker_type 'G.9X'"),
    "run workers": (_start(number_of_workers=1000), "number_of_workers must be between"),
    "run timeout": (_start(timeout=-5), "timeout must be between"),
    "previous run id": (_start(job_run_id="nope"), "job run id 'nope' is not valid"),
    "run id": (
        lambda jobs: jobs.GetJobRun(api.GetJobRunRequest(job_name="etl", run_id="jr_xyz")),
        "job run id 'jr_xyz' is not valid",
    ),
    "no run ids": (
        lambda jobs: jobs.BatchStopJobRun(api.BatchStopJobRunRequest(job_name="etl")),
        "job_run_ids must name 1 to 25 job runs",
    ),
    "too many run ids": (
        lambda jobs: jobs.BatchStopJobRun(
            api.BatchStopJobRunRequest(job_name="etl", job_run_ids=[UNKNOWN_RUN_ID] * 26)
        ),
        "job_run_ids must name 1 to 25 job runs",
    ),
    "log stream": (
        lambda jobs: jobs.GetJobRunLogs(
            api.GetJobRunLogsRequest(job_name="etl", run_id=UNKNOWN_RUN_ID, stream=99)  # type: ignore[arg-type]
        ),
        "stream 99 is not a log stream",
    ),
    "log page size": (
        lambda jobs: jobs.GetJobRunLogs(
            api.GetJobRunLogsRequest(job_name="etl", run_id=UNKNOWN_RUN_ID, max_results=-1)
        ),
        "max_results must be between",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_invalid_argument(jobs: JobStub, case: str) -> None:
    call, fragment = BAD_INPUT[case]

    error = failure(lambda: call(jobs))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert reason(error) == "InvalidInputException"
    assert fragment in error.details()  # type: ignore[attr-defined]
    assert_clean(error)


words = st.sampled_from(["", "etl", "x", "G.1X", "Standard", "--a", "a\nb", "\u00e9", "-1"])
texts = words | st.text(max_size=12)
ints = st.sampled_from([0, 1, 2, -1, 299, 300, 2**31 - 1, -(2**31)])
arguments = st.dictionaries(texts, texts, max_size=2)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=texts,
    role=texts,
    command=st.builds(
        pb.JobCommand,
        name=st.sampled_from(["", "glueetl", "pythonshell", "spark"]) | texts,
        script_location=st.sampled_from([SCRIPT_LOCATION, "file:///x.py", "s3://b/x"]) | texts,
        python_version=st.sampled_from(["", "3", "3.11", "2"]) | texts,
    ),
    worker_type=texts,
    workers=ints,
    timeout=ints,
    concurrency=ints,
    default_arguments=arguments,
    run_arguments=arguments,
    run_id=st.sampled_from(["", UNKNOWN_RUN_ID]) | texts,
    stream=st.integers(-2, 6),
)
def test_random_requests_never_fail_internally(
    jobs: JobStub,
    name: str,
    role: str,
    command: pb.JobCommand,
    worker_type: str,
    workers: int,
    timeout: int,
    concurrency: int,
    default_arguments: dict[str, str],
    run_arguments: dict[str, str],
    run_id: str,
    stream: int,
) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: jobs.CreateJob(
            api.CreateJobRequest(
                name=name,
                role=role,
                command=command,
                worker_type=worker_type,
                number_of_workers=workers,
                timeout=timeout,
                execution_property=pb.ExecutionProperty(max_concurrent_runs=concurrency),
                default_arguments=default_arguments,
            )
        ),
        lambda: jobs.StartJobRun(
            api.StartJobRunRequest(
                job_name=name,
                job_run_id=run_id,
                arguments=run_arguments,
                timeout=timeout,
                worker_type=worker_type,
                number_of_workers=workers,
            )
        ),
        lambda: jobs.GetJobRun(api.GetJobRunRequest(job_name=name, run_id=run_id)),
        lambda: jobs.GetJobRunLogs(
            api.GetJobRunLogsRequest(job_name=name, run_id=run_id, stream=stream)  # type: ignore[arg-type]
        ),
        lambda: jobs.BatchStopJobRun(
            api.BatchStopJobRunRequest(job_name=name, job_run_ids=[run_id])
        ),
        lambda: jobs.UploadScript(api.UploadScriptRequest(name=name, content=role.encode())),
    ]
    for call in calls:
        try:
            call()
        except grpc.RpcError as error:
            assert error.code() not in BROKEN, error.details()  # type: ignore[attr-defined]
            assert_clean(error)


# The servicer directly: a tail whose client has gone


class GoneContext:
    """Just enough of a ServicerContext: the client leaves when told to."""

    def __init__(self) -> None:
        self.active = True
        self.callbacks: list[Callable[[], None]] = []

    def is_active(self) -> bool:
        return self.active

    def add_callback(self, callback: Callable[[], None]) -> bool:
        self.callbacks.append(callback)
        return True

    def leave(self) -> None:
        self.active = False
        for callback in self.callbacks:
            callback()


def direct_servicer(
    harness: Harness, tail_poll_interval_s: float, arrivals: LogArrivals | None = None
) -> JobServicer:
    return JobServicer(
        harness.store,
        harness.catalog_store,
        account=ACCOUNT,
        on_run_started=harness.scheduler.wake,
        pool_status=lambda: POOL,
        tail_poll_interval_s=tail_poll_interval_s,
        roles=AnyRolePasses(),
        scripts=SCRIPT_SOURCES,
        log_arrivals=arrivals,
    )


def test_a_tail_waits_for_lines_stored_after_the_run_ended(harness: Harness, jobs: JobStub) -> None:
    run_id = start_run(jobs)
    wait_state(jobs, run_id, pb.JOB_RUN_STATE_RUNNING)
    # A timed-out run has its last lines drained after it ended.
    assert harness.store.transition(run_id, {RunState.RUNNING}, RunState.TIMEOUT)
    responses = direct_servicer(harness, 0.05).TailJobRunLogs(
        api.TailJobRunLogsRequest(job_name="etl", run_id=run_id),
        GoneContext(),  # type: ignore[arg-type]
    )
    first = next(responses)
    assert (first.job_run_state, list(first.entries)) == (pb.JOB_RUN_STATE_TIMEOUT, [])

    late = LogLine(LogStream.STDOUT, datetime.now(UTC), "last words")
    harness.store.append_logs(run_id, [late], cursor="1")

    rest = list(responses)
    assert _messages(rest) == ["last words"]
    assert all(r.job_run_state == pb.JOB_RUN_STATE_TIMEOUT for r in rest)


def test_a_tail_is_woken_by_lines_stored_on_this_server(harness: Harness, jobs: JobStub) -> None:
    run_id = start_run(jobs)
    wait_state(jobs, run_id, pb.JOB_RUN_STATE_RUNNING)
    arrivals = LogArrivals()
    # A poll interval no test waits for: only the scheduler's word brings the line in time.
    servicer = direct_servicer(harness, 60.0, arrivals)
    responses = servicer.TailJobRunLogs(
        api.TailJobRunLogsRequest(job_name="etl", run_id=run_id),
        GoneContext(),  # type: ignore[arg-type]
    )
    assert next(responses).job_run_state == pb.JOB_RUN_STATE_RUNNING
    got: list[api.TailJobRunLogsResponse] = []
    reader = threading.Thread(target=lambda: got.append(next(responses)), daemon=True)
    reader.start()
    # What the scheduler does with a batch: store it, then say so.
    line = LogLine(LogStream.STDOUT, datetime.now(UTC), "at once")
    harness.store.append_logs(run_id, [line], cursor="1")
    arrivals.stored(run_id)

    reader.join(10.0)
    assert _messages(got) == ["at once"]


def test_a_tail_ends_when_its_client_goes(harness: Harness, jobs: JobStub) -> None:
    run_id = start_run(jobs)
    wait_state(jobs, run_id, pb.JOB_RUN_STATE_RUNNING)
    # A long poll interval: only the client leaving can end the wait in time.
    servicer = direct_servicer(harness, 60.0)
    context = GoneContext()
    responses = servicer.TailJobRunLogs(
        api.TailJobRunLogsRequest(job_name="etl", run_id=run_id),
        context,  # type: ignore[arg-type]
    )
    assert next(responses).job_run_state == pb.JOB_RUN_STATE_RUNNING
    ended = threading.Event()

    def drain() -> None:
        for _ in responses:
            pass
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    context.leave()

    assert ended.wait(5.0), "the tail kept going after its client left"
    assert get_run(jobs, run_id).job_run_state == pb.JOB_RUN_STATE_RUNNING


def test_queued_runs_wait_in_order_and_show_in_pool_status(harness: Harness, jobs: JobStub) -> None:
    create_job(
        jobs,
        "queued",
        job_run_queuing_enabled=True,
        execution_property=pb.ExecutionProperty(max_concurrent_runs=3),
    )
    harness.executor.launch_errors.extend(CapacityUnavailable("no room") for _ in range(1000))
    first = start_run(jobs, "queued")
    second = start_run(jobs, "queued", job_run_queuing_enabled=True)
    for run_id in (first, second):
        run = wait_state(jobs, run_id, pb.JOB_RUN_STATE_WAITING, "queued")
        assert run.job_run_queuing_enabled

    queue = jobs.GetPoolStatus(api.GetPoolStatusRequest()).pool_status.queue
    assert [(q.account, q.job_name, q.run_id, q.position) for q in queue] == [
        (ACCOUNT, "queued", first, 1),
        (ACCOUNT, "queued", second, 2),
    ]
    assert queue[0].started_on == get_run(jobs, first, "queued").started_on

    harness.executor.launch_errors.clear()
    wait_state(jobs, first, pb.JOB_RUN_STATE_RUNNING, "queued")
    wait_state(jobs, second, pb.JOB_RUN_STATE_RUNNING, "queued")
    assert list(jobs.GetPoolStatus(api.GetPoolStatusRequest()).pool_status.queue) == []
    launched = [r.run_id for r in harness.executor.launched if r.run_id in (first, second)]
    assert launched.index(first) < launched.index(second)
    assert launched.count(second) == 1  # it waited behind the first, never trying for room


def test_a_run_without_queuing_says_so(harness: Harness, jobs: JobStub) -> None:
    run_id = start_run(jobs, job_run_queuing_enabled=False)
    assert not get_run(jobs, run_id).job_run_queuing_enabled
