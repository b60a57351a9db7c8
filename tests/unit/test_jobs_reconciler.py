"""The reconciler against an executor double, with a real SQL store on a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.common.db import Database
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.jobs.model import JobRun, RunInput, RunState
from sluice.control_plane.jobs.reconciler import LOST_MESSAGE, Reconciler, ReconcilerConfig
from sluice.control_plane.jobs.scheduler import Scheduler, SchedulerConfig
from sluice.control_plane.jobs.schema import upgrade_schema
from sluice.control_plane.jobs.sql_store import SqlJobStore
from tests.unit.test_jobs_support import FakeClock, FakeExecutor, eventually, job_input

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[SqlJobStore]:
    db = Database(f"sqlite:///{tmp_path / 'jobs.db'}")
    upgrade_schema(db)
    store = SqlJobStore(db, PageTokenCodec(b"reconciler-unit-tests-key"), clock=clock)
    store.put_script(ACCOUNT, "etl.py", b"print('hello')\n")
    yield store
    db.dispose()


@pytest.fixture
def executor(clock: FakeClock) -> FakeExecutor:
    return FakeExecutor(clock)


def run_in(store: SqlJobStore, state: RunState, job: str = "etl") -> str:
    """A run brought to state through the store, as a previous control plane would have."""
    run_id = store.create_run(ACCOUNT, job, RunInput()).id
    if state is not RunState.STARTING:
        assert store.transition(run_id, {RunState.STARTING}, RunState.RUNNING)
    if state is RunState.STOPPING:
        store.request_stop(ACCOUNT, job, run_id)
    return run_id


def get(store: SqlJobStore, run_id: str, job: str = "etl") -> JobRun:
    return store.get_run(ACCOUNT, job, run_id)


def test_lost_running_run_fails_and_is_retried(store: SqlJobStore, executor: FakeExecutor) -> None:
    store.create_job(ACCOUNT, job_input(max_retries=1))
    lost = run_in(store, RunState.RUNNING)
    changes: list[str] = []
    reconciler = Reconciler(store, executor, on_change=lambda: changes.append("woken"))

    report = reconciler.reconcile_once()

    assert report.lost == (lost,)
    run = get(store, lost)
    assert (run.state, run.error_message) == (RunState.FAILED, LOST_MESSAGE)
    retry = store.get_runs(ACCOUNT, "etl", PageRequest()).items[0]
    assert (retry.state, retry.attempt, retry.previous_run_id) == (RunState.STARTING, 1, lost)
    assert changes == ["woken"]


def test_known_running_run_is_reattached(store: SqlJobStore, executor: FakeExecutor) -> None:
    store.create_job(ACCOUNT, job_input(max_concurrent_runs=3))
    known = run_in(store, RunState.RUNNING)
    executor.adopt(known)
    starting = run_in(store, RunState.STARTING)

    report = Reconciler(store, executor).reconcile_once()

    assert (report.reattached, report.lost, report.stopped) == ((known,), (), ())
    assert get(store, known).state is RunState.RUNNING
    assert get(store, starting).state is RunState.STARTING  # the scheduler's to launch


def test_lost_stopping_run_is_stopped(store: SqlJobStore, executor: FakeExecutor) -> None:
    store.create_job(ACCOUNT, job_input(max_retries=2))
    stopping = run_in(store, RunState.STOPPING)

    report = Reconciler(store, executor).reconcile_once()

    assert report.stopped == (stopping,)
    assert get(store, stopping).state is RunState.STOPPED
    assert len(store.get_runs(ACCOUNT, "etl", PageRequest()).items) == 1


def test_finished_runs_of_deleted_jobs_are_purged(
    store: SqlJobStore, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input())
    run_in(store, RunState.RUNNING)
    store.delete_job(ACCOUNT, "etl")

    report = Reconciler(store, executor).reconcile_once()

    assert (len(report.stopped), report.purged) == (1, 1)
    assert store.list_active_runs() == ()


def test_restart_reattaches_survivors_and_fails_the_lost(
    store: SqlJobStore, executor: FakeExecutor, clock: FakeClock
) -> None:
    store.create_job(ACCOUNT, job_input(max_concurrent_runs=2))
    survivor = run_in(store, RunState.RUNNING)
    executor.adopt(survivor)
    lost = run_in(store, RunState.RUNNING)
    scheduler = Scheduler(
        store, executor, config=SchedulerConfig(poll_interval_s=0.01), clock=clock
    )
    reconciler = Reconciler(
        store, executor, config=ReconcilerConfig(interval_s=0.02), on_change=scheduler.wake
    )

    report = reconciler.start()
    scheduler.start()
    try:
        assert (report.reattached, report.lost) == ((survivor,), (lost,))
        assert get(store, lost).state is RunState.FAILED
        executor.finish(survivor, ok=True)
        eventually(lambda: get(store, survivor).state is RunState.SUCCEEDED, "the survivor to end")
    finally:
        scheduler.stop()
        reconciler.stop()


def test_timer_fails_a_run_whose_environment_vanishes(
    store: SqlJobStore, executor: FakeExecutor
) -> None:
    store.create_job(ACCOUNT, job_input())
    run_id = run_in(store, RunState.RUNNING)
    executor.adopt(run_id)
    reconciler = Reconciler(store, executor, config=ReconcilerConfig(interval_s=0.02))
    assert reconciler.start().reattached == (run_id,)
    try:
        executor.lose(run_id)
        eventually(lambda: get(store, run_id).state is RunState.FAILED, "the run to fail")
        assert get(store, run_id).error_message == LOST_MESSAGE
    finally:
        reconciler.stop()
