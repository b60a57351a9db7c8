"""The jobs client against a fake JobService on a loopback port: requests, paging, waiting,
log tails and typed errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sluice import sdk
from sluice.jobs.v1 import jobs_pb2, types_pb2
from sluice.sdk.config import ClientOptions
from sluice.sdk.errors import from_rpc_error
from sluice.sdk.jobs import MAX_STOP_BATCH, RunState, log_stream, log_stream_name
from tests.unit.test_sdk_jobs_support import (
    DRIVER,
    FAILED,
    RUNNING,
    STARTING,
    STDERR,
    STDOUT,
    STOPPED,
    SUCCEEDED,
    Abort,
    Served,
    TailStep,
    serving,
)
from tests.unit.test_sdk_support import FakeRpcError, rpc_error

pytestmark = pytest.mark.unit

JOB = {
    "name": "daily",
    "role": "etl",
    "command": {"name": "glueetl", "script_location": "sluice://scripts/daily.py"},
    "default_arguments": {"--input": "file:///data/in"},
    "execution_property": {"max_concurrent_runs": 1},
    "worker_type": "G.1X",
    "number_of_workers": 2,
    "tags": {"team": "data"},
}


@pytest.fixture
def served() -> Iterator[Served]:
    with serving() as s:
        yield s


@pytest.fixture
def client(served: Served) -> Iterator[sdk.Client]:
    with sdk.connect(served.address, options=ClientOptions(timeout_s=5)) as c:
        yield c


def test_create_from_a_dict_and_get(client: sdk.Client, served: Served) -> None:
    assert client.jobs.create(JOB) == "daily"

    job = client.jobs.get("daily")

    assert (job.name, job.role, job.command.name) == ("daily", "etl", "glueetl")
    assert dict(job.default_arguments) == {"--input": "file:///data/in"}
    assert job.execution_property.max_concurrent_runs == 1
    assert dict(job.tags) == {"team": "data"}
    (request,) = served.service.requests("CreateJob")
    assert isinstance(request, jobs_pb2.CreateJobRequest)
    assert request.command.script_location == "sluice://scripts/daily.py"


def test_create_from_a_job_message_drops_its_timestamps(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)
    job = client.jobs.get("daily")
    job.name = "daily-copy"

    client.jobs.create(job)

    (_, request) = served.service.requests("CreateJob")
    assert request.name == "daily-copy"
    assert request.number_of_workers == 2
    assert dict(request.tags) == {"team": "data"}


def test_create_from_a_request_message(client: sdk.Client) -> None:
    request = jobs_pb2.CreateJobRequest(name="raw", role="r")

    assert client.jobs.create(request) == "raw"


def test_a_bad_job_fails_before_any_call(client: sdk.Client, served: Served) -> None:
    with pytest.raises(ValueError, match="'nmae'"):
        client.jobs.create({"nmae": "daily"})
    with pytest.raises(TypeError):
        client.jobs.create(types_pb2.JobRun())  # type: ignore[arg-type]
    assert served.service.calls == []


def test_create_twice_is_already_exists(client: sdk.Client) -> None:
    client.jobs.create(JOB)

    with pytest.raises(sdk.AlreadyExists, match="Job daily already exists") as caught:
        client.jobs.create(JOB)
    assert caught.value.reason == "AlreadyExistsException"
    assert caught.value.__cause__ is None


def test_an_unknown_job_is_entity_not_found(client: sdk.Client) -> None:
    with pytest.raises(sdk.EntityNotFound, match="Job nope not found"):
        client.jobs.get("nope")


def test_get_many_follows_every_page(client: sdk.Client, served: Served) -> None:
    for i in range(7):
        client.jobs.create({**JOB, "name": f"job{i}"})

    jobs = client.jobs.get_many(page_size=3)

    assert served.service.requests("GetJobs") == []
    assert [j.name for j in jobs] == [f"job{i}" for i in range(7)]
    requests = served.service.requests("GetJobs")
    assert [r.next_token for r in requests] == ["", "3", "6"]
    assert {r.max_results for r in requests} == {3}


def test_list_names_by_tag_across_pages(client: sdk.Client, served: Served) -> None:
    for i in range(5):
        client.jobs.create({**JOB, "name": f"job{i}", "tags": {"team": "a" if i % 2 else "b"}})

    assert list(client.jobs.list()) == [f"job{i}" for i in range(5)]
    assert list(client.jobs.list(tags={"team": "b"}, page_size=1)) == ["job0", "job2", "job4"]
    last = served.service.requests("ListJobs")[-1]
    assert dict(last.tags) == {"team": "b"}
    assert last.max_results == 1


def test_update_from_a_dict_replaces_the_definition(client: sdk.Client) -> None:
    client.jobs.create(JOB)

    client.jobs.update("daily", {"role": "etl2", "command": {"name": "pythonshell"}})

    job = client.jobs.get("daily")
    assert (job.role, job.command.name, job.number_of_workers) == ("etl2", "pythonshell", 0)
    assert dict(job.tags) == {"team": "data"}


def test_update_takes_a_job_read_back(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)
    job = client.jobs.get("daily")
    job.description = "Daily roll-up"
    job.max_retries = 2

    client.jobs.update("daily", job)

    (request,) = served.service.requests("UpdateJob")
    assert request.job_name == "daily"
    assert request.job_update.description == "Daily roll-up"
    assert request.job_update.max_retries == 2
    assert request.job_update.command.script_location == "sluice://scripts/daily.py"
    assert client.jobs.get("daily").max_retries == 2


def test_update_refuses_fields_jobupdate_lacks(client: sdk.Client) -> None:
    with pytest.raises(ValueError, match="'tags'"):
        client.jobs.update("daily", {"tags": {"a": "b"}})


def test_delete(client: sdk.Client) -> None:
    client.jobs.create(JOB)

    client.jobs.delete("daily")
    client.jobs.delete("daily")

    with pytest.raises(sdk.EntityNotFound):
        client.jobs.get("daily")


def test_upload_script_from_text_bytes_or_path(
    client: sdk.Client, served: Served, tmp_path: Path
) -> None:
    path = tmp_path / "etl.py"
    path.write_bytes(b"print('from a file')\n")

    assert client.jobs.upload_script("a.py", "print('é')\n") == "sluice://scripts/a.py"
    assert client.jobs.upload_script("b.py", b"\x00raw") == "sluice://scripts/b.py"
    assert client.jobs.upload_script("c.py", path=path) == "sluice://scripts/c.py"

    assert served.service.scripts == {
        "a.py": "print('é')\n".encode(),
        "b.py": b"\x00raw",
        "c.py": b"print('from a file')\n",
    }


def test_upload_script_needs_exactly_one_source(client: sdk.Client, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        client.jobs.upload_script("a.py")
    with pytest.raises(ValueError):
        client.jobs.upload_script("a.py", "x", path=tmp_path / "a.py")
    with pytest.raises(FileNotFoundError):
        client.jobs.upload_script("a.py", path=tmp_path / "missing.py")


def test_start_run_sends_its_overrides(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)

    run_id = client.jobs.start_run(
        "daily",
        {"--day": "2024-03-01"},
        timeout=30,
        worker_type="G.2X",
        number_of_workers=4,
        previous_run_id="jr_0000",
    )

    (request,) = served.service.requests("StartJobRun")
    assert request.job_name == "daily"
    assert dict(request.arguments) == {"--day": "2024-03-01"}
    assert (request.timeout, request.worker_type, request.number_of_workers) == (30, "G.2X", 4)
    assert request.job_run_id == "jr_0000"
    run = client.jobs.get_run("daily", run_id)
    assert run.id == run_id
    assert RunState.of(run) is RunState.STARTING
    assert dict(run.arguments) == {"--input": "file:///data/in", "--day": "2024-03-01"}


def test_start_run_defaults_send_nothing(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)

    client.jobs.start_run("daily")

    (request,) = served.service.requests("StartJobRun")
    assert request == jobs_pb2.StartJobRunRequest(job_name="daily")


def test_too_many_runs_is_concurrent_runs_exceeded(client: sdk.Client) -> None:
    client.jobs.create(JOB)
    client.jobs.start_run("daily")

    with pytest.raises(sdk.ConcurrentRunsExceeded) as caught:
        client.jobs.start_run("daily")
    assert isinstance(caught.value, sdk.ResourceNumberLimitExceeded)
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.reason == "ConcurrentRunsExceededException"


def test_resource_exhausted_without_a_reason_stays_the_general_error() -> None:
    plain = from_rpc_error(FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota"))
    limit = from_rpc_error(
        rpc_error(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "too many tables",
            reason="ResourceNumberLimitExceededException",
        )
    )

    assert type(plain) is sdk.ResourceNumberLimitExceeded
    assert type(limit) is sdk.ResourceNumberLimitExceeded


def test_list_runs_newest_first_across_pages(client: sdk.Client, served: Served) -> None:
    client.jobs.create({**JOB, "execution_property": {"max_concurrent_runs": 10}})
    started = [client.jobs.start_run("daily") for _ in range(5)]

    runs = list(client.jobs.list_runs("daily", page_size=2))

    assert [r.id for r in runs] == started[::-1]
    assert [r.next_token for r in served.service.requests("GetJobRuns")] == ["", "2", "4"]


def test_list_runs_of_an_unknown_job_fails_when_iterated(client: sdk.Client) -> None:
    runs = client.jobs.list_runs("nope")

    with pytest.raises(sdk.EntityNotFound):
        next(runs)


def test_stop_runs_reports_each_run(client: sdk.Client, served: Served) -> None:
    client.jobs.create({**JOB, "execution_property": {"max_concurrent_runs": 10}})
    active = client.jobs.start_run("daily")
    finished = client.jobs.start_run("daily")
    served.service.runs[finished].job_run_state = SUCCEEDED

    results = client.jobs.stop_runs("daily", [active, "jr_9999", finished, active])

    assert [(r.run_id, r.ok, r.error_code) for r in results] == [
        (active, True, ""),
        ("jr_9999", False, "EntityNotFoundException"),
        (finished, False, "InvalidStateException"),
    ]
    assert "not found" in results[1].error_message
    assert client.jobs.get_run("daily", active).job_run_state == types_pb2.JOB_RUN_STATE_STOPPING


def test_stop_runs_splits_into_calls_of_at_most_25(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)
    ids = [f"jr_{i:04d}" for i in range(60)]

    results = client.jobs.stop_runs("daily", iter(ids))

    sizes = [len(r.job_run_ids) for r in served.service.requests("BatchStopJobRun")]
    assert sizes == [MAX_STOP_BATCH, MAX_STOP_BATCH, 10]
    assert [r.run_id for r in results] == ids


def test_stop_runs_reports_a_run_the_server_left_out(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)
    run_id = client.jobs.start_run("daily")
    served.service.unreported.add(run_id)

    (result,) = client.jobs.stop_runs("daily", [run_id])

    assert (result.ok, result.error_code) == (False, "NotReported")


def test_stop_runs_refuses_a_single_string(client: sdk.Client) -> None:
    with pytest.raises(TypeError):
        client.jobs.stop_runs("daily", "jr_0001")


def logged_run(client: sdk.Client, served: Served) -> str:
    client.jobs.create(JOB)
    served.service.logs["daily"] = [
        (STDOUT, "line 1"),
        (DRIVER, "INFO SparkContext: started"),
        (STDERR, "warning"),
        (STDOUT, "line 2"),
        (STDOUT, "line 3"),
    ]
    return client.jobs.start_run("daily")


def test_get_logs_of_every_stream_across_pages(client: sdk.Client, served: Served) -> None:
    run_id = logged_run(client, served)

    entries = list(client.jobs.get_logs("daily", run_id, page_size=2))

    assert [e.message for e in entries] == [
        "line 1",
        "INFO SparkContext: started",
        "warning",
        "line 2",
        "line 3",
    ]
    requests = served.service.requests("GetJobRunLogs")
    assert [r.next_token for r in requests] == ["", "2", "4"]
    assert {r.stream for r in requests} == {types_pb2.LOG_STREAM_UNSPECIFIED}


@pytest.mark.parametrize("stream", ["stdout", "STDOUT", "LOG_STREAM_STDOUT", STDOUT])
def test_get_logs_of_one_stream(client: sdk.Client, served: Served, stream: str | int) -> None:
    run_id = logged_run(client, served)

    entries = list(client.jobs.get_logs("daily", run_id, stream=stream))

    assert [e.message for e in entries] == ["line 1", "line 2", "line 3"]


@pytest.mark.parametrize("stream", ["stdin", "unspecified", "", 42])
def test_an_unknown_stream_fails_before_any_call(
    client: sdk.Client, served: Served, stream: str | int
) -> None:
    with pytest.raises(ValueError):
        client.jobs.get_logs("daily", "jr_0001", stream=stream)
    assert served.service.calls == []


def test_log_stream_names() -> None:
    assert log_stream("driver") == DRIVER
    assert log_stream(None) == types_pb2.LOG_STREAM_UNSPECIFIED
    assert [log_stream_name(s) for s in (STDOUT, STDERR, DRIVER, 0, 99)] == [
        "stdout",
        "stderr",
        "driver",
        "",
        "",
    ]


def test_tail_logs_streams_entries_until_the_run_ends(client: sdk.Client, served: Served) -> None:
    run_id = logged_run(client, served)
    served.service.tails[run_id] = [
        TailStep(state=RUNNING),
        TailStep(entries=[(STDOUT, "a"), (STDERR, "b")], state=RUNNING),
        TailStep(entries=[(STDOUT, "c")]),
        TailStep(entries=[(DRIVER, "d")], state=SUCCEEDED),
    ]

    with client.jobs.tail_logs("daily", run_id) as tail:
        assert tail.state is RunState.UNSPECIFIED
        messages = [e.message for e in tail]

    assert messages == ["a", "b", "c", "d"]
    assert tail.state is RunState.SUCCEEDED


def test_tail_logs_of_one_stream(client: sdk.Client, served: Served) -> None:
    run_id = logged_run(client, served)
    served.service.tails[run_id] = [
        TailStep(entries=[(STDOUT, "a"), (STDERR, "b"), (STDOUT, "c")], state=FAILED)
    ]

    tail = client.jobs.tail_logs("daily", run_id, stream="stderr")

    assert [e.message for e in tail] == ["b"]
    assert tail.state is RunState.FAILED
    (request,) = served.service.requests("TailJobRunLogs")
    assert request.stream == STDERR


def test_tail_logs_can_be_cancelled_while_waiting(client: sdk.Client, served: Served) -> None:
    run_id = logged_run(client, served)
    never = threading.Event()
    served.service.tails[run_id] = [
        TailStep(entries=[(STDOUT, "first")], state=RUNNING),
        TailStep(entries=[(STDOUT, "never sent")], after=never),
    ]
    tail = client.jobs.tail_logs("daily", run_id)
    assert next(tail).message == "first"

    threading.Timer(0.2, tail.cancel).start()
    started = time.monotonic()
    rest = list(tail)

    assert rest == []
    assert time.monotonic() - started < 5
    assert served.service.tail_cancelled.wait(5)


def test_tail_logs_errors_are_typed(client: sdk.Client) -> None:
    client.jobs.create(JOB)

    with pytest.raises(sdk.EntityNotFound, match="jr_9999"):
        list(client.jobs.tail_logs("daily", "jr_9999"))


def test_tail_logs_gives_up_after_its_timeout(client: sdk.Client, served: Served) -> None:
    run_id = logged_run(client, served)
    served.service.tails[run_id] = [TailStep(entries=[(STDOUT, "x")], after=threading.Event())]

    with pytest.raises(sdk.DeadlineExceeded):
        list(client.jobs.tail_logs("daily", run_id, timeout_s=0.3))


def test_tail_logs_do_not_take_the_per_call_deadline(served: Served) -> None:
    # A tail lasts as long as the run, however short the client's per-call deadline.
    with sdk.connect(served.address, options=ClientOptions(timeout_s=0.2)) as short:
        short.jobs.create(JOB)
        run_id = short.jobs.start_run("daily")
        gate = threading.Event()
        served.service.tails[run_id] = [TailStep(entries=[(STDOUT, "late")], after=gate)]
        threading.Timer(0.5, gate.set).start()

        assert [e.message for e in short.jobs.tail_logs("daily", run_id)] == ["late"]


def test_pool_status(client: sdk.Client, served: Served) -> None:
    served.service.pool = types_pb2.PoolStatus(
        target_size=2, warm=1, starting=1, ray_started=True, ray_address="127.0.0.1:6380"
    )

    status = client.jobs.pool_status()

    assert (status.target_size, status.warm, status.starting) == (2, 1, 1)
    assert status.ray_started


def test_wait_for_run_reports_each_change_and_returns_the_finished_run(
    client: sdk.Client, served: Served
) -> None:
    client.jobs.create(JOB)
    served.service.plans["daily"] = [STARTING, STARTING, RUNNING, RUNNING, RUNNING, SUCCEEDED]
    run_id = client.jobs.start_run("daily")
    seen: list[tuple[RunState, str]] = []

    run = client.jobs.wait_for_run(
        "daily",
        run_id,
        poll_interval_s=0.01,
        on_change=lambda r: seen.append((RunState.of(r), r.environment_id)),
    )

    assert RunState.of(run) is RunState.SUCCEEDED
    assert seen == [
        (RunState.STARTING, ""),
        (RunState.RUNNING, "env-7"),
        (RunState.SUCCEEDED, "env-7"),
    ]
    # One stream, however many times the run was looked at.
    assert len(served.service.requests("WatchJobRun")) == 1
    assert served.service.requests("GetJobRun") == []


def test_wait_for_run_reconnects_a_broken_stream(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)
    served.service.plans["daily"] = [STARTING, RUNNING, RUNNING, SUCCEEDED]
    served.service.watch_breaks = 2
    run_id = client.jobs.start_run("daily")
    seen: list[RunState] = []

    run = client.jobs.wait_for_run(
        "daily", run_id, timeout_s=10, on_change=lambda r: seen.append(RunState.of(r))
    )

    assert RunState.of(run) is RunState.SUCCEEDED
    assert len(served.service.requests("WatchJobRun")) == 3
    # A state seen again after reconnecting is not reported twice.
    assert seen == [RunState.STARTING, RunState.RUNNING, RunState.SUCCEEDED]


def test_wait_for_run_polls_a_server_without_the_stream(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)
    served.service.plans["daily"] = [STARTING, RUNNING, SUCCEEDED]
    served.service.failures["WatchJobRun"] = Abort(
        grpc.StatusCode.UNIMPLEMENTED, "Method not found!", "UNIMPLEMENTED"
    )
    run_id = client.jobs.start_run("daily")

    run = client.jobs.wait_for_run("daily", run_id, timeout_s=10, poll_interval_s=0.01)

    assert RunState.of(run) is RunState.SUCCEEDED
    assert len(served.service.requests("WatchJobRun")) == 1
    assert len(served.service.requests("GetJobRun")) == 3


def test_wait_for_run_returns_a_failed_run_too(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)
    served.service.plans["daily"] = [RUNNING, FAILED]
    served.service.errors["daily"] = "ZeroDivisionError: division by zero"
    run_id = client.jobs.start_run("daily")

    run = client.jobs.wait_for_run("daily", run_id, poll_interval_s=0.01, timeout_s=10)

    assert RunState.of(run) is RunState.FAILED
    assert run.error_message == "ZeroDivisionError: division by zero"


def test_wait_for_run_of_a_finished_run_makes_one_call(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)
    run_id = client.jobs.start_run("daily")
    served.service.runs[run_id].job_run_state = STOPPED

    run = client.jobs.wait_for_run("daily", run_id, timeout_s=0)

    assert RunState.of(run) is RunState.STOPPED
    assert len(served.service.requests("GetJobRun")) == 1


def test_wait_for_run_times_out(client: sdk.Client, served: Served) -> None:
    client.jobs.create(JOB)
    served.service.plans["daily"] = [RUNNING]
    run_id = client.jobs.start_run("daily")

    started = time.monotonic()
    with pytest.raises(sdk.RunWaitTimeout) as caught:
        client.jobs.wait_for_run("daily", run_id, timeout_s=0.3, poll_interval_s=0.05)
    waited = time.monotonic() - started

    assert 0.3 <= waited < 2
    error = caught.value
    assert isinstance(error, sdk.DeadlineExceeded)
    assert (error.job_name, error.run_id) == ("daily", run_id)
    assert error.last_run is not None
    assert RunState.of(error.last_run) is RunState.RUNNING
    assert "still RUNNING after 0.3 s" in str(error)


def test_wait_for_run_of_an_unknown_run(client: sdk.Client) -> None:
    client.jobs.create(JOB)

    with pytest.raises(sdk.EntityNotFound):
        client.jobs.wait_for_run("daily", "jr_9999")


@pytest.mark.parametrize(("timeout_s", "poll_interval_s"), [(-1, 0.2), (None, 0), (None, -1)])
def test_wait_for_run_checks_its_arguments(
    client: sdk.Client, timeout_s: float | None, poll_interval_s: float
) -> None:
    with pytest.raises(ValueError):
        client.jobs.wait_for_run(
            "daily", "jr_0001", timeout_s=timeout_s, poll_interval_s=poll_interval_s
        )


def test_calls_carry_metadata(served: Served) -> None:
    options = ClientOptions(metadata=(("x-team", "data"),))
    with sdk.connect(served.address, options=options) as c:
        c.jobs.pool_status()
        with pytest.raises(sdk.EntityNotFound):
            list(c.jobs.tail_logs("nope", "jr_0001"))

    assert [(name, meta["x-team"]) for name, _, meta in served.service.calls] == [
        ("GetPoolStatus", "data"),
        ("TailJobRunLogs", "data"),
    ]


def test_an_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"127.0.0.1:{port}"

    with sdk.connect(address, options=ClientOptions(timeout_s=2)) as c:
        with pytest.raises(sdk.Unavailable, match=address):
            c.jobs.pool_status()
        with pytest.raises(sdk.Unavailable):
            list(c.jobs.tail_logs("daily", "jr_0001", timeout_s=2))


def test_run_states() -> None:
    assert RunState.of(types_pb2.JobRun(job_run_state=SUCCEEDED)) is RunState.SUCCEEDED
    assert RunState.of(999) is RunState.UNSPECIFIED
    assert {s for s in RunState if s.is_terminal()} == {
        RunState.STOPPED,
        RunState.SUCCEEDED,
        RunState.FAILED,
        RunState.TIMEOUT,
        RunState.ERROR,
    }
    assert all(RunState.of(s.proto) is s for s in RunState)
    assert f"{RunState.RUNNING}" == "RUNNING"
