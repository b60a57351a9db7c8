"""Lease store contract, and the fenced run changes built on it, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from sluice.common.db import Database
from sluice.common.errors import InvalidInput
from sluice.control_plane.jobs.leases import Fence, Lease, LeaseLost
from sluice.control_plane.jobs.model import RunInput, RunState
from sluice.control_plane.jobs.sql_leases import SqlLeaseStore
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.jobs.store import LaunchClaim
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
TTL_S = 15.0


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("leases")) as db:
        yield db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def leases(database: Database, clock: FakeClock) -> SqlLeaseStore:
    return SqlLeaseStore(database, clock=clock)


@pytest.fixture
def jobs(database: Database, clock: FakeClock) -> SqlJobStore:
    return new_store(database, clock)


@pytest.fixture
def name() -> str:
    """A lease name no other test uses (tests share a database per module)."""
    return f"test.{uuid.uuid4().hex[:12]}"


def race(count: int, action: Callable[[int], T]) -> list[T]:
    """Runs action(i) on count threads released together; their results."""
    barrier = threading.Barrier(count)

    def one(i: int) -> T:
        barrier.wait(timeout=30)
        return action(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def held(lease: Lease | None) -> Lease:
    assert lease is not None
    return lease


# Acquire, renew, release


def test_first_acquire_gets_token_one(leases: SqlLeaseStore, clock: FakeClock, name: str) -> None:
    lease = held(leases.acquire(name, "a", TTL_S))

    assert (lease.name, lease.holder, lease.token) == (name, "a", 1)
    assert (lease.expires_at - clock()).total_seconds() == TTL_S
    assert leases.get(name) == lease


def test_a_held_lease_is_refused_to_others_until_it_expires(
    leases: SqlLeaseStore, clock: FakeClock, name: str
) -> None:
    first = held(leases.acquire(name, "a", TTL_S))
    clock.advance(TTL_S - 1)

    assert leases.acquire(name, "b", TTL_S) is None

    clock.advance(1)
    second = held(leases.acquire(name, "b", TTL_S))
    assert (second.holder, second.token) == ("b", first.token + 1)


def test_renew_extends_and_keeps_the_token(
    leases: SqlLeaseStore, clock: FakeClock, name: str
) -> None:
    first = held(leases.acquire(name, "a", TTL_S))
    clock.advance(TTL_S - 1)

    renewed = held(leases.renew(first, TTL_S))
    clock.advance(TTL_S - 1)

    assert renewed.token == first.token
    assert (renewed.expires_at - first.expires_at).total_seconds() == TTL_S - 1
    assert leases.acquire(name, "b", TTL_S) is None


def test_renew_after_a_takeover_fails(leases: SqlLeaseStore, clock: FakeClock, name: str) -> None:
    first = held(leases.acquire(name, "a", TTL_S))
    clock.advance(TTL_S)
    second = held(leases.acquire(name, "b", TTL_S))

    assert leases.renew(first, TTL_S) is None
    assert leases.get(name) == second


def test_an_expired_lease_nobody_took_can_be_renewed(
    leases: SqlLeaseStore, clock: FakeClock, name: str
) -> None:
    # Fencing is by token: while no one else took it, the holder's writes were never unsafe.
    first = held(leases.acquire(name, "a", TTL_S))
    clock.advance(TTL_S * 2)

    assert held(leases.renew(first, TTL_S)).token == first.token


def test_release_frees_the_lease_at_once(leases: SqlLeaseStore, name: str) -> None:
    first = held(leases.acquire(name, "a", TTL_S))

    assert leases.release(first)
    assert not leases.release(first)
    assert leases.renew(first, TTL_S) is None
    second = held(leases.acquire(name, "b", TTL_S))
    assert second.token == first.token + 1


def test_the_same_holder_reacquiring_starts_a_new_tenure(leases: SqlLeaseStore, name: str) -> None:
    # A restarted server takes its own lease back at once, and fences off its former self.
    first = held(leases.acquire(name, "a", TTL_S))
    again = held(leases.acquire(name, "a", TTL_S))

    assert again.token == first.token + 1
    assert leases.renew(first, TTL_S) is None


def test_tokens_only_grow(leases: SqlLeaseStore, clock: FakeClock, name: str) -> None:
    tokens = []
    for i in range(6):
        lease = held(leases.acquire(name, f"holder-{i}", TTL_S))
        tokens.append(lease.token)
        if i % 2:
            leases.release(lease)
        else:
            clock.advance(TTL_S)
    assert tokens == sorted(set(tokens))


def test_leases_are_independent(leases: SqlLeaseStore, name: str) -> None:
    assert leases.acquire(name + ".one", "a", TTL_S) is not None
    assert held(leases.acquire(name + ".two", "b", TTL_S)).token == 1
    assert leases.get(name + ".three") is None


@pytest.mark.parametrize(
    ("lease_name", "holder", "ttl"),
    [("", "a", TTL_S), ("x" * 129, "a", TTL_S), ("n", "", TTL_S), ("n", "a", 0.0)],
)
def test_bad_arguments(leases: SqlLeaseStore, lease_name: str, holder: str, ttl: float) -> None:
    with pytest.raises(InvalidInput):
        leases.acquire(lease_name, holder, ttl)


def test_racing_first_acquirers_one_wins(leases: SqlLeaseStore, name: str) -> None:
    results = race(THREADS, lambda i: leases.acquire(name, f"holder-{i}", TTL_S))

    winners = [lease for lease in results if lease is not None]
    assert len(winners) == 1
    assert leases.get(name) == winners[0]


def test_racing_takeovers_of_an_expired_lease_one_wins(
    leases: SqlLeaseStore, clock: FakeClock, name: str
) -> None:
    first = held(leases.acquire(name, "old", TTL_S))
    clock.advance(TTL_S)

    results = race(THREADS, lambda i: leases.acquire(name, f"holder-{i}", TTL_S))

    winners = [lease for lease in results if lease is not None]
    assert len(winners) == 1
    assert winners[0].token == first.token + 1


# Fenced run changes


def new_run(jobs: SqlJobStore) -> tuple[str, str]:
    account = new_account()
    jobs.create_job(account, job_input())
    return account, jobs.create_run(account, "etl", RunInput()).id


def test_fenced_transition_by_the_holder(leases: SqlLeaseStore, jobs: SqlJobStore) -> None:
    lease = held(leases.acquire(f"test.{uuid.uuid4().hex}", "a", TTL_S))
    account, run_id = new_run(jobs)

    assert jobs.transition(run_id, {RunState.STARTING}, RunState.RUNNING, fence=lease.fence)
    assert jobs.get_run(account, "etl", run_id).state is RunState.RUNNING


def test_fenced_writes_of_a_replaced_holder_are_refused(
    leases: SqlLeaseStore, jobs: SqlJobStore, clock: FakeClock, name: str
) -> None:
    stale = held(leases.acquire(name, "a", TTL_S))
    clock.advance(TTL_S)
    held(leases.acquire(name, "b", TTL_S))
    account, run_id = new_run(jobs)

    with pytest.raises(LeaseLost):
        jobs.transition(run_id, {RunState.STARTING}, RunState.RUNNING, fence=stale.fence)
    with pytest.raises(LeaseLost):
        jobs.claim_launch(run_id, stale.fence)
    run = jobs.get_run(account, "etl", run_id)
    assert run.state is RunState.STARTING
    # Nothing was claimed either: the new holder launches it as never launched.
    assert jobs.claim_launch(run_id, held(leases.get(name)).fence) is LaunchClaim.CLAIMED


def test_a_fence_of_a_lease_never_acquired_is_refused(jobs: SqlJobStore) -> None:
    _, run_id = new_run(jobs)

    with pytest.raises(LeaseLost):
        jobs.transition(run_id, {RunState.STARTING}, RunState.RUNNING, fence=Fence("test.never", 1))


def test_launch_claims(leases: SqlLeaseStore, jobs: SqlJobStore, clock: FakeClock) -> None:
    name = f"test.{uuid.uuid4().hex}"
    first = held(leases.acquire(name, "a", TTL_S)).fence
    _, run_id = new_run(jobs)

    assert jobs.claim_launch(run_id, first) is LaunchClaim.CLAIMED
    # The same scheduler trying the launch again may.
    assert jobs.claim_launch(run_id, first) is LaunchClaim.CLAIMED

    clock.advance(TTL_S)
    second = held(leases.acquire(name, "b", TTL_S)).fence
    assert jobs.claim_launch(run_id, second) is LaunchClaim.INTERRUPTED
    assert jobs.claim_launch(run_id, second, adopt=True) is LaunchClaim.CLAIMED
    assert jobs.claim_launch(run_id, second) is LaunchClaim.CLAIMED

    assert jobs.transition(run_id, {RunState.STARTING}, RunState.RUNNING, fence=second)
    assert jobs.claim_launch(run_id, second) is LaunchClaim.NOT_STARTING


def test_waiting_clears_the_launch_claim(
    leases: SqlLeaseStore, jobs: SqlJobStore, clock: FakeClock
) -> None:
    # Capacity was unavailable, so nothing executes the run: any holder may launch it later.
    name = f"test.{uuid.uuid4().hex}"
    first = held(leases.acquire(name, "a", TTL_S)).fence
    _, run_id = new_run(jobs)
    assert jobs.claim_launch(run_id, first) is LaunchClaim.CLAIMED
    assert jobs.transition(run_id, {RunState.STARTING}, RunState.WAITING, fence=first)
    assert jobs.transition(run_id, {RunState.WAITING}, RunState.STARTING, fence=first)

    clock.advance(TTL_S)
    second = held(leases.acquire(name, "b", TTL_S)).fence
    assert jobs.claim_launch(run_id, second) is LaunchClaim.CLAIMED


def test_racing_launch_claims_of_two_tenures_one_wins(
    leases: SqlLeaseStore, jobs: SqlJobStore, clock: FakeClock
) -> None:
    name = f"test.{uuid.uuid4().hex}"
    fences = [held(leases.acquire(name, "a", TTL_S)).fence]
    clock.advance(TTL_S)
    fences.append(held(leases.acquire(name, "b", TTL_S)).fence)
    run_ids = [new_run(jobs)[1] for _ in range(4)]

    def claim(i: int) -> list[str]:
        outcomes = []
        for run_id in run_ids:
            try:
                outcomes.append(str(jobs.claim_launch(run_id, fences[i % 2])))
            except LeaseLost:
                outcomes.append("lost")
        return outcomes

    results = race(THREADS, claim)

    stale = [outcome for i, result in enumerate(results) if i % 2 == 0 for outcome in result]
    current = [outcome for i, result in enumerate(results) if i % 2 for outcome in result]
    assert set(stale) == {"lost"}
    assert set(current) == {str(LaunchClaim.CLAIMED)}


def test_release_launches_frees_the_holders_claims_on_queued_runs(
    leases: SqlLeaseStore, jobs: SqlJobStore, clock: FakeClock
) -> None:
    # A server shutting its executor down with nothing running lets its successor launch.
    name = f"test.{uuid.uuid4().hex}"
    first = held(leases.acquire(name, "a", TTL_S)).fence
    _, queued = new_run(jobs)
    _, running = new_run(jobs)
    for run_id in (queued, running):
        assert jobs.claim_launch(run_id, first) is LaunchClaim.CLAIMED
    assert jobs.transition(running, {RunState.STARTING}, RunState.RUNNING, fence=first)

    assert jobs.release_launches(first) >= 1

    clock.advance(TTL_S)
    second = held(leases.acquire(name, "b", TTL_S)).fence
    assert jobs.claim_launch(queued, second) is LaunchClaim.CLAIMED
    with pytest.raises(LeaseLost):
        jobs.release_launches(first)
