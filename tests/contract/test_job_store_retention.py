"""Job store contract: pruning finished runs and their logs, on SQLite and PostgreSQL.

A database of its own per backend: pruning is not scoped to an account.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from sluice.common.db import Database
from sluice.common.errors import EntityNotFound
from sluice.common.paging import PageRequest
from sluice.control_plane.jobs.model import LogLine, LogStream, RunInput, RunState
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

DAY_S = 24 * 3600


@pytest.fixture(params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("retention")) as db:
        yield db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database: Database, clock: FakeClock) -> SqlJobStore:
    return new_store(database, clock)


def ended_run(store: SqlJobStore, account: str, lines: int) -> str:
    """A run of job etl that logged `lines` lines and succeeded now."""
    run_id = store.create_run(account, "etl", RunInput()).id
    assert store.transition(run_id, {RunState.STARTING}, RunState.RUNNING)
    if lines:
        now = store.get_run(account, "etl", run_id).started_on
        store.append_logs(
            run_id, [LogLine(LogStream.STDOUT, now, f"line {i}") for i in range(lines)], "c"
        )
    assert store.transition(run_id, {RunState.RUNNING}, RunState.SUCCEEDED)
    return run_id


def log_count(store: SqlJobStore, account: str, run_id: str) -> int:
    return len(store.get_run_logs(account, "etl", run_id, PageRequest(max_results=1000)).items)


def test_runs_ended_before_the_cutoff_go_with_their_logs_in_bounded_batches(
    store: SqlJobStore, clock: FakeClock
) -> None:
    account = new_account()
    store.create_job(account, job_input(max_concurrent_runs=10))
    old_a = ended_run(store, account, lines=5)
    old_b = ended_run(store, account, lines=0)
    active = store.create_run(account, "etl", RunInput()).id  # never ends
    clock.advance(91 * DAY_S)
    recent = ended_run(store, account, lines=2)
    cutoff = clock() - timedelta(days=90)

    first = store.prune_runs(cutoff, 3)

    # Three of old_a's lines; the run stays until its last line has gone.
    assert (first.run_ids, first.log_lines) == ((), 3)
    assert log_count(store, account, old_a) == 2
    second = store.prune_runs(cutoff, 3)
    assert (second.run_ids, second.log_lines) == ((old_a, old_b), 2)
    assert not store.prune_runs(cutoff, 3).anything

    for gone in (old_a, old_b):
        with pytest.raises(EntityNotFound):
            store.get_run(account, "etl", gone)
    assert store.get_run(account, "etl", active).state is RunState.STARTING
    assert log_count(store, account, recent) == 2


def test_a_run_is_pruned_after_it_ends_however_long_it_ran(
    store: SqlJobStore, clock: FakeClock
) -> None:
    account = new_account()
    store.create_job(account, job_input())
    run_id = store.create_run(account, "etl", RunInput()).id
    clock.advance(200 * DAY_S)

    assert not store.prune_runs(clock() - timedelta(days=90), 100).anything

    assert store.transition(run_id, {RunState.STARTING}, RunState.ERROR, error_message="x")
    assert not store.prune_runs(clock() - timedelta(days=90), 100).anything
    clock.advance(91 * DAY_S)
    assert store.prune_runs(clock() - timedelta(days=90), 100).run_ids == (run_id,)
