"""Port blocks (agents.ports): the layout of a sandbox's ports, and their machine-wide claims."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from sluice.agents import ports
from sluice.agents.ports import PortBlock, PortRegistry, block_count, spark_ports
from sluice.agents.spark_session import port_configs
from sluice.common.errors import InternalError, InvalidInput

pytestmark = pytest.mark.unit


def any_port(_block: PortBlock) -> bool:
    """A probe that finds every block free (this machine's own sandboxes use the real range)."""
    return True


def _option_ports(options: list[str]) -> dict[str, int]:
    return {name: int(value) for name, _, value in (o.partition("=") for o in options)}


def test_every_ray_port_is_distinct_and_in_the_block() -> None:
    block = PortBlock(20256)
    options = _option_ports(block.ray_start_options(dashboard=True))
    env = block.ray_environment()
    fixed = [
        *(port for name, port in options.items() if "worker-port" not in name),
        int(env["AUTOSCALER_METRIC_PORT"]),
        int(env["DASHBOARD_METRIC_PORT"]),
    ]
    low, high = options["--min-worker-port"], options["--max-worker-port"]
    spark_first, spark_last = spark_ports(env) or (0, 0)

    assert len(set(fixed)) == len(fixed) == 11
    assert all(block.first <= port < low for port in fixed)
    assert block.first < low < high < spark_first <= spark_last == block.last == 20511
    assert options["--port"] == block.gcs == 20256
    assert high - low + 1 == 128
    assert "--dashboard-port" not in _option_ports(block.ray_start_options(dashboard=False))


def test_spark_ports_stay_in_the_block() -> None:
    block = PortBlock(20000)
    first, last = spark_ports(block.ray_environment()) or (0, 0)
    configs = port_configs((first, last))

    for key in ("spark.driver.port", "spark.blockManager.port", "spark.driver.blockManager.port"):
        assert int(configs[key]) == first
    # Spark tries port, port + 1, ... port + maxRetries.
    assert first + int(configs["spark.port.maxRetries"]) == last == block.last
    assert port_configs(None) == {}


@pytest.mark.parametrize("value", ["", "20000", "a-b", "20-10", "-5"])
def test_malformed_spark_ports_are_none(value: str) -> None:
    assert spark_ports({ports.SPARK_PORTS_VAR: value}) is None


@pytest.mark.parametrize(("first", "size"), [(80, 256), (65500, 256), (20000, 255), (True, 256)])
def test_bad_blocks_are_invalid_input(first: int, size: int) -> None:
    with pytest.raises(InvalidInput):
        PortBlock(first, size)


def test_the_default_range_holds_blocks_between_ray_workers_and_ephemeral_ports() -> None:
    assert ports.RANGE_FIRST > 19999 and ports.RANGE_LAST < 32768
    assert block_count() == 49


def test_claims_are_disjoint_kept_and_given_again_when_their_sandbox_is_gone(
    tmp_path: Path,
) -> None:
    registry = PortRegistry(tmp_path / "registry", 20000, 20767, is_free=any_port)
    a, b, c = (tmp_path / name for name in "abc")
    for path in (a, b, c):
        path.mkdir()

    block_a, block_b, block_c = (registry.claim(path) for path in (a, b, c))

    assert [block.first for block in (block_a, block_b, block_c)] == [20000, 20256, 20512]
    # A restarted server finds the same blocks, even through a second registry object.
    assert PortRegistry(tmp_path / "registry", 20000, 20767, is_free=any_port).claim(b) == block_b
    with pytest.raises(InternalError, match="no free port block"):
        registry.claim(tmp_path / "d")
    os.rmdir(b)
    assert registry.claim(tmp_path / "d") == block_b
    assert registry.held(b) is None
    registry.release(a)
    assert registry.held(a) is None and registry.held(c) == block_c
    info = os.stat(tmp_path / "registry")
    assert info.st_mode & 0o777 == 0o700
    claim = json.loads((tmp_path / "registry" / "2.json").read_text())
    assert claim == {"sandbox": str(c), "first": 20512}


def test_a_block_whose_fixed_ports_are_taken_is_skipped(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        first = port - 3

        def probe(block: PortBlock) -> bool:
            # The real probe for the block holding the taken port; the next block is near the
            # ephemeral range, where any busy machine may hold one of its fixed ports.
            return ports.fixed_ports_free(block) if block.first == first else True

        registry = PortRegistry(tmp_path / "registry", first, first + 511, is_free=probe)
        (tmp_path / "a").mkdir()

        assert registry.claim(tmp_path / "a").first == port - 3 + 256


def test_an_unreadable_claim_keeps_its_block(tmp_path: Path) -> None:
    registry = PortRegistry(tmp_path / "registry", 20000, 20511, is_free=any_port)
    (tmp_path / "registry").mkdir(mode=0o700)
    (tmp_path / "registry" / "0.json").write_text("not json")
    (tmp_path / "a").mkdir()

    assert registry.claim(tmp_path / "a").first == 20256


def test_a_registry_others_may_write_is_refused(tmp_path: Path) -> None:
    (tmp_path / "registry").mkdir(mode=0o777)
    os.chmod(tmp_path / "registry", 0o777)

    with pytest.raises(InternalError, match="private"):
        PortRegistry(tmp_path / "registry").claim(tmp_path)


def test_the_head_takes_every_port_from_its_block_or_free_ones_without() -> None:
    from sluice.agents import head

    block = PortBlock(20512)
    assert head._port_options(block, dashboard=False) == block.ray_start_options(False)
    free = _option_ports(head._port_options(None, dashboard=True))
    assert set(free) == {
        "--port",
        "--ray-client-server-port",
        "--dashboard-agent-listen-port",
        "--dashboard-port",
    }
    assert 6379 not in free.values()


def test_claiming_a_block_takes_milliseconds(tmp_path: Path) -> None:
    registry = PortRegistry(tmp_path / "registry", is_free=lambda _block: False)
    (tmp_path / "a").mkdir()
    started = time.perf_counter()
    # The worst case: every block probed (and found busy).
    with pytest.raises(InternalError):
        registry.claim(tmp_path / "a")
    assert time.perf_counter() - started < 0.5
