"""The scheduler against an executor double, with a real SQL store on a SQLite file."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.common.db import Database
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.jobs.executor import CapacityUnavailable, LaunchError
from sluice.control_plane.jobs.model import (
    CommandName,
    JobCommand,
    JobRun,
    LogStream,
    RunInput,
    RunState,
)
from sluice.control_plane.jobs.scheduler import LAUNCH_INTERNAL_ERROR, Scheduler, SchedulerConfig
from sluice.control_plane.jobs.schema import upgrade_schema
from sluice.control_plane.jobs.scripts import ScriptSources
from sluice.control_plane.jobs.sql_store import SqlJobStore
from tests.unit.test_jobs_support import (
    LOG_BATCH,
    FakeClock,
    FakeExecutor,
    eventually,
    job_input,
)

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
SCRIPT = b"print('hello')\n"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[SqlJobStore]:
    db = Database(f"sqlite:///{tmp_path / 'jobs.db'}")
    upgrade_schema(db)
    store = SqlJobStore(db, PageTokenCodec(b"scheduler-unit-tests-key"), clock=clock)
    store.put_script(ACCOUNT, "etl.py", SCRIPT)
    yield store
    db.dispose()


@pytest.fixture
def executor(clock: FakeClock) -> FakeExecutor:
    return FakeExecutor(clock)


@pytest.fixture
def scheduler(store: SqlJobStore, executor: FakeExecutor, clock: FakeClock) -> Iterator[Scheduler]:
    config = SchedulerConfig(poll_interval_s=0.01, waiting_retry_s=5.0, run_env={"A": "1"})
    scheduler = Scheduler(store, executor, config=config, clock=clock)
    scheduler.start()
    yield scheduler
    scheduler.stop()


def start(store: SqlJobStore, scheduler: Scheduler, run_input: RunInput | None = None) -> str:
    run_id = store.create_run(ACCOUNT, "etl", run_input or RunInput()).id
    scheduler.wake()
    return run_id


def get(store: SqlJobStore, run_id: str) -> JobRun:
    return store.get_run(ACCOUNT, "etl", run_id)


def lines(store: SqlJobStore, run_id: str) -> list[str]:
    return [e.message for e in store.get_run_logs(ACCOUNT, "etl", run_id, PageRequest()).items]


def wait_state(store: SqlJobStore, run_id: str, state: RunState) -> JobRun:
    eventually(lambda: get(store, run_id).state is state, f"run to be {state}")
    return get(store, run_id)


def runs(store: SqlJobStore) -> list[JobRun]:
    return list(store.get_runs(ACCOUNT, "etl", PageRequest()).items)


def test_launches_a_starting_run(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(
        ACCOUNT, job_input(default_arguments={"--day": "1"}, worker_type="G.2X", timeout=10)
    )

    run_id = start(store, scheduler, RunInput(subnet_id="subnet-1", security_group_id="sg-1"))
    run = wait_state(store, run_id, RunState.RUNNING)

    assert (run.environment_id, run.warm_start) == ("env-1", True)
    [request] = executor.launched
    assert request.run_id == run_id
    assert request.script_text == SCRIPT.decode()
    assert request.arguments == {"--day": "1"}
    assert request.isolation == run.isolation
    assert request.isolation.subnet_id == "subnet-1"
    assert (request.worker.num_executors, request.worker.executor_cores) == (1, 2)
    assert request.timeout_s == 600
    assert request.run_env["A"] == "1"
    assert request.run_env["SLUICE_JOB_RUN_ID"] == run_id


def test_success_copies_logs_and_frees_the_slot(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input())
    run_id = start(store, scheduler)
    wait_state(store, run_id, RunState.RUNNING)
    executor.emit(run_id, "one", "two", "three")
    executor.emit(run_id, "warn", stream=LogStream.STDERR)
    eventually(
        lambda: len(store.get_run_logs(ACCOUNT, "etl", run_id, PageRequest()).items) == 4,
        "the logs of a running run to be copied",
    )
    executor.emit(run_id, "four", "five", "six", "seven")

    executor.finish(run_id, ok=True, seconds=42)
    run = wait_state(store, run_id, RunState.SUCCEEDED)

    assert run.execution_time == 42
    assert run.completed_on is not None
    logs = store.get_run_logs(ACCOUNT, "etl", run_id, PageRequest()).items
    assert [(e.stream, e.message) for e in logs] == [
        (LogStream.STDOUT, "one"),
        (LogStream.STDOUT, "two"),
        (LogStream.STDOUT, "three"),
        (LogStream.STDERR, "warn"),
        (LogStream.STDOUT, "four"),
        (LogStream.STDOUT, "five"),
        (LogStream.STDOUT, "six"),
        (LogStream.STDOUT, "seven"),
    ]
    assert run_id in executor.forgotten
    start(store, scheduler)  # the job's only slot is free again


def test_the_scheduler_says_which_runs_had_lines_stored(
    store: SqlJobStore, executor: FakeExecutor, clock: FakeClock
) -> None:
    told: list[str] = []
    config = SchedulerConfig(poll_interval_s=0.01)
    scheduler = Scheduler(store, executor, config=config, clock=clock, on_logs_stored=told.append)
    scheduler.start()
    try:
        store.create_job(ACCOUNT, job_input())
        run_id = start(store, scheduler)
        wait_state(store, run_id, RunState.RUNNING)
        assert told == []  # no lines yet, whatever the passes
        executor.emit(run_id, "one")
        eventually(lambda: lines(store, run_id) == ["one"], "the line to be copied")
        eventually(lambda: told == [run_id], "the scheduler to say so")
    finally:
        scheduler.stop()


def test_the_scheduler_says_when_a_run_ended(
    store: SqlJobStore, executor: FakeExecutor, clock: FakeClock
) -> None:
    ended: list[None] = []
    config = SchedulerConfig(poll_interval_s=0.01)
    scheduler = Scheduler(
        store, executor, config=config, clock=clock, on_run_ended=lambda: ended.append(None)
    )
    scheduler.start()
    try:
        store.create_job(ACCOUNT, job_input())
        run_id = start(store, scheduler)
        wait_state(store, run_id, RunState.RUNNING)
        assert ended == []
        executor.finish(run_id, ok=True, seconds=1)
        wait_state(store, run_id, RunState.SUCCEEDED)
        eventually(lambda: len(ended) == 1, "the scheduler to say the run ended")
    finally:
        scheduler.stop()


def test_failure_is_retried_while_retries_last(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input(max_retries=1))
    first = start(store, scheduler)
    wait_state(store, first, RunState.RUNNING)

    executor.finish(first, ok=False, error="ZeroDivisionError: division by zero")

    assert wait_state(store, first, RunState.FAILED).error_message == (
        "ZeroDivisionError: division by zero"
    )
    eventually(lambda: len(runs(store)) == 2, "a second attempt")
    second = runs(store)[0]
    assert (second.attempt, second.previous_run_id) == (1, first)
    wait_state(store, second.id, RunState.RUNNING)

    executor.finish(second.id, ok=False)

    assert wait_state(store, second.id, RunState.FAILED).error_message == "the script failed"
    scheduler.run_once()
    assert len(runs(store)) == 2


def test_timeout_kills_the_environment_and_retries(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor, clock: FakeClock
) -> None:
    store.create_job(ACCOUNT, job_input(timeout=1, max_retries=1))
    run_id = start(store, scheduler)
    wait_state(store, run_id, RunState.RUNNING)

    clock.advance(61)

    run = wait_state(store, run_id, RunState.TIMEOUT)
    assert run.error_message == "Job run timed out after 1 minutes"
    assert run_id in executor.stopped
    assert not executor.knows(run_id)
    eventually(lambda: len(runs(store)) == 2, "a second attempt")
    wait_state(store, runs(store)[0].id, RunState.RUNNING)


def test_stop_request_stops_the_environment(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input(max_retries=3))
    run_id = start(store, scheduler)
    wait_state(store, run_id, RunState.RUNNING)
    executor.emit(run_id, "last words")

    store.request_stop(ACCOUNT, "etl", run_id)
    scheduler.wake()

    wait_state(store, run_id, RunState.STOPPED)
    assert run_id in executor.stopped
    assert len(runs(store)) == 1  # a stopped run is not retried
    assert [e.message for e in store.get_run_logs(ACCOUNT, "etl", run_id, PageRequest()).items] == [
        "last words"
    ]


# More lines than the 50 batches a run's end used to copy (LOG_BATCH lines each).
MANY_LINES = tuple(f"line {i}" for i in range(60 * LOG_BATCH + 1))


def messages(store: SqlJobStore, run_id: str) -> list[str]:
    entries: list[str] = []
    token = ""
    while True:
        page = store.get_run_logs(ACCOUNT, "etl", run_id, PageRequest(next_token=token))
        entries.extend(e.message for e in page.items)
        token = page.next_token
        if not token:
            return entries


def test_every_line_left_when_a_run_ends_is_kept(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input())
    run_id = start(store, scheduler)
    wait_state(store, run_id, RunState.RUNNING)

    executor.finish(run_id, ok=True, last_lines=MANY_LINES)

    wait_state(store, run_id, RunState.SUCCEEDED)
    assert messages(store, run_id) == list(MANY_LINES)


def test_a_long_drain_spans_passes_and_the_run_ends_after_its_last_line(
    store: SqlJobStore, executor: FakeExecutor, clock: FakeClock
) -> None:
    # Each pass copies a single batch of an ended run's lines, then moves on; passes happen
    # when woken (the launch wakes it once) or when the test makes one.
    config = SchedulerConfig(poll_interval_s=3600, log_drain_pass_s=1e-9)
    scheduler = Scheduler(store, executor, config=config, clock=clock)
    store.create_job(ACCOUNT, job_input())
    run_id = store.create_run(ACCOUNT, "etl", RunInput()).id
    scheduler.start()
    try:
        wait_state(store, run_id, RunState.RUNNING)
        executor.finish(run_id, ok=False, last_lines=MANY_LINES)

        scheduler.run_once()

        assert get(store, run_id).state is RunState.RUNNING  # not every line is copied yet
        for _ in range(len(MANY_LINES)):
            if get(store, run_id).state is not RunState.RUNNING:
                break
            scheduler.run_once()
        assert get(store, run_id).state is RunState.FAILED
        assert messages(store, run_id) == list(MANY_LINES)
    finally:
        scheduler.stop()


def test_every_line_of_a_stopped_run_is_kept(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input())
    run_id = start(store, scheduler)
    wait_state(store, run_id, RunState.RUNNING)
    executor.emit(run_id, *MANY_LINES)

    store.request_stop(ACCOUNT, "etl", run_id)
    scheduler.wake()

    wait_state(store, run_id, RunState.STOPPED)
    assert messages(store, run_id) == list(MANY_LINES)


def test_every_line_of_a_timed_out_run_is_kept(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor, clock: FakeClock
) -> None:
    store.create_job(ACCOUNT, job_input(timeout=1))
    run_id = start(store, scheduler)
    wait_state(store, run_id, RunState.RUNNING)
    executor.emit(run_id, *MANY_LINES)

    clock.advance(61)

    wait_state(store, run_id, RunState.TIMEOUT)
    eventually(lambda: run_id in executor.forgotten, "the timed-out run to be forgotten")
    assert messages(store, run_id) == list(MANY_LINES)


def test_launch_error_ends_the_run_in_error(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input(max_retries=2, max_concurrent_runs=2))
    executor.launch_errors.extend([LaunchError("role is not allowed"), RuntimeError("bug")])

    first = start(store, scheduler)
    second = start(store, scheduler)

    # Two launch threads take the errors in whichever order they get there.
    messages = {wait_state(store, run, RunState.ERROR).error_message for run in (first, second)}
    assert messages == {"role is not allowed", LAUNCH_INTERNAL_ERROR}
    assert len(runs(store)) == 2  # errors are not retried


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("sluice://scripts/absent.py", "Script absent.py not found"),
        (
            "file:///nonexistent/absent.py",
            "script_location 'file:///nonexistent/absent.py': this server reads no local scripts",
        ),
    ],
)
def test_missing_script_fails_the_run(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor, location: str, reason: str
) -> None:
    store.create_job(ACCOUNT, job_input(command=JobCommand(CommandName.GLUEETL, location)))

    run_id = start(store, scheduler)

    run = wait_state(store, run_id, RunState.FAILED)
    assert run.error_message.startswith(f"cannot load script {location}: {reason}")
    assert executor.launched == []


SECRET = "slk_0000000000000001_" + "s" * 43


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    """A script root holding ok.py, and a data dir with a token file: both under tmp_path."""
    scripts, data = tmp_path / "scripts", tmp_path / "data"
    scripts.mkdir()
    data.mkdir()
    (scripts / "ok.py").write_text("print('ok')\n")
    (data / "admin-token").write_text(SECRET + "\n")
    return scripts, data


@pytest.fixture
def rooted(
    store: SqlJobStore, executor: FakeExecutor, clock: FakeClock, roots: tuple[Path, Path]
) -> Iterator[Scheduler]:
    """A scheduler reading local scripts under a root that holds its data dir's parent."""
    scripts, data = roots
    sources = ScriptSources(roots=(scripts, data.parent), protected=(data,), max_bytes=64)
    scheduler = Scheduler(
        store, executor, config=SchedulerConfig(poll_interval_s=0.01), clock=clock, scripts=sources
    )
    scheduler.start()
    yield scheduler
    scheduler.stop()


def test_a_local_script_under_a_root_runs(
    store: SqlJobStore, rooted: Scheduler, executor: FakeExecutor, roots: tuple[Path, Path]
) -> None:
    location = f"file://{roots[0] / 'ok.py'}"
    store.create_job(ACCOUNT, job_input(command=JobCommand(CommandName.GLUEETL, location)))

    wait_state(store, start(store, rooted), RunState.RUNNING)

    assert [request.script_text for request in executor.launched] == ["print('ok')\n"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("token.py", "names a file of the server itself"),
        ("zero.py", "is not under a script root"),
        ("big.py", "is larger than the limit of 64 bytes"),
        ("fifo.py", "is not a regular file"),
        ("outside.py", "is not under a script root"),
    ],
)
def test_a_local_script_is_refused_at_run_time_without_its_content(
    store: SqlJobStore,
    rooted: Scheduler,
    executor: FakeExecutor,
    roots: tuple[Path, Path],
    tmp_path: Path,
    name: str,
    reason: str,
) -> None:
    scripts, data = roots
    location = f"file://{scripts / name}"
    # Made after the job (links are followed when the run loads the script): refused then too.
    store.create_job(ACCOUNT, job_input(command=JobCommand(CommandName.GLUEETL, location)))
    outside = tmp_path.parent / f"{tmp_path.name}-outside.py"
    outside.write_text("print('elsewhere')\n")
    targets = {
        "token.py": data / "admin-token",
        "zero.py": Path("/dev/zero"),
        "outside.py": outside,
    }
    if name in targets:
        (scripts / name).symlink_to(targets[name])
    elif name == "big.py":
        (scripts / name).write_text("#" * 65)
    else:
        os.mkfifo(scripts / name)

    run = wait_state(store, start(store, rooted), RunState.FAILED)

    assert run.error_message.startswith(f"cannot load script {location}: ")
    assert reason in run.error_message
    assert SECRET not in run.error_message
    assert executor.launched == []


def test_no_capacity_parks_a_queued_run_in_waiting(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor, clock: FakeClock
) -> None:
    store.create_job(ACCOUNT, job_input(glue_properties={"job_run_queuing_enabled": True}))
    executor.launch_errors.append(CapacityUnavailable())

    run_id = start(store, scheduler)
    wait_state(store, run_id, RunState.WAITING)
    scheduler.run_once()
    assert len(executor.launched) == 1  # not before waiting_retry_s

    clock.advance(5)

    wait_state(store, run_id, RunState.RUNNING)
    assert len(executor.launched) == 2


def test_stop_during_launch_releases_the_environment(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input())
    executor.gate = threading.Event()
    run_id = start(store, scheduler)
    eventually(lambda: executor.launched, "the launch to begin")

    store.request_stop(ACCOUNT, "etl", run_id)
    scheduler.run_once()
    assert get(store, run_id).state is RunState.STOPPING  # not while the launch is in flight
    executor.gate.set()

    wait_state(store, run_id, RunState.STOPPED)
    eventually(lambda: run_id in executor.forgotten, "the environment to be released")
    assert not executor.knows(run_id)


def test_lines_printed_while_the_launch_is_in_flight_are_copied_before_it_returns(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input())
    executor.gate = threading.Event()
    run_id = start(store, scheduler)
    eventually(lambda: executor.launched, "the launch to begin")

    executor.emit(run_id, "started", "reading input")
    try:
        eventually(lambda: len(lines(store, run_id)) == 2, "the lines to be copied")
        assert get(store, run_id).state is RunState.STARTING
    finally:
        executor.gate.set()
    wait_state(store, run_id, RunState.RUNNING)
    executor.emit(run_id, "done")
    eventually(lambda: len(lines(store, run_id)) == 3, "the next line to be copied")
    # Each line once, in order: copying went on from the cursor stored during the launch.
    assert lines(store, run_id) == ["started", "reading input", "done"]


def test_timeout_during_launch_releases_the_environment(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor, clock: FakeClock
) -> None:
    store.create_job(ACCOUNT, job_input(timeout=1))
    executor.gate = threading.Event()
    run_id = start(store, scheduler)
    eventually(lambda: executor.launched, "the launch to begin")

    clock.advance(60)
    wait_state(store, run_id, RunState.TIMEOUT)
    executor.gate.set()

    eventually(lambda: run_id in executor.forgotten, "the environment to be released")
    assert not executor.knows(run_id)
    assert get(store, run_id).state is RunState.TIMEOUT


def test_runs_of_a_deleted_job_are_stopped(
    store: SqlJobStore, scheduler: Scheduler, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input())
    run_id = start(store, scheduler)
    wait_state(store, run_id, RunState.RUNNING)

    store.delete_job(ACCOUNT, "etl")
    scheduler.wake()

    eventually(lambda: run_id in executor.stopped, "the orphan run to be stopped")
    eventually(lambda: not store.list_active_runs(), "no active run left")
