"""Fixtures of the agents tests: ONE embedded Ray head and ONE small warm pool per session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.agents.config import AgentsConfig, PoolConfig, RayConfig
from sluice.agents.supervisor import RunSupervisor
from tests.agents.helpers import environment_actors, live_placement_groups, wait_until


@pytest.fixture(scope="session")
def agents_config() -> Iterator[AgentsConfig]:
    """A short data dir under /tmp (Ray's unix socket paths must stay short)."""
    data_dir = Path(tempfile.mkdtemp(prefix="sla-", dir="/tmp"))
    yield AgentsConfig(
        data_dir=data_dir,
        ray=RayConfig(num_cpus=16),
        pool=PoolConfig(size=1, max_environments=5, maintenance_interval_s=0.5),
        poll_interval_s=0.25,
        rpc_timeout_s=10.0,
    )
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def supervisor(agents_config: AgentsConfig) -> Iterator[RunSupervisor]:
    """The session's supervisor; at the end, every environment must be gone from the cluster."""
    supervisor = RunSupervisor(agents_config)
    supervisor.start()
    try:
        yield supervisor
    finally:
        supervisor.shutdown(destroy_environments=True)
        try:
            wait_until(
                lambda: not live_placement_groups() and not environment_actors(),
                timeout_s=30,
                what="no environment left on the cluster",
            )
        finally:
            supervisor.cluster.stop()
