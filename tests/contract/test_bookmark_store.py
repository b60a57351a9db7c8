"""Job bookmark store contract, on SQLite and PostgreSQL: a run's commit becomes the job's
bookmark only once the run has succeeded; failed and stopped runs never advance it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from sluice.common.db import Database
from sluice.common.errors import EntityNotFound, FailedPrecondition, InvalidInput
from sluice.control_plane.jobs.bookmarks.sql_store import SqlBookmarkStore
from sluice.control_plane.jobs.bookmarks.store import MAX_BOOKMARK_BYTES
from sluice.control_plane.jobs.model import RunInput, RunState
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


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("bookmarks")) as db:
        yield db


@pytest.fixture
def jobs(database: Database) -> SqlJobStore:
    return new_store(database, FakeClock())


@pytest.fixture
def bookmarks(database: Database) -> SqlBookmarkStore:
    return SqlBookmarkStore(database, clock=FakeClock())


@pytest.fixture
def account(jobs: SqlJobStore) -> str:
    account = new_account()
    jobs.create_job(account, job_input(max_concurrent_runs=5))
    return account


def _running(jobs: SqlJobStore, account: str) -> str:
    run = jobs.create_run(account, "etl", RunInput())
    assert jobs.transition(run.id, {RunState.STARTING}, RunState.RUNNING)
    return run.id


def _end(jobs: SqlJobStore, run_id: str, state: RunState) -> None:
    assert jobs.transition(run_id, {RunState.RUNNING}, state)


def test_no_bookmark_until_a_committing_run_succeeds(
    jobs: SqlJobStore, bookmarks: SqlBookmarkStore, account: str
) -> None:
    with pytest.raises(EntityNotFound, match="Continuation for job etl"):
        bookmarks.get(account, "etl")
    run = _running(jobs, account)
    bookmarks.commit(account, "etl", run, '{"contexts": {"a": 1}}')
    with pytest.raises(EntityNotFound):
        bookmarks.get(account, "etl")
    _end(jobs, run, RunState.SUCCEEDED)

    entry = bookmarks.get(account, "etl")
    assert (entry.version, entry.run, entry.run_id, entry.previous_run_id) == (1, 1, run, "")
    assert entry.job_bookmark == '{"contexts": {"a": 1}}'


@pytest.mark.parametrize("ending", [RunState.FAILED, RunState.STOPPED, RunState.TIMEOUT])
def test_a_run_that_does_not_succeed_never_advances_it(
    jobs: SqlJobStore, bookmarks: SqlBookmarkStore, account: str, ending: RunState
) -> None:
    first = _running(jobs, account)
    bookmarks.commit(account, "etl", first, "one")
    _end(jobs, first, RunState.SUCCEEDED)
    second = _running(jobs, account)
    bookmarks.commit(account, "etl", second, "two")
    if ending is RunState.STOPPED:
        jobs.request_stop(account, "etl", second)
        assert jobs.transition(second, {RunState.STOPPING}, RunState.STOPPED)
    else:
        _end(jobs, second, ending)

    assert bookmarks.get(account, "etl").job_bookmark == "one"
    # Its commit is gone for good.
    assert bookmarks.get(account, "etl").version == 1


def test_newest_succeeded_commit_wins_and_runs_count(
    jobs: SqlJobStore, bookmarks: SqlBookmarkStore, account: str
) -> None:
    first, second, active = (_running(jobs, account) for _ in range(3))
    bookmarks.commit(account, "etl", first, "1")
    bookmarks.commit(account, "etl", second, "2")
    bookmarks.commit(account, "etl", active, "3")
    bookmarks.commit(account, "etl", second, "2b")
    _end(jobs, first, RunState.SUCCEEDED)
    _end(jobs, second, RunState.SUCCEEDED)
    assert bookmarks.get(account, "etl").job_bookmark == "2b"
    _end(jobs, active, RunState.SUCCEEDED)
    entry = bookmarks.get(account, "etl")
    assert (entry.job_bookmark, entry.run, entry.previous_run_id) == ("3", 2, second)


def test_reset_empties_it_and_drops_pending_commits(
    jobs: SqlJobStore, bookmarks: SqlBookmarkStore, account: str
) -> None:
    first = _running(jobs, account)
    bookmarks.commit(account, "etl", first, "1")
    _end(jobs, first, RunState.SUCCEEDED)
    assert bookmarks.get(account, "etl").job_bookmark == "1"
    pending = _running(jobs, account)
    bookmarks.commit(account, "etl", pending, "2")

    reset = bookmarks.reset(account, "etl")
    assert (reset.job_bookmark, reset.run, reset.version, reset.previous_run_id) == (
        "",
        0,
        2,
        first,
    )
    _end(jobs, pending, RunState.SUCCEEDED)
    assert bookmarks.get(account, "etl").job_bookmark == ""


def test_commit_needs_an_active_run_of_the_job(
    jobs: SqlJobStore, bookmarks: SqlBookmarkStore, account: str
) -> None:
    run = _running(jobs, account)
    with pytest.raises(EntityNotFound):
        bookmarks.commit(account, "etl", "jr_" + "0" * 64, "x")
    with pytest.raises(EntityNotFound):
        bookmarks.commit(account, "other", run, "x")
    with pytest.raises(EntityNotFound):
        bookmarks.commit(new_account(), "etl", run, "x")
    with pytest.raises(InvalidInput):
        bookmarks.commit(account, "etl", run, "x" * (MAX_BOOKMARK_BYTES + 1))
    _end(jobs, run, RunState.SUCCEEDED)
    with pytest.raises(FailedPrecondition):
        bookmarks.commit(account, "etl", run, "x")


def test_a_deleted_job_takes_its_bookmark_along(
    jobs: SqlJobStore, bookmarks: SqlBookmarkStore, account: str
) -> None:
    run = _running(jobs, account)
    bookmarks.commit(account, "etl", run, "1")
    _end(jobs, run, RunState.SUCCEEDED)
    assert bookmarks.get(account, "etl").job_bookmark == "1"
    jobs.delete_job(account, "etl")
    jobs.create_job(account, job_input())
    with pytest.raises(EntityNotFound):
        bookmarks.get(account, "etl")
    with pytest.raises(EntityNotFound):
        bookmarks.reset(account, "missing")


def test_concurrent_reads_advance_it_once(
    jobs: SqlJobStore, bookmarks: SqlBookmarkStore, account: str
) -> None:
    run = _running(jobs, account)
    bookmarks.commit(account, "etl", run, "1")
    _end(jobs, run, RunState.SUCCEEDED)
    with ThreadPoolExecutor(max_workers=4) as pool:
        entries = list(pool.map(lambda _: bookmarks.get(account, "etl"), range(4)))
    assert {(e.version, e.run, e.run_id) for e in entries} == {(1, 1, run)}
