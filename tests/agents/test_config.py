from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from agents.config import AgentsConfig, EnvironmentSpec, PoolConfig, RayConfig
from common.errors import InvalidInput

pytestmark = pytest.mark.unit


def test_defaults_fit_a_small_machine() -> None:
    config = AgentsConfig(data_dir=Path("/tmp/sl"))
    spec = config.pool.spec
    assert (spec.executors, spec.executor_cores, spec.executor_memory_mb) == (1, 1, 512)
    assert config.ray.address is None
    assert config.ray.num_cpus > 2
    # Every environment of the pool's limit fits in the head's logical CPUs.
    assert config.pool.max_environments * spec.logical_cpus <= config.ray.num_cpus
    assert config.ray_temp_dir == Path("/tmp/sl/ray/t")


def test_config_is_frozen() -> None:
    spec = EnvironmentSpec()
    with pytest.raises(FrozenInstanceError):
        spec.executors = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "build",
    [
        lambda: EnvironmentSpec(executors=0),
        lambda: EnvironmentSpec(executor_memory_mb=10),
        lambda: EnvironmentSpec(executor_cores=True),
        lambda: RayConfig(num_cpus=0),
        lambda: RayConfig(address="no-port"),
        lambda: PoolConfig(size=-1),
        lambda: PoolConfig(size=5, max_environments=4),
        lambda: PoolConfig(idle_ttl_s=0),
        lambda: AgentsConfig(data_dir=Path("/tmp/sl"), poll_interval_s=-1),
    ],
)
def test_invalid_settings_are_refused(build) -> None:
    with pytest.raises(InvalidInput):
        build()


def test_long_data_dir_is_refused_for_an_embedded_head() -> None:
    long_dir = Path("/tmp/" + "x" * 60)
    with pytest.raises(InvalidInput, match="temp dir"):
        AgentsConfig(data_dir=long_dir)
    # Fine with a short temp dir, or with an existing cluster.
    AgentsConfig(data_dir=long_dir, ray=RayConfig(temp_dir=Path("/tmp/rt")))
    AgentsConfig(data_dir=long_dir, ray=RayConfig(address="10.0.0.1:6380"))


def test_spec_round_trips_through_dict() -> None:
    spec = EnvironmentSpec(executors=3, executor_cores=2, executor_memory_mb=1024)
    assert EnvironmentSpec.from_dict(spec.to_dict()) == spec
    assert spec.logical_cpus == 3 * 2 + 1
