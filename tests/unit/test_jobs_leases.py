"""Several schedulers on one database: the lease keeper, and schedulers and reconcilers that act
only under the scheduler lease, against executor doubles and a real SQL store on a SQLite file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sluice.common.db import Database
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.jobs.leases import Fence, LeaseKeeper
from sluice.control_plane.jobs.model import JobRun, RunInput, RunState
from sluice.control_plane.jobs.reconciler import LOST_MESSAGE, Reconciler, ReconcilerConfig
from sluice.control_plane.jobs.scheduler import LAUNCH_INTERRUPTED, Scheduler, SchedulerConfig
from sluice.control_plane.jobs.schema import upgrade_schema
from sluice.control_plane.jobs.sql_leases import SqlLeaseStore
from sluice.control_plane.jobs.sql_store import SqlJobStore
from tests.unit.test_jobs_support import FakeClock, FakeExecutor, eventually, job_input

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
LEASE = "jobs.scheduler"
TTL_S = 15.0


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'jobs.db'}")
    upgrade_schema(db)
    yield db
    db.dispose()


@pytest.fixture
def store(database: Database, clock: FakeClock) -> SqlJobStore:
    store = SqlJobStore(database, PageTokenCodec(b"lease-unit-tests-key"), clock=clock)
    store.put_script(ACCOUNT, "etl.py", b"print('hello')\n")
    return store


@pytest.fixture
def leases(database: Database, clock: FakeClock) -> SqlLeaseStore:
    return SqlLeaseStore(database, clock=clock)


# The lease keeper


def test_keeper_acquires_renews_and_reports_each_tenure(
    leases: SqlLeaseStore, clock: FakeClock
) -> None:
    tenures: list[Fence] = []
    keeper = LeaseKeeper(leases, LEASE, "a", ttl_s=TTL_S, on_acquired=tenures.append)
    assert keeper.fence() is None

    keeper.keep_once()
    clock.advance(TTL_S / 3)
    keeper.keep_once()

    assert keeper.fence() == Fence(LEASE, 1)
    assert tenures == [Fence(LEASE, 1)]


def test_keeper_stops_acting_when_its_renewals_are_too_old(leases: SqlLeaseStore) -> None:
    monotonic = FakeMonotonic()
    keeper = LeaseKeeper(leases, LEASE, "a", ttl_s=TTL_S, monotonic=monotonic)
    keeper.keep_once()

    monotonic.now += TTL_S - 0.1
    assert keeper.fence() is not None
    monotonic.now += 0.1
    assert keeper.fence() is None


def test_keeper_notices_a_takeover_and_takes_the_lease_back_later(
    leases: SqlLeaseStore, clock: FakeClock
) -> None:
    tenures: list[Fence] = []
    lost: list[Fence] = []
    keeper = LeaseKeeper(
        leases, LEASE, "a", ttl_s=TTL_S, on_acquired=tenures.append, on_lost=lost.append
    )
    other = LeaseKeeper(leases, LEASE, "b", ttl_s=TTL_S)
    keeper.keep_once()
    clock.advance(TTL_S)
    other.keep_once()

    keeper.keep_once()
    assert keeper.fence() is None
    assert other.fence() == Fence(LEASE, 2)
    assert lost == [Fence(LEASE, 1)]

    other.stop()
    keeper.keep_once()
    assert keeper.fence() == Fence(LEASE, 3)
    assert tenures == [Fence(LEASE, 1), Fence(LEASE, 3)]


def test_keeper_stop_hands_the_lease_over_at_once(leases: SqlLeaseStore) -> None:
    keeper = LeaseKeeper(leases, LEASE, "a", ttl_s=TTL_S)
    other = LeaseKeeper(leases, LEASE, "b", ttl_s=TTL_S)
    keeper.start()
    other.keep_once()
    assert other.fence() is None

    keeper.stop()
    other.keep_once()

    assert keeper.fence() is None
    assert other.fence() == Fence(LEASE, 2)


# Servers on one database


@dataclass
class Server:
    """What one control plane runs for jobs: its executor, lease keeper, scheduler and
    reconciler."""

    executor: FakeExecutor
    keeper: LeaseKeeper
    scheduler: Scheduler
    reconciler: Reconciler

    def start(self) -> None:
        self.reconciler.start()
        self.scheduler.start()

    def die(self) -> None:
        """Stops everything without releasing the lease, as a killed process would."""
        self.scheduler.stop()
        self.reconciler.stop()

    def launched(self) -> list[str]:
        return [request.run_id for request in self.executor.launched]


@pytest.fixture
def servers(store: SqlJobStore, leases: SqlLeaseStore, clock: FakeClock) -> Iterator[list[Server]]:
    made: list[Server] = []

    def on_acquired(index: int) -> None:
        made[index].reconciler.wake()
        made[index].scheduler.wake()

    for index, holder in enumerate(("a", "b")):
        executor = FakeExecutor(clock)
        keeper = LeaseKeeper(
            leases,
            LEASE,
            holder,
            ttl_s=TTL_S,
            on_acquired=lambda _f, i=index: on_acquired(i),
            on_lost=lambda _f, i=index: made[i].scheduler.abandon(),
        )
        scheduler = Scheduler(
            store,
            executor,
            config=SchedulerConfig(poll_interval_s=0.01),
            clock=clock,
            fence=keeper.fence,
        )
        reconciler = Reconciler(
            store,
            executor,
            config=ReconcilerConfig(interval_s=60),
            on_change=scheduler.wake,
            fence=keeper.fence,
        )
        made.append(Server(executor, keeper, scheduler, reconciler))
    yield made
    for server in made:
        server.die()


def get(store: SqlJobStore, run_id: str) -> JobRun:
    return store.get_run(ACCOUNT, "etl", run_id)


def runs(store: SqlJobStore) -> list[JobRun]:
    return list(store.get_runs(ACCOUNT, "etl", PageRequest()).items)


def wait_state(store: SqlJobStore, run_id: str, state: RunState) -> JobRun:
    eventually(lambda: get(store, run_id).state is state, f"run to be {state}")
    return get(store, run_id)


def test_only_the_leaseholder_launches(store: SqlJobStore, servers: list[Server]) -> None:
    a, b = servers
    store.create_job(ACCOUNT, job_input(max_concurrent_runs=5))
    a.keeper.keep_once()
    b.keeper.keep_once()
    a.start()
    b.start()

    run_ids = [store.create_run(ACCOUNT, "etl", RunInput()).id for _ in range(5)]
    a.scheduler.wake()
    b.scheduler.wake()
    for run_id in run_ids:
        wait_state(store, run_id, RunState.RUNNING)

    assert sorted(a.launched()) == sorted(run_ids)
    assert b.launched() == []


def test_a_successor_fails_the_runs_it_cannot_see_and_retries_them_once(
    store: SqlJobStore, servers: list[Server], clock: FakeClock
) -> None:
    a, b = servers
    store.create_job(ACCOUNT, job_input(max_retries=1))
    a.keeper.keep_once()
    a.start()
    b.start()
    first = store.create_run(ACCOUNT, "etl", RunInput()).id
    a.scheduler.wake()
    wait_state(store, first, RunState.RUNNING)

    a.die()
    clock.advance(TTL_S)
    b.keeper.keep_once()

    lost = wait_state(store, first, RunState.FAILED)
    assert lost.error_message == LOST_MESSAGE
    eventually(lambda: len(runs(store)) == 2, "the retry")
    retry = runs(store)[0]
    wait_state(store, retry.id, RunState.RUNNING)
    assert retry.previous_run_id == first
    assert (a.launched(), b.launched()) == ([first], [retry.id])


def test_an_interrupted_launch_is_failed_not_repeated_and_the_stale_launch_is_undone(
    store: SqlJobStore, servers: list[Server], clock: FakeClock
) -> None:
    a, b = servers
    store.create_job(ACCOUNT, job_input())
    a.executor.gate = threading.Event()
    a.keeper.keep_once()
    a.start()
    b.start()
    run_id = store.create_run(ACCOUNT, "etl", RunInput()).id
    a.scheduler.wake()
    eventually(lambda: a.launched() == [run_id], "server a to begin the launch")

    # a stalls in the launch past its lease; b takes over.
    clock.advance(TTL_S)
    b.keeper.keep_once()
    run = wait_state(store, run_id, RunState.FAILED)
    assert run.error_message == LAUNCH_INTERRUPTED
    assert b.launched() == []

    # a's launch returns: recording it is refused, and a undoes it.
    a.executor.gate.set()
    eventually(lambda: run_id in a.executor.stopped, "server a to stop its stale launch")
    assert get(store, run_id).state is RunState.FAILED
    assert not a.executor.knows(run_id)


def test_a_successor_adopts_a_launch_its_executor_runs(
    store: SqlJobStore, servers: list[Server], clock: FakeClock
) -> None:
    # On a cluster both reach, the successor finds the run executing: it follows, not repeats.
    a, b = servers
    store.create_job(ACCOUNT, job_input())
    a.executor.gate = threading.Event()
    a.keeper.keep_once()
    a.start()
    run_id = store.create_run(ACCOUNT, "etl", RunInput()).id
    a.scheduler.wake()
    eventually(lambda: a.launched() == [run_id], "server a to begin the launch")
    a.die()
    b.executor.adopt(run_id)

    clock.advance(TTL_S)
    b.keeper.keep_once()
    b.start()

    wait_state(store, run_id, RunState.RUNNING)
    b.executor.finish(run_id, ok=True)
    wait_state(store, run_id, RunState.SUCCEEDED)
    a.executor.gate.set()


def test_a_server_that_finds_its_lease_taken_over_stops_its_runs(
    store: SqlJobStore, servers: list[Server], clock: FakeClock
) -> None:
    # It stalled (a pause, a partition) past its TTL: its successor fails and retries the runs
    # it cannot see, so they must not go on executing here as well.
    a, b = servers
    store.create_job(ACCOUNT, job_input(max_retries=1))
    a.keeper.keep_once()
    a.start()
    b.start()
    first = store.create_run(ACCOUNT, "etl", RunInput()).id
    a.scheduler.wake()
    wait_state(store, first, RunState.RUNNING)
    clock.advance(TTL_S)
    b.keeper.keep_once()
    wait_state(store, first, RunState.FAILED)

    a.keeper.keep_once()

    assert a.keeper.fence() is None
    assert (a.executor.stopped, a.executor.knows(first)) == ([first], False)
    assert first in a.executor.forgotten
