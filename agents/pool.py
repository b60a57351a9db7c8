"""The warm pool: unbound environments started ahead, and the bound environments between runs.

Claims are atomic: an environment leaves the pool's free lists under the pool's lock, so two
concurrent claims never get the same one. A bound environment serves only its tuple; it returns
to the pool after a successful run and is destroyed after a failed one or after idle_ttl_s.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

from sluice.agents.api import PoolStatus
from sluice.agents.cluster import RayCluster
from sluice.agents.config import AgentsConfig, EnvironmentSpec
from sluice.agents.environment import EnvironmentHandle
from sluice.agents.errors import EnvironmentStartFailed, NoCapacity
from sluice.agents.isolation import IsolationTuple
from sluice.agents.lifecycle import EnvironmentFactory
from sluice.common.errors import SluiceError

logger = logging.getLogger(__name__)

_CLAIM_ATTEMPTS = 3


class SlotState(StrEnum):
    """Where an environment is, as the pool sees it."""

    STARTING = "STARTING"
    WARM = "WARM"
    BOUND_IDLE = "BOUND_IDLE"
    BUSY = "BUSY"


@dataclass(frozen=True)
class Claim:
    """An environment bound to a claim's tuple; warm says whether it was started before."""

    handle: EnvironmentHandle
    warm: bool


@dataclass(eq=False)
class _Slot:
    spec: EnvironmentSpec
    state: SlotState
    handle: EnvironmentHandle | None = None
    isolation_key: str = ""
    idle_since: float = field(default_factory=time.monotonic)
    # Set once a STARTING slot is started (handle set) or failed (error set).
    ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    # Started by the pool's refill (else by a cold claim, in the claiming thread).
    for_pool: bool = False
    # A claim took this slot while it was STARTING and waits for it.
    claimed: bool = False


class WarmPool:
    """Keeps config.pool.size warm environments and every bound environment of the process.

    Thread-safe. claim() blocks while an environment starts (tens of seconds when cold); the
    other methods return quickly. Background threads refill the pool, reap idle environments
    and finish destroying environments.
    """

    def __init__(self, config: AgentsConfig, cluster: RayCluster, factory: EnvironmentFactory):
        self._config = config
        self._pool_config = config.pool
        self._cluster = cluster
        self._factory = factory
        self._lock = threading.Condition()
        self._slots: list[_Slot] = []
        self._stopping = False
        self._refill_not_before = 0.0
        self._maintainer: threading.Thread | None = None
        self._background = ThreadPoolExecutor(max_workers=3, thread_name_prefix="pool")

    def start(self) -> None:
        """Begin maintenance: refill (connecting Ray now if size > 0) and idle reaping."""
        with self._lock:
            if self._maintainer is not None:
                return
            self._maintainer = threading.Thread(
                target=self._maintain, name="pool-maintainer", daemon=True
            )
            self._maintainer.start()

    def claim(self, isolation: IsolationTuple, spec: EnvironmentSpec | None = None) -> Claim:
        """An environment bound to isolation, of the given spec (default: the pool's).

        Reuses an idle environment already bound to isolation, else takes a warm one, else
        takes one still starting for the pool, else starts one cold (blocking).

        Raises:
            NoCapacity: max_environments are alive and none can be evicted, or the cluster has
                no room.
            EnvironmentStartFailed: a cold environment failed to start.
        """
        wanted = spec or self._pool_config.spec
        last_error: SluiceError | None = None
        for _ in range(_CLAIM_ATTEMPTS):
            slot, warm, evicted = self._take(isolation.key(), wanted)
            for victim in evicted:
                self._destroy_slot(victim)
            try:
                handle = self._ready_handle(slot)
                handle.bind(isolation)
            except Exception as exc:
                self._forget(slot)
                self._destroy_slot(slot)
                if isinstance(exc, NoCapacity) and not slot.for_pool and self._evict_idle():
                    # The cluster had no room (a node lost, or idle environments holding its
                    # resources): the longest idle environment made way; try again.
                    last_error = exc
                    continue
                # Retry only what a fresh environment may fix: a pooled one that died or failed.
                if (not slot.for_pool and not warm) or not isinstance(exc, SluiceError):
                    raise
                if isinstance(exc, NoCapacity):
                    raise
                last_error = exc
                continue
            with self._lock:
                slot.state = SlotState.BUSY
                slot.isolation_key = isolation.key()
                self._lock.notify_all()
            return Claim(handle, warm)
        raise last_error or NoCapacity("no environment could be claimed")

    def release(self, environment_id: str, healthy: bool) -> None:
        """Give back a claimed environment: kept bound and idle if healthy, else destroyed."""
        with self._lock:
            slot = self._find(environment_id)
            if slot is None:
                return
            if healthy and not self._stopping:
                slot.state = SlotState.BOUND_IDLE
                slot.idle_since = time.monotonic()
                return
            self._slots.remove(slot)
            self._lock.notify_all()
        self._destroy_slot(slot)

    def discard(self, environment_id: str) -> None:
        """Destroy an environment now (stop, timeout): its host dies at once."""
        self.release(environment_id, healthy=False)

    def adopt(self, handle: EnvironmentHandle, state: SlotState, isolation_key: str = "") -> None:
        """Take over an environment found on the cluster (after a control-plane restart)."""
        slot = _Slot(spec=handle.spec, state=state, handle=handle, isolation_key=isolation_key)
        slot.ready.set()
        with self._lock:
            self._slots.append(slot)
            self._lock.notify_all()

    def status(self) -> PoolStatus:
        """Counts of environments by state."""
        with self._lock:
            counts = {state: 0 for state in SlotState}
            for slot in self._slots:
                counts[slot.state] += 1
        return PoolStatus(
            target_size=self._pool_config.size,
            warm=counts[SlotState.WARM],
            starting=counts[SlotState.STARTING],
            bound_idle=counts[SlotState.BOUND_IDLE],
            busy=counts[SlotState.BUSY],
            ray_started=self._cluster.connected,
            ray_address=self._cluster.address or "",
            resource_limits=self._factory.limits.describe(),
        )

    def environment_ids(self) -> dict[str, SlotState]:
        """The pool's started environments and their states."""
        with self._lock:
            return {
                slot.handle.environment_id: slot.state
                for slot in self._slots
                if slot.handle is not None
            }

    def shutdown(self, destroy: bool = True) -> None:
        """Stop maintenance and wait for the pool's threads.

        With destroy, every environment of the pool is destroyed; without, only those still
        starting are (the others stay, for a restarted process to take over).
        """
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
            slots = [s for s in self._slots if destroy or s.state is SlotState.STARTING]
            for slot in slots:
                self._slots.remove(slot)
        if self._maintainer is not None:
            self._maintainer.join()
        for slot in slots:
            self._destroy_slot(slot)
        self._background.shutdown(wait=True)

    def _take(self, key: str, spec: EnvironmentSpec) -> tuple[_Slot, bool, list[_Slot]]:
        """Under the lock: pick the slot for a claim; returns (slot, warm, slots to destroy)."""
        with self._lock:
            if self._stopping:
                raise NoCapacity("the pool is shutting down")
            for state in (SlotState.BOUND_IDLE, SlotState.WARM):
                for slot in self._slots:
                    if (
                        slot.state is state
                        and slot.spec == spec
                        and (state is SlotState.WARM or slot.isolation_key == key)
                    ):
                        slot.state = SlotState.BUSY
                        self._lock.notify_all()
                        return slot, True, []
            for slot in self._slots:
                if slot.state is SlotState.STARTING and not slot.claimed and slot.spec == spec:
                    slot.claimed = True
                    self._lock.notify_all()
                    return slot, False, []
            evicted = self._make_room()
            slot = _Slot(spec=spec, state=SlotState.STARTING, claimed=True)
            self._slots.append(slot)
            self._lock.notify_all()
            return slot, False, evicted

    def _evict_idle(self) -> bool:
        """Destroy the longest idle environment (a bound one before a warm one), to free its
        resources on the cluster; False if none is idle."""
        with self._lock:
            idle = [s for s in self._slots if s.state in (SlotState.BOUND_IDLE, SlotState.WARM)]
            if not idle:
                return False
            victim = min(idle, key=lambda s: (s.state is SlotState.WARM, s.idle_since))
            self._slots.remove(victim)
            self._lock.notify_all()
        logger.info("the cluster has no room: evicting idle environment to make some")
        self._destroy_slot(victim)
        return True

    def _make_room(self) -> list[_Slot]:
        """Under the lock: free one place if the pool is full, evicting the longest idle."""
        if len(self._slots) < self._pool_config.max_environments:
            return []
        idle = [s for s in self._slots if s.state in (SlotState.BOUND_IDLE, SlotState.WARM)]
        if not idle:
            raise NoCapacity(
                f"all {self._pool_config.max_environments} environments are busy or starting"
            )
        victim = min(idle, key=lambda s: (s.state is SlotState.WARM, s.idle_since))
        self._slots.remove(victim)
        return [victim]

    def _ready_handle(self, slot: _Slot) -> EnvironmentHandle:
        if slot.handle is not None and slot.ready.is_set():
            return slot.handle
        if not slot.for_pool:
            handle = self._start_into(slot)
            slot.ready.set()
            return handle
        if not slot.ready.wait(self._pool_config.start_timeout_s):
            raise EnvironmentStartFailed(
                f"the pool's environment did not start in {self._pool_config.start_timeout_s} s"
            )
        if slot.handle is None:
            if isinstance(slot.error, SluiceError):
                raise slot.error
            raise EnvironmentStartFailed(f"the pool's environment failed to start: {slot.error}")
        return slot.handle

    def _maintain(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
                expired = self._expired_slots()
                refill, evicted = self._refill_slot()
            for slot in [*expired, *evicted]:
                self._destroy_slot(slot)
            if refill is not None:
                self._background.submit(self._refill, refill)
            with self._lock:
                if self._stopping:
                    return
                self._lock.wait(self._pool_config.maintenance_interval_s)

    def _expired_slots(self) -> list[_Slot]:
        """Under the lock: remove and return bound environments idle beyond the TTL."""
        limit = time.monotonic() - self._pool_config.idle_ttl_s
        expired = [
            s for s in self._slots if s.state is SlotState.BOUND_IDLE and s.idle_since < limit
        ]
        for slot in expired:
            self._slots.remove(slot)
        return expired

    def _refill_slot(self) -> tuple[_Slot | None, list[_Slot]]:
        """Under the lock: a new STARTING slot if the pool lacks warm ones (one at a time), and
        the environments evicted to make room for it.

        At the limit, the longest idle bound environment makes way: a warm environment serves
        any new tuple at once, an idle bound one only its own tuple's next run.
        """
        if self._pool_config.size == 0 or time.monotonic() < self._refill_not_before:
            return None, []
        if any(s.for_pool and not s.ready.is_set() for s in self._slots):
            return None, []
        spare = sum(
            1
            for s in self._slots
            if s.spec == self._pool_config.spec
            and (s.state is SlotState.WARM or (s.state is SlotState.STARTING and not s.claimed))
        )
        if spare >= self._pool_config.size:
            return None, []
        evicted: list[_Slot] = []
        if len(self._slots) >= self._pool_config.max_environments:
            idle = [s for s in self._slots if s.state is SlotState.BOUND_IDLE]
            if not idle:
                return None, []
            victim = min(idle, key=lambda s: s.idle_since)
            self._slots.remove(victim)
            evicted.append(victim)
        slot = _Slot(spec=self._pool_config.spec, state=SlotState.STARTING, for_pool=True)
        self._slots.append(slot)
        return slot, evicted

    def _start_into(self, slot: _Slot) -> EnvironmentHandle:
        """Start an environment for slot, its handle set (so it can be killed) while it starts."""
        handle = self._factory.create(slot.spec)
        with self._lock:
            slot.handle = handle
            abandoned = self._stopping or slot not in self._slots
        if abandoned:
            self._destroy_slot(slot)
            raise EnvironmentStartFailed("the pool dropped the environment while it started")
        self._factory.start_created(handle)
        return handle

    def _refill(self, slot: _Slot) -> None:
        started = time.monotonic()
        try:
            handle = self._start_into(slot)
        except Exception as exc:
            logger.warning("warm environment failed to start: %s", exc)
            self._destroy_slot(slot)
            with self._lock:
                slot.error = exc
                if slot in self._slots:
                    self._slots.remove(slot)
                self._refill_not_before = time.monotonic() + self._pool_config.refill_backoff_s
                slot.ready.set()
                self._lock.notify_all()
            return
        with self._lock:
            slot.handle = handle
            abandoned = self._stopping or slot not in self._slots
            if not abandoned and not slot.claimed:
                slot.state = SlotState.WARM
                slot.idle_since = time.monotonic()
            slot.ready.set()
            self._lock.notify_all()
        logger.info(
            "warm environment %s ready in %.1f s",
            handle.environment_id,
            time.monotonic() - started,
        )
        if abandoned:
            self._destroy_slot(slot)

    def _find(self, environment_id: str) -> _Slot | None:
        for slot in self._slots:
            if slot.handle is not None and slot.handle.environment_id == environment_id:
                return slot
        return None

    def _forget(self, slot: _Slot) -> None:
        with self._lock:
            if slot in self._slots:
                self._slots.remove(slot)
            self._lock.notify_all()

    def _destroy_slot(self, slot: _Slot) -> None:
        """Kill the environment now; finish its teardown (waiting, files) in the background."""
        handle = slot.handle
        if handle is None:
            return
        info = handle.info
        pids = (info.host_pid, info.driver_pid) if info else ()
        logger.info("destroying environment %s", handle.environment_id)
        try:
            self._factory.destroy(handle.environment_id, handle.placement_group_id, wait=False)
        except Exception as exc:
            logger.warning("environment %s teardown failed: %s", handle.environment_id, exc)
            return
        try:
            self._background.submit(self._factory.await_gone, handle.environment_id, pids)
        except RuntimeError:
            self._factory.await_gone(handle.environment_id, pids)
