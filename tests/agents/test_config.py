from __future__ import annotations

from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from sluice.agents.api import AgentSettings
from sluice.agents.config import AgentsConfig, EnvironmentSpec, PoolConfig, RayConfig
from sluice.agents.ports import PortBlock
from sluice.common.errors import InvalidInput

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


def test_run_as_needs_a_separate_work_dir_and_an_embedded_head() -> None:
    work = Path("/tmp/slw/w")
    config = AgentsConfig(data_dir=Path("/tmp/sl"), run_as="sluice-a1", work_dir=work)
    assert config.ray_temp_dir == work / "r"
    assert config.work_area == work
    with pytest.raises(InvalidInput, match="work_dir"):
        AgentsConfig(data_dir=Path("/tmp/sl"), run_as="sluice-a1")
    with pytest.raises(InvalidInput, match="outside"):
        AgentsConfig(data_dir=Path("/tmp/sl"), run_as="sluice-a1", work_dir=Path("/tmp/sl/w"))
    with pytest.raises(InvalidInput, match="outside"):
        AgentsConfig(data_dir=Path("/tmp/w/d"), run_as="sluice-a1", work_dir=Path("/tmp/w"))
    with pytest.raises(InvalidInput, match="existing cluster"):
        AgentsConfig(
            data_dir=Path("/tmp/sl"),
            run_as="sluice-a1",
            work_dir=work,
            ray=RayConfig(address="10.0.0.1:6380"),
        )
    with pytest.raises(InvalidInput, match="inside work_dir"):
        AgentsConfig(
            data_dir=Path("/tmp/sl"),
            run_as="sluice-a1",
            work_dir=work,
            ray=RayConfig(temp_dir=Path("/tmp/sl/t")),
        )
    with pytest.raises(InvalidInput, match="OS user name"):
        AgentsConfig(data_dir=Path("/tmp/sl"), run_as="root", work_dir=work)


def test_without_run_as_a_work_dir_only_moves_the_work_area() -> None:
    config = AgentsConfig(data_dir=Path("/tmp/sl"), work_dir=Path("/tmp/wk"))
    assert (config.work_area, config.ray_temp_dir) == (Path("/tmp/wk"), Path("/tmp/wk/r"))
    assert AgentsConfig(data_dir=Path("/tmp/sl")).work_area == Path("/tmp/sl")
    with pytest.raises(InvalidInput, match="temp dir"):
        AgentsConfig(data_dir=Path("/tmp/sl"), work_dir=Path("/tmp/" + "w" * 40))


def test_agent_settings_carry_every_field_across() -> None:
    config = AgentsConfig(
        data_dir=Path("/tmp/sl"),
        ray=RayConfig(
            auth_token_path=Path("/tmp/tok"),
            num_cpus=5,
            object_store_memory_mb=300,
            include_dashboard=True,
            temp_dir=Path("/tmp/slw/w/t"),
            start_timeout_s=7.0,
            connect_timeout_s=8.0,
            ports=PortBlock(20256),
        ),
        pool=PoolConfig(
            size=2,
            spec=EnvironmentSpec(
                executors=2,
                executor_cores=2,
                executor_memory_mb=600,
                driver_memory_mb=700,
                driver_cpus=2,
            ),
            idle_ttl_s=9.0,
            max_environments=3,
            start_timeout_s=10.0,
            placement_timeout_s=11.0,
            maintenance_interval_s=12.0,
            refill_backoff_s=13.0,
        ),
        poll_interval_s=0.3,
        rpc_timeout_s=14.0,
        teardown_timeout_s=15.0,
        run_as="sluice-a1",
        work_dir=Path("/tmp/slw/w"),
    )
    # Every field differs from its default, so that a field lost on the way shows.
    pairs = [
        (config, AgentsConfig(data_dir=Path("/tmp/other"))),
        (config.ray, RayConfig()),
        (config.pool, PoolConfig()),
        (config.pool.spec, EnvironmentSpec()),
    ]
    same = [
        f.name
        for value, default in pairs
        for f in fields(value)
        if getattr(value, f.name) == getattr(default, f.name)
    ]
    # run_as excludes an address: that one crosses in a config of its own, below.
    assert same == ["address"]
    settings = AgentSettings(config, Path("/tmp/sl/agent/agent.sock"), log_level="DEBUG")
    assert AgentSettings.from_json(settings.to_json()) == settings
    for other in (
        AgentsConfig(data_dir=Path("/tmp/sl")),
        AgentsConfig(data_dir=Path("/tmp/sl"), ray=RayConfig(address="10.0.0.1:6380")),
    ):
        plain = AgentSettings(other, Path("/tmp/s.sock"))
        assert AgentSettings.from_json(plain.to_json()) == plain
