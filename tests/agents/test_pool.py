"""WarmPool logic against a fake factory: no Ray, environments start instantly or on a gate."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sluice.agents.config import AgentsConfig, EnvironmentSpec, PoolConfig
from sluice.agents.errors import EnvironmentLost, NoCapacity
from sluice.agents.isolation import IsolationTuple
from sluice.agents.limits import UnenforcedLimits
from sluice.agents.pool import WarmPool
from tests.agents.helpers import wait_until

pytestmark = pytest.mark.unit

A = IsolationTuple("111", "role-a", "subnet-1", "sg-1")
B = IsolationTuple("222", "role-b", "subnet-1", "sg-1")


@dataclass
class FakeHandle:
    environment_id: str
    spec: EnvironmentSpec
    placement_group_id: str = "pg"
    info: None = None
    bound: IsolationTuple | None = None
    dead: bool = False

    def bind(self, isolation: IsolationTuple) -> None:
        if self.dead:
            raise EnvironmentLost("dead")
        if self.bound not in (None, isolation):
            raise AssertionError("an environment was bound to a second tuple")
        self.bound = isolation


@dataclass
class FakeCluster:
    connected: bool = False
    address: str | None = None


@dataclass
class FakeFactory:
    gate: threading.Event = field(default_factory=threading.Event)
    created: list[FakeHandle] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)
    limits: UnenforcedLimits = field(default_factory=lambda: UnenforcedLimits("a fake factory"))

    def __post_init__(self) -> None:
        self.gate.set()

    def create(self, spec: EnvironmentSpec) -> FakeHandle:
        with self.lock:
            handle = FakeHandle(f"env{next(self.ids)}", spec)
            self.created.append(handle)
        return handle

    def start_created(self, handle: FakeHandle) -> None:
        if not self.gate.wait(30):
            raise AssertionError("gate never opened")

    def destroy(self, environment_id: str, placement_group_id: str = "", pids=(), wait=True):
        with self.lock:
            self.destroyed.append(environment_id)

    def await_gone(self, environment_id: str, pids=()) -> bool:
        return True


@pytest.fixture
def factory() -> FakeFactory:
    return FakeFactory()


def make_pool(factory: FakeFactory, **pool: object) -> WarmPool:
    settings = {"maintenance_interval_s": 0.05, "refill_backoff_s": 0.1, **pool}
    config = AgentsConfig(data_dir=Path("/tmp/sl-unit"), pool=PoolConfig(**settings))
    wp = WarmPool(config, FakeCluster(), factory)  # type: ignore[arg-type]
    wp.start()
    return wp


def test_warm_claim_then_refill(factory: FakeFactory) -> None:
    pool = make_pool(factory, size=1)
    try:
        wait_until(lambda: pool.status().warm == 1, 5)
        claim = pool.claim(A)
        assert claim.warm and claim.handle.bound == A
        assert pool.status().busy == 1
        wait_until(lambda: pool.status().warm == 1, 5, what="refill")
        assert len(factory.created) == 2
    finally:
        pool.shutdown()
    assert sorted(factory.destroyed) == ["env0", "env1"]


def test_concurrent_claims_never_share(factory: FakeFactory) -> None:
    pool = make_pool(factory, size=2, max_environments=12)
    try:
        wait_until(lambda: pool.status().warm == 2, 5)
        tuples = [IsolationTuple(str(i), "role") for i in range(10)]
        with ThreadPoolExecutor(max_workers=10) as workers:
            claims = list(workers.map(pool.claim, tuples))
        ids = [c.handle.environment_id for c in claims]
        assert len(set(ids)) == 10
        assert sum(c.warm for c in claims) >= 2
        assert all(c.handle.bound == t for c, t in zip(claims, tuples, strict=True))
    finally:
        pool.shutdown()


def test_bound_environment_serves_only_its_tuple(factory: FakeFactory) -> None:
    pool = make_pool(factory, size=0)
    try:
        first = pool.claim(A)
        assert not first.warm, "an empty pool starts cold"
        pool.release(first.handle.environment_id, healthy=True)
        assert pool.status().bound_idle == 1
        again = pool.claim(A)
        assert again.warm and again.handle is first.handle
        pool.release(again.handle.environment_id, healthy=True)
        other = pool.claim(B)
        assert not other.warm and other.handle is not first.handle
    finally:
        pool.shutdown()


def test_other_spec_starts_cold(factory: FakeFactory) -> None:
    pool = make_pool(factory, size=1)
    try:
        wait_until(lambda: pool.status().warm == 1, 5)
        bigger = EnvironmentSpec(executors=2)
        claim = pool.claim(A, bigger)
        assert not claim.warm and claim.handle.spec == bigger
        assert pool.status().warm == 1
    finally:
        pool.shutdown()


def test_failed_run_destroys_and_idle_ttl_reaps(factory: FakeFactory) -> None:
    pool = make_pool(factory, size=0, idle_ttl_s=0.3)
    try:
        failed = pool.claim(A)
        pool.release(failed.handle.environment_id, healthy=False)
        assert failed.handle.environment_id in factory.destroyed
        idle = pool.claim(A)
        assert idle.handle is not failed.handle
        pool.release(idle.handle.environment_id, healthy=True)
        wait_until(lambda: idle.handle.environment_id in factory.destroyed, 5, what="reaping")
        assert pool.status().bound_idle == 0
    finally:
        pool.shutdown()


def test_capacity_evicts_idle_then_refuses(factory: FakeFactory) -> None:
    pool = make_pool(factory, size=0, max_environments=2)
    try:
        a = pool.claim(A)
        b = pool.claim(B)
        with pytest.raises(NoCapacity):
            pool.claim(IsolationTuple("333", "role"))
        pool.release(a.handle.environment_id, healthy=True)
        c = pool.claim(IsolationTuple("333", "role"))
        assert a.handle.environment_id in factory.destroyed
        assert c.handle is not b.handle
    finally:
        pool.shutdown()


def test_claim_takes_the_environment_being_started(factory: FakeFactory) -> None:
    factory.gate.clear()
    pool = make_pool(factory, size=1)
    try:
        wait_until(lambda: pool.status().starting == 1, 5)
        with ThreadPoolExecutor(max_workers=1) as worker:
            pending = worker.submit(pool.claim, A)
            wait_until(lambda: len(factory.created) == 1, 5)
            factory.gate.set()
            claim = pending.result(timeout=10)
        assert not claim.warm
        assert claim.handle is factory.created[0]
    finally:
        pool.shutdown()


def test_dead_warm_environment_is_replaced(factory: FakeFactory) -> None:
    pool = make_pool(factory, size=1)
    try:
        wait_until(lambda: pool.status().warm == 1, 5)
        factory.created[0].dead = True
        claim = pool.claim(A)
        assert claim.handle is not factory.created[0]
        assert factory.created[0].environment_id in factory.destroyed
    finally:
        pool.shutdown()


def test_size_zero_pool_starts_nothing_until_claimed(factory: FakeFactory) -> None:
    pool = make_pool(factory, size=0)
    try:
        status = pool.status()
        assert (status.warm, status.starting, status.ray_started) == (0, 0, False)
        assert factory.created == []
    finally:
        pool.shutdown()


def test_refill_at_the_limit_evicts_the_longest_idle_bound_environment(
    factory: FakeFactory,
) -> None:
    pool = make_pool(factory, size=1, max_environments=2)
    try:
        wait_until(lambda: pool.status().warm == 1, 5)
        first = pool.claim(A)
        pool.release(first.handle.environment_id, healthy=True)
        wait_until(lambda: pool.status().warm == 1, 5, what="refill")
        second = pool.claim(IsolationTuple("other", "role"))
        pool.release(second.handle.environment_id, healthy=True)
        # Two bound idle environments fill the limit: the older one makes way for a warm one.
        wait_until(lambda: pool.status().warm == 1, 5, what="refill at the limit")
        status = pool.status()
        assert (status.warm, status.bound_idle) == (1, 1)
        assert first.handle.environment_id in factory.destroyed
        assert second.handle.environment_id not in factory.destroyed
    finally:
        pool.shutdown()


@dataclass
class CrowdedFactory(FakeFactory):
    """A cluster with room for `room` environments: create() raises NoCapacity beyond, as a
    placement group the cluster cannot place does (below max_environments)."""

    room: int = 1

    def create(self, spec: EnvironmentSpec) -> FakeHandle:
        with self.lock:
            alive = sum(1 for h in self.created if h.environment_id not in self.destroyed)
            if alive >= self.room:
                raise NoCapacity("the cluster could not place an environment of 2 CPUs in 20 s")
        return super().create(spec)


def test_a_cluster_without_room_evicts_the_longest_idle_environment() -> None:
    factory = CrowdedFactory(room=1)
    pool = make_pool(factory, size=0, max_environments=4)
    try:
        first = pool.claim(A)
        pool.release(first.handle.environment_id, healthy=True)
        assert pool.status().bound_idle == 1

        # Below max_environments, but the cluster has no room: A's idle environment makes way.
        second = pool.claim(B)

        assert factory.destroyed == [first.handle.environment_id]
        assert second.handle.bound == B and not second.warm
        # Nothing idle to evict now: no room is the answer.
        with pytest.raises(NoCapacity):
            pool.claim(A)
        assert factory.destroyed == [first.handle.environment_id]
    finally:
        pool.shutdown()
