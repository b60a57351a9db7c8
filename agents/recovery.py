"""Finding the environments on the cluster after a control-plane restart, and taking them over."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sluice.agents import naming
from sluice.agents.config import PoolConfig
from sluice.agents.environment import EnvironmentHandle
from sluice.agents.host_info import HostInfo, HostPhase
from sluice.agents.lifecycle import EnvironmentFactory
from sluice.agents.pool import SlotState, WarmPool
from sluice.common.errors import SluiceError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundEnvironment:
    """An environment found on the cluster; handle and info are None if its host is gone."""

    environment_id: str
    handle: EnvironmentHandle | None
    info: HostInfo | None


@dataclass(frozen=True)
class ReattachedRun:
    """A run still executing in an environment taken over by the pool."""

    run_id: str
    handle: EnvironmentHandle
    info: HostInfo


def find_environments(factory: EnvironmentFactory) -> list[FoundEnvironment]:
    """Every environment on the cluster (by namespace and placement-group name), described."""
    found = []
    for environment_id in sorted(factory.environment_ids()):
        handle = factory.attach(environment_id)
        info = handle.info if handle is not None else None
        found.append(FoundEnvironment(environment_id, handle, info))
    return found


def take_over(
    factory: EnvironmentFactory, pool: WarmPool, pool_config: PoolConfig, owner: str
) -> list[ReattachedRun]:
    """Adopt owner's usable environments into pool, destroy its others; return runs executing.

    Busy environments keep their run; bound idle ones keep their tuple; ready unbound ones of
    the pool's spec become warm (while the pool has room for them); the rest are destroyed:
    environments caught starting, broken ones, and groups whose host is gone.
    """
    reattached = []
    warm = 0
    for env in find_environments(factory):
        if naming.environment_owner(env.environment_id) != owner:
            continue
        info, handle = env.info, env.handle
        if handle is None or info is None:
            _destroy(factory, env.environment_id, "its host actor is gone")
            continue
        key = info.isolation.key() if info.isolation else ""
        if info.phase.is_usable():
            _confine(factory, env.environment_id, info)
        if info.phase is HostPhase.BUSY and info.current_run_id:
            pool.adopt(handle, SlotState.BUSY, key)
            reattached.append(ReattachedRun(info.current_run_id, handle, info))
        elif info.phase is HostPhase.BOUND:
            pool.adopt(handle, SlotState.BOUND_IDLE, key)
        elif (
            info.phase is HostPhase.READY
            and info.spec == pool_config.spec
            and warm < pool_config.size
        ):
            pool.adopt(handle, SlotState.WARM)
            warm += 1
        else:
            _destroy(factory, env.environment_id, f"it is {info.phase.value}")
    for environment_id in factory.remove_stale_limits(owner):
        logger.info("removed the cgroups of environment %s, gone from the cluster", environment_id)
    return reattached


def _confine(factory: EnvironmentFactory, environment_id: str, info: HostInfo) -> None:
    """Environments of an older agent (or whose executors restarted) get their limits back."""
    try:
        factory.confine(environment_id, info.spec)
    except SluiceError as exc:
        logger.warning("environment %s runs without its limits: %s", environment_id, exc.message)


def _destroy(factory: EnvironmentFactory, environment_id: str, why: str) -> None:
    logger.info("destroying environment %s found on the cluster: %s", environment_id, why)
    factory.destroy(environment_id, wait=True)
