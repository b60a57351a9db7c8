"""Job store contract: runs, their transitions and logs, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from sluice.common.db import Database
from sluice.common.errors import (
    ConcurrentModification,
    EntityNotFound,
    FailedPrecondition,
    InvalidInput,
    ResourceNumberLimitExceeded,
)
from sluice.common.paging import PageRequest
from sluice.control_plane.jobs.model import (
    IsolationTuple,
    LogLine,
    LogStream,
    RunInput,
    RunState,
)
from sluice.control_plane.jobs.sql_store import SqlJobStore
from tests.contract.test_job_store_support import (
    BACKENDS,
    FakeClock,
    job_input,
    new_account,
    new_store,
    open_database,
)

pytestmark = pytest.mark.contract

T = TypeVar("T")
THREADS = 16


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("jobs")) as db:
        yield db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database: Database, clock: FakeClock) -> SqlJobStore:
    return new_store(database, clock)


@pytest.fixture
def account() -> str:
    return new_account()


def race(count: int, action: Callable[[int], T]) -> list[T | Exception]:
    """Runs action(i) on count threads released together; results or the errors raised."""
    barrier = threading.Barrier(count)

    def one(i: int) -> T | Exception:
        barrier.wait(timeout=30)
        try:
            return action(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def running_run(store: SqlJobStore, account: str, job: str = "etl") -> str:
    run = store.create_run(account, job, RunInput())
    assert store.transition(run.id, {RunState.STARTING}, RunState.RUNNING)
    return run.id


# Creating runs


def test_create_run_merges_arguments_and_snapshots_the_job(
    store: SqlJobStore, account: str, clock: FakeClock
) -> None:
    store.create_job(
        account,
        job_input(
            default_arguments={"--day": "today", "--mode": "full", "--env": "dev"},
            non_overridable_arguments={"--env": "prod"},
            max_retries=2,
            timeout=30,
        ),
    )

    run = store.create_run(
        account,
        "etl",
        RunInput(
            arguments={"--mode": "delta", "--env": "test", "--extra": "1"},
            trigger_name="nightly",
            subnet_id="subnet-1",
            security_group_id="sg-1",
        ),
    )

    assert re.fullmatch(r"jr_[0-9a-f]{64}", run.id)
    assert run.state is RunState.STARTING
    assert run.attempt == 0
    assert run.previous_run_id == ""
    assert run.arguments == {"--day": "today", "--mode": "delta", "--env": "prod", "--extra": "1"}
    assert run.isolation == IsolationTuple(account, "arn:sluice:role/etl", "subnet-1", "sg-1")
    assert (run.timeout, run.max_retries, run.worker_type, run.number_of_workers) == (
        30,
        2,
        "G.1X",
        2,
    )
    assert run.started_on == clock()
    assert run.deadline == clock() + timedelta(minutes=30)
    assert store.get_run(account, "etl", run.id) == run


def test_create_run_takes_overrides(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input(max_concurrent_runs=2))
    run = store.create_run(
        account, "etl", RunInput(timeout=5, worker_type="G.4X", number_of_workers=3)
    )
    assert (run.timeout, run.worker_type, run.number_of_workers) == (5, "G.4X", 3)


@pytest.mark.parametrize(
    "run_input",
    [
        RunInput(arguments={"day": "1"}),
        RunInput(arguments={"--": "1"}),
        RunInput(worker_type="huge"),
        RunInput(timeout=-1),
        RunInput(previous_run_id="not-a-run"),
    ],
)
def test_create_run_rejects_invalid_input(
    store: SqlJobStore, account: str, run_input: RunInput
) -> None:
    store.create_job(account, job_input())
    with pytest.raises(InvalidInput):
        store.create_run(account, "etl", run_input)
    # The refused run took no slot.
    store.create_run(account, "etl", RunInput())


def test_create_run_of_missing_job_is_not_found(store: SqlJobStore, account: str) -> None:
    with pytest.raises(EntityNotFound):
        store.create_run(account, "missing", RunInput())


def test_create_run_refuses_beyond_max_concurrent_runs(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    first = store.create_run(account, "etl", RunInput())

    with pytest.raises(ResourceNumberLimitExceeded, match="ConcurrentRunsExceeded"):
        store.create_run(account, "etl", RunInput())

    assert store.transition(first.id, {RunState.STARTING}, RunState.ERROR)
    store.create_run(account, "etl", RunInput())


def test_create_run_with_an_expected_role_starts_only_while_the_job_names_it(
    store: SqlJobStore, account: str
) -> None:
    store.create_job(account, job_input(max_concurrent_runs=3))
    role = "arn:sluice:role/etl"

    run = store.create_run(account, "etl", RunInput(expected_role=role))
    assert run.isolation.role == role
    # The job changed its role after the caller was found allowed to pass the old one.
    store.update_job(account, job_input(role="admin", max_concurrent_runs=3))

    with pytest.raises(ConcurrentModification, match="changed its role"):
        store.create_run(account, "etl", RunInput(expected_role=role))
    assert [r.id for r in store.get_runs(account, "etl", PageRequest()).items] == [run.id]
    assert store.create_run(account, "etl", RunInput(expected_role="admin")).isolation.role == (
        "admin"
    )


def test_max_concurrent_runs_holds_under_concurrent_starts(
    store: SqlJobStore, account: str
) -> None:
    store.create_job(account, job_input(max_concurrent_runs=3))

    results = race(THREADS, lambda _: store.create_run(account, "etl", RunInput()))

    started = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, ResourceNumberLimitExceeded)]
    assert len(started) == 3
    assert len(refused) == THREADS - 3
    assert len(store.get_runs(account, "etl", PageRequest()).items) == 3


def test_retrying_a_finished_run_makes_its_next_attempt(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input(max_concurrent_runs=2))
    first = store.create_run(account, "etl", RunInput())
    with pytest.raises(FailedPrecondition):
        store.create_run(account, "etl", RunInput(previous_run_id=first.id))
    assert store.transition(first.id, {RunState.STARTING}, RunState.FAILED)

    again = store.create_run(account, "etl", RunInput(previous_run_id=first.id))

    assert (again.attempt, again.previous_run_id) == (1, first.id)


# Reading runs


def test_get_runs_lists_newest_first_in_pages(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input(max_concurrent_runs=10))
    created = [store.create_run(account, "etl", RunInput()).id for _ in range(5)]

    seen: list[str] = []
    token = ""
    while True:
        page = store.get_runs(account, "etl", PageRequest(max_results=2, next_token=token))
        seen.extend(run.id for run in page.items)
        token = page.next_token
        if not token:
            break

    assert seen == list(reversed(created))


def test_get_run_of_another_job_is_not_found(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input("a"))
    store.create_job(account, job_input("b"))
    run = store.create_run(account, "a", RunInput())
    with pytest.raises(EntityNotFound):
        store.get_run(account, "b", run.id)
    with pytest.raises(EntityNotFound):
        store.get_run(new_account(), "a", run.id)


def test_list_active_runs_has_every_unfinished_run(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input(max_concurrent_runs=5))
    starting = store.create_run(account, "etl", RunInput()).id
    running = running_run(store, account)
    done = running_run(store, account)
    assert store.transition(done, {RunState.RUNNING}, RunState.SUCCEEDED)

    mine = {r.id: r.state for r in store.list_active_runs() if r.account == account}

    assert mine == {starting: RunState.STARTING, running: RunState.RUNNING}


# Transitions


def test_transition_is_conditional(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    run = store.create_run(account, "etl", RunInput())

    assert not store.transition(run.id, {RunState.RUNNING}, RunState.SUCCEEDED)
    assert store.get_run(account, "etl", run.id).state is RunState.STARTING
    assert not store.transition("jr_00", {RunState.STARTING}, RunState.RUNNING)


def test_transition_refuses_changes_the_table_forbids(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    run = store.create_run(account, "etl", RunInput())
    with pytest.raises(ValueError):
        store.transition(run.id, {RunState.SUCCEEDED}, RunState.RUNNING)
    with pytest.raises(ValueError):
        store.transition(run.id, {RunState.STARTING}, RunState.ERROR, retry=True)


def test_racing_transitions_have_exactly_one_winner(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input(max_concurrent_runs=10))
    ends = (RunState.SUCCEEDED, RunState.FAILED, RunState.STOPPING, RunState.TIMEOUT)
    for _ in range(5):
        run_id = running_run(store, account)

        results = race(
            len(ends), lambda i, rid=run_id: store.transition(rid, {RunState.RUNNING}, ends[i])
        )

        assert sorted(results, key=str) == [False, False, False, True]
        winner = ends[results.index(True)]
        assert store.get_run(account, "etl", run_id).state is winner


def test_running_and_terminal_transitions_record_times(
    store: SqlJobStore, account: str, clock: FakeClock
) -> None:
    store.create_job(account, job_input())
    run = store.create_run(account, "etl", RunInput())
    clock.advance(10)
    assert store.transition(
        run.id, {RunState.STARTING}, RunState.RUNNING, environment_id="env-1", warm_start=True
    )
    clock.advance(90)
    assert store.transition(run.id, {RunState.RUNNING}, RunState.FAILED, error_message="boom")

    ended = store.get_run(account, "etl", run.id)
    assert ended.state is RunState.FAILED
    assert ended.error_message == "boom"
    assert (ended.environment_id, ended.warm_start) == ("env-1", True)
    assert ended.completed_on == clock()
    assert ended.last_modified_on == clock()
    assert ended.execution_time == 90


def test_given_execution_time_wins(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    run_id = running_run(store, account)
    assert store.transition(run_id, {RunState.RUNNING}, RunState.SUCCEEDED, execution_time=7)
    assert store.get_run(account, "etl", run_id).execution_time == 7


def test_failed_run_with_retries_left_hands_its_slot_to_the_next_attempt(
    store: SqlJobStore, account: str
) -> None:
    store.create_job(account, job_input(max_retries=1))
    first = running_run(store, account)

    assert store.transition(first, {RunState.RUNNING}, RunState.FAILED, retry=True)

    runs = store.get_runs(account, "etl", PageRequest()).items
    second = runs[0]
    assert (second.attempt, second.previous_run_id, second.state) == (1, first, RunState.STARTING)
    with pytest.raises(ResourceNumberLimitExceeded):
        store.create_run(account, "etl", RunInput())

    assert store.transition(second.id, {RunState.STARTING}, RunState.TIMEOUT, retry=True)

    # No retries left: no third attempt, and the slot is free again.
    assert len(store.get_runs(account, "etl", PageRequest()).items) == 2
    store.create_run(account, "etl", RunInput())


def test_retry_is_not_made_without_asking(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input(max_retries=3))
    run_id = running_run(store, account)
    assert store.transition(run_id, {RunState.RUNNING}, RunState.FAILED)
    assert len(store.get_runs(account, "etl", PageRequest()).items) == 1


def test_terminal_transitions_free_slots_under_races(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input(max_concurrent_runs=THREADS))
    run_ids = [running_run(store, account) for _ in range(THREADS)]

    results = race(
        THREADS,
        lambda i: store.transition(run_ids[i], {RunState.RUNNING}, RunState.SUCCEEDED),
    )

    assert results == [True] * THREADS
    refills = race(THREADS, lambda _: store.create_run(account, "etl", RunInput()))
    assert all(not isinstance(r, Exception) for r in refills)
    with pytest.raises(ResourceNumberLimitExceeded):
        store.create_run(account, "etl", RunInput())


def test_request_stop(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    run_id = running_run(store, account)

    assert store.request_stop(account, "etl", run_id).state is RunState.STOPPING
    assert store.request_stop(account, "etl", run_id).state is RunState.STOPPING
    assert store.transition(run_id, {RunState.STOPPING}, RunState.STOPPED)
    with pytest.raises(FailedPrecondition):
        store.request_stop(account, "etl", run_id)
    with pytest.raises(EntityNotFound):
        store.request_stop(account, "etl", "jr_0123")


# Logs


def lines(stream: LogStream, *messages: str) -> list[LogLine]:
    at = datetime(2024, 5, 1, tzinfo=UTC)
    return [LogLine(stream, at, message) for message in messages]


def test_logs_are_numbered_in_order_and_read_in_pages(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    run_id = running_run(store, account)
    store.append_logs(run_id, lines(LogStream.STDOUT, "a", "b"), "c1")
    store.append_logs(run_id, lines(LogStream.STDERR, "c"), "c2")
    store.append_logs(run_id, [], "c3")
    store.append_logs(run_id, lines(LogStream.STDOUT, "d", "e"), "c4")

    seen = []
    token = ""
    while True:
        page = store.get_run_logs(
            account, "etl", run_id, PageRequest(max_results=2, next_token=token)
        )
        seen.extend((e.seq, e.stream, e.message) for e in page.items)
        token = page.next_token
        if not token:
            break

    assert seen == [
        (1, LogStream.STDOUT, "a"),
        (2, LogStream.STDOUT, "b"),
        (3, LogStream.STDERR, "c"),
        (4, LogStream.STDOUT, "d"),
        (5, LogStream.STDOUT, "e"),
    ]
    assert store.get_run(account, "etl", run_id).log_cursor == "c4"


def test_logs_filter_by_stream_and_resume_after_a_seq(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    run_id = running_run(store, account)
    store.append_logs(run_id, lines(LogStream.STDOUT, "a"), "")
    store.append_logs(run_id, lines(LogStream.DRIVER, "b"), "")
    store.append_logs(run_id, lines(LogStream.STDOUT, "c"), "")

    stdout = store.get_run_logs(account, "etl", run_id, PageRequest(), stream=LogStream.STDOUT)
    after = store.get_run_logs(account, "etl", run_id, PageRequest(), after_seq=2)

    assert [e.message for e in stdout.items] == ["a", "c"]
    assert [e.message for e in after.items] == ["c"]


def test_concurrent_appends_get_distinct_numbers(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    run_id = running_run(store, account)

    race(8, lambda i: store.append_logs(run_id, lines(LogStream.STDOUT, f"{i}a", f"{i}b"), ""))

    entries = store.get_run_logs(account, "etl", run_id, PageRequest()).items
    assert [e.seq for e in entries] == list(range(1, 17))
    for i in range(8):
        messages = [e.message for e in entries if e.message.startswith(str(i))]
        assert messages == [f"{i}a", f"{i}b"]


def test_logs_of_missing_run_are_not_found(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    with pytest.raises(EntityNotFound):
        store.append_logs("jr_00", lines(LogStream.STDOUT, "x"), "")
    with pytest.raises(EntityNotFound):
        store.get_run_logs(account, "etl", "jr_00", PageRequest())


def test_delete_job_racing_starts_and_ends_leaves_nothing_running(
    store: SqlJobStore, account: str
) -> None:
    for _ in range(3):
        store.create_job(account, job_input(max_concurrent_runs=THREADS))
        run_ids = [running_run(store, account) for _ in range(6)]

        def act(i: int, run_ids: list[str] = run_ids) -> object:
            if i < len(run_ids):
                return store.transition(run_ids[i], {RunState.RUNNING}, RunState.SUCCEEDED)
            if i == THREADS - 1:
                return store.delete_job(account, "etl")
            return store.create_run(account, "etl", RunInput())

        results = race(THREADS, act)

        unexpected = [
            r for r in results if isinstance(r, Exception) and not isinstance(r, EntityNotFound)
        ]
        assert unexpected == []
        left = [r for r in store.list_active_runs() if r.account == account]
        assert {r.state for r in left} <= {RunState.STOPPING}
        for run in left:
            assert store.transition(run.id, {RunState.STOPPING}, RunState.STOPPED)
        store.purge_orphan_runs()


def test_run_is_active_until_it_ends(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    run_id = running_run(store, account)
    assert store.run_is_active(run_id)
    assert store.transition(run_id, {RunState.RUNNING}, RunState.SUCCEEDED)
    assert not store.run_is_active(run_id)
    assert not store.run_is_active("jr_no_such_run")


def test_a_run_keeps_its_own_or_its_jobs_job_run_queuing(store: SqlJobStore, account: str) -> None:
    queued = {"job_run_queuing_enabled": True}
    store.create_job(account, job_input(max_concurrent_runs=5, max_retries=1))
    assert not store.create_run(account, "etl", RunInput()).job_run_queuing_enabled
    asked = store.create_run(account, "etl", RunInput(job_run_queuing_enabled=True))
    assert store.get_run(account, "etl", asked.id).job_run_queuing_enabled

    store.update_job(
        account, job_input(max_concurrent_runs=5, max_retries=1, glue_properties=queued)
    )
    assert store.create_run(account, "etl", RunInput()).job_run_queuing_enabled
    refused = store.create_run(account, "etl", RunInput(job_run_queuing_enabled=False))
    assert not refused.job_run_queuing_enabled

    # A retry keeps the flag of the attempt it follows, whatever the job says by then.
    store.update_job(account, job_input(max_concurrent_runs=5, max_retries=1))
    assert store.transition(asked.id, {RunState.STARTING}, RunState.FAILED, retry=True)
    (retry,) = [r for r in store.get_runs(account, "etl", PageRequest()).items if r.attempt == 1]
    assert retry.previous_run_id == asked.id and retry.job_run_queuing_enabled
