"""Conversions of sluice.jobs.v1 messages: round trips, enums, defaults and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sluice.common.errors import FailedPrecondition, InvalidInput
from sluice.common.paging import PageRequest
from sluice.control_plane.convert.jobs import (
    command_name_from_proto,
    job_input_from_create,
    job_input_from_update,
    job_run_to_proto,
    job_to_proto,
    log_entry_to_proto,
    log_stream_from_proto,
    log_stream_to_proto,
    page_request,
    pool_status_to_proto,
    run_input_from_proto,
    run_state_from_proto,
    run_state_to_proto,
    stop_error_to_proto,
    stop_submission_to_proto,
)
from sluice.control_plane.jobs.executor import PoolSnapshot
from sluice.control_plane.jobs.model import (
    CommandName,
    IsolationTuple,
    Job,
    JobCommand,
    JobInput,
    JobRun,
    LogEntry,
    LogStream,
    RunInput,
    RunState,
)
from sluice.jobs.v1 import jobs_pb2 as api
from sluice.jobs.v1 import types_pb2 as pb

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
COMMAND = JobCommand(CommandName.PYTHONSHELL, "sluice://scripts/etl.py", "3.11")


def full_job() -> Job:
    return Job(
        name="etl",
        account="123456789012",
        role="arn:sluice:role/etl",
        command=COMMAND,
        created_on=NOW,
        last_modified_on=NOW + timedelta(seconds=5),
        description="nightly",
        default_arguments={"--day": "1", "--out": "s3://x"},
        non_overridable_arguments={"--env": "prod"},
        max_retries=2,
        timeout=30,
        max_concurrent_runs=3,
        worker_type="G.2X",
        number_of_workers=5,
        connections=("vpc", "db"),
        tags={"team": "data"},
    )


def full_run(**changes: object) -> JobRun:
    values: dict[str, object] = {
        "id": "jr_" + "a" * 64,
        "job_name": "etl",
        "attempt": 1,
        "state": RunState.SUCCEEDED,
        "arguments": {"--day": "2"},
        "command": COMMAND,
        "isolation": IsolationTuple("123456789012", "arn:sluice:role/etl", "subnet-1", "sg-1"),
        "started_on": NOW,
        "last_modified_on": NOW + timedelta(seconds=50),
        "timeout": 30,
        "worker_type": "G.1X",
        "number_of_workers": 3,
        "max_retries": 2,
        "previous_run_id": "jr_" + "b" * 64,
        "trigger_name": "nightly",
        "error_message": "",
        "completed_on": NOW + timedelta(seconds=50),
        "execution_time": 42,
        "environment_id": "env-7",
        "warm_start": True,
    }
    values.update(changes)
    return JobRun(**values)  # type: ignore[arg-type]


# Enums


@pytest.mark.parametrize("state", list(RunState))
def test_every_run_state_round_trips(state: RunState) -> None:
    value = run_state_to_proto(state)
    assert pb.JobRunState.Name(value) == f"JOB_RUN_STATE_{state}"
    assert run_state_from_proto(value) is state


@pytest.mark.parametrize("value", [pb.JOB_RUN_STATE_UNSPECIFIED, 99, -1])
def test_unknown_run_states_are_invalid_input(value: int) -> None:
    with pytest.raises(InvalidInput, match=f"job_run_state {value} is not a job run state"):
        run_state_from_proto(value)


def test_every_api_run_state_has_a_domain_state() -> None:
    known = {v for v in pb.JobRunState.values() if v != pb.JOB_RUN_STATE_UNSPECIFIED}
    assert {run_state_to_proto(s) for s in RunState} == known


@pytest.mark.parametrize("stream", list(LogStream))
def test_every_log_stream_round_trips(stream: LogStream) -> None:
    value = log_stream_to_proto(stream)
    assert pb.LogStream.Name(value) == f"LOG_STREAM_{stream}"
    assert log_stream_from_proto(value) is stream


def test_an_unset_log_stream_means_every_stream() -> None:
    assert log_stream_from_proto(pb.LOG_STREAM_UNSPECIFIED) is None


@pytest.mark.parametrize("value", [4, 99, -3])
def test_unknown_log_streams_are_invalid_input(value: int) -> None:
    with pytest.raises(InvalidInput, match=f"stream {value} is not a log stream"):
        log_stream_from_proto(value)


def test_command_names() -> None:
    assert command_name_from_proto("") is CommandName.GLUEETL
    assert command_name_from_proto("glueetl") is CommandName.GLUEETL
    assert command_name_from_proto("pythonshell") is CommandName.PYTHONSHELL
    with pytest.raises(InvalidInput, match=r"command\.name 'spark' is not one of glueetl"):
        command_name_from_proto("spark")
    with pytest.raises(InvalidInput):
        command_name_from_proto("GLUEETL")


# Jobs


def test_a_job_round_trips_through_create_job() -> None:
    job = full_job()
    message = job_to_proto(job)
    # CreateJobRequest's fields 1-13 are Job's: a job read back creates the same job. (Job's
    # timestamps, 14 and 15, are other fields of CreateJobRequest: the Glue-only members.)
    definition = pb.Job()
    definition.CopyFrom(message)
    definition.ClearField("created_on")
    definition.ClearField("last_modified_on")
    request = api.CreateJobRequest.FromString(definition.SerializeToString())

    assert job_input_from_create(request) == JobInput(
        name=job.name,
        role=job.role,
        command=job.command,
        description=job.description,
        default_arguments=job.default_arguments,
        non_overridable_arguments=job.non_overridable_arguments,
        max_retries=job.max_retries,
        timeout=job.timeout,
        max_concurrent_runs=job.max_concurrent_runs,
        worker_type=job.worker_type,
        number_of_workers=job.number_of_workers,
        connections=job.connections,
        tags=job.tags,
    )
    assert message.created_on.ToDatetime(tzinfo=UTC) == job.created_on
    assert message.last_modified_on.ToDatetime(tzinfo=UTC) == job.last_modified_on
    assert message.execution_property.max_concurrent_runs == 3
    assert list(message.connections.connections) == ["vpc", "db"]


def test_a_job_without_connections_leaves_them_out() -> None:
    job = Job(
        name="etl",
        account="1",
        role="r",
        command=COMMAND,
        created_on=NOW,
        last_modified_on=NOW,
    )
    message = job_to_proto(job)
    assert not message.HasField("connections")
    assert not message.tags
    # Defaults come back resolved, as the store gives them.
    assert (message.timeout, message.worker_type, message.number_of_workers) == (2880, "G.1X", 2)
    assert message.execution_property.max_concurrent_runs == 1


def test_create_job_leaves_unset_fields_to_the_store_defaults() -> None:
    request = api.CreateJobRequest(
        name="etl", role="r", command=pb.JobCommand(script_location="file:///x.py")
    )
    job_input = job_input_from_create(request)
    assert job_input.command == JobCommand(CommandName.GLUEETL, "file:///x.py", "")
    assert (job_input.max_concurrent_runs, job_input.timeout, job_input.worker_type) == (0, 0, "")
    assert (job_input.number_of_workers, job_input.connections) == (0, ())


def test_create_job_without_a_command_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="command is required"):
        job_input_from_create(api.CreateJobRequest(name="etl", role="r"))


@pytest.mark.parametrize("worker_type", ["G.8X", "g.1x", "standard", "Z"])
def test_unknown_worker_types_are_invalid_input(worker_type: str) -> None:
    command = pb.JobCommand(name="glueetl", script_location="file:///x.py")
    with pytest.raises(InvalidInput, match=f"worker_type {worker_type!r} is not one of"):
        job_input_from_create(
            api.CreateJobRequest(name="etl", role="r", command=command, worker_type=worker_type)
        )
    with pytest.raises(InvalidInput, match="worker_type"):
        job_input_from_update(
            "etl", pb.JobUpdate(role="r", command=command, worker_type=worker_type)
        )
    with pytest.raises(InvalidInput, match="worker_type"):
        run_input_from_proto(api.StartJobRunRequest(job_name="etl", worker_type=worker_type))


def test_a_bad_command_name_is_invalid_input_in_create_and_update() -> None:
    command = pb.JobCommand(name="spark", script_location="file:///x.py")
    with pytest.raises(InvalidInput, match=r"command\.name 'spark'"):
        job_input_from_create(api.CreateJobRequest(name="etl", role="r", command=command))
    with pytest.raises(InvalidInput, match=r"command\.name 'spark'"):
        job_input_from_update("etl", pb.JobUpdate(role="r", command=command))


def test_job_update_takes_the_name_given_and_no_tags() -> None:
    update = pb.JobUpdate(
        description="d",
        role="r2",
        command=pb.JobCommand(name="pythonshell", script_location="file:///y.py"),
        default_arguments={"--a": "1"},
        non_overridable_arguments={"--b": "2"},
        max_retries=1,
        timeout=5,
        execution_property=pb.ExecutionProperty(max_concurrent_runs=4),
        worker_type="Standard",
        number_of_workers=3,
        connections=pb.ConnectionsList(connections=["vpc"]),
    )
    assert job_input_from_update("etl", update) == JobInput(
        name="etl",
        role="r2",
        command=JobCommand(CommandName.PYTHONSHELL, "file:///y.py", ""),
        description="d",
        default_arguments={"--a": "1"},
        non_overridable_arguments={"--b": "2"},
        max_retries=1,
        timeout=5,
        max_concurrent_runs=4,
        worker_type="Standard",
        number_of_workers=3,
        connections=("vpc",),
    )


def test_job_update_without_a_command_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="command is required"):
        job_input_from_update("etl", pb.JobUpdate(role="r"))


# Runs


def test_a_run_has_every_field() -> None:
    run = full_run()
    message = job_run_to_proto(run)
    assert message.id == run.id
    assert (message.attempt, message.previous_run_id, message.trigger_name) == (
        1,
        "jr_" + "b" * 64,
        "nightly",
    )
    assert message.job_name == "etl"
    assert message.job_run_state == pb.JOB_RUN_STATE_SUCCEEDED
    assert dict(message.arguments) == {"--day": "2"}
    assert (message.timeout, message.worker_type, message.number_of_workers) == (30, "G.1X", 3)
    assert (message.execution_time, message.environment_id, message.warm_start) == (
        42,
        "env-7",
        True,
    )
    assert message.started_on.ToDatetime(tzinfo=UTC) == run.started_on
    assert message.last_modified_on.ToDatetime(tzinfo=UTC) == run.last_modified_on
    assert message.completed_on.ToDatetime(tzinfo=UTC) == run.completed_on
    assert run_state_from_proto(message.job_run_state) is run.state


def test_an_unfinished_run_has_no_completed_on() -> None:
    message = job_run_to_proto(
        full_run(
            state=RunState.RUNNING,
            completed_on=None,
            execution_time=0,
            warm_start=False,
            error_message="",
        )
    )
    assert not message.HasField("completed_on")
    assert message.job_run_state == pb.JOB_RUN_STATE_RUNNING
    assert not message.warm_start


def test_a_failed_run_carries_its_error_message() -> None:
    message = job_run_to_proto(full_run(state=RunState.FAILED, error_message="boom\nline 2"))
    assert message.error_message == "boom\nline 2"
    assert message.job_run_state == pb.JOB_RUN_STATE_FAILED


def test_start_job_run_fields_become_the_run_input() -> None:
    request = api.StartJobRunRequest(
        job_name="etl",
        job_run_id="jr_" + "c" * 64,
        arguments={"--day": "3"},
        timeout=7,
        worker_type="G.4X",
        number_of_workers=4,
    )
    assert run_input_from_proto(request, subnet_id="subnet-1", security_group_id="sg-1") == (
        RunInput(
            arguments={"--day": "3"},
            previous_run_id="jr_" + "c" * 64,
            timeout=7,
            worker_type="G.4X",
            number_of_workers=4,
            subnet_id="subnet-1",
            security_group_id="sg-1",
        )
    )
    # Unset fields take the job's values.
    assert run_input_from_proto(api.StartJobRunRequest(job_name="etl")) == RunInput()


def test_batch_stop_results() -> None:
    ok = stop_submission_to_proto("etl", "jr_1")
    assert (ok.job_name, ok.job_run_id) == ("etl", "jr_1")
    error = stop_error_to_proto("etl", "jr_2", FailedPrecondition("Job run jr_2 has finished"))
    assert (error.job_name, error.job_run_id) == ("etl", "jr_2")
    assert error.error_detail.error_code == "InvalidStateException"
    assert error.error_detail.error_message == "Job run jr_2 has finished"


# Logs, paging and the pool


def test_a_log_entry() -> None:
    message = log_entry_to_proto(
        LogEntry(seq=3, stream=LogStream.DRIVER, timestamp=NOW, message="hi")
    )
    assert message.stream == pb.LOG_STREAM_DRIVER
    assert message.timestamp.ToDatetime(tzinfo=UTC) == NOW
    assert message.message == "hi"


def test_page_requests() -> None:
    assert page_request(api.GetJobsRequest()) == PageRequest()
    assert page_request(api.ListJobsRequest(max_results=5, next_token="t")) == PageRequest(
        max_results=5, next_token="t"
    )
    # GetJobRuns' MaxResults is Glue's OrchestrationPageSize200.
    assert page_request(api.GetJobRunsRequest(job_name="etl", max_results=2)) == PageRequest(
        2, max_allowed=200
    )
    assert page_request(api.GetJobRunLogsRequest(next_token="x")) == PageRequest(next_token="x")


def test_the_pool_status() -> None:
    snapshot = PoolSnapshot(
        target_size=2,
        warm=1,
        starting=1,
        bound_idle=3,
        busy=4,
        ray_started=True,
        ray_address="127.0.0.1:6380",
    )
    assert pool_status_to_proto(snapshot) == pb.PoolStatus(
        target_size=2,
        warm=1,
        starting=1,
        bound_idle=3,
        busy=4,
        ray_started=True,
        ray_address="127.0.0.1:6380",
    )
