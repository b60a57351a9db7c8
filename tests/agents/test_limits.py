"""Kernel limits of environments (agents.limits) against real, temporary cgroups of this node."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sluice.agents import naming
from sluice.agents.config import MIB, EnvironmentSpec
from sluice.agents.limits import (
    CONTROLLERS,
    CgroupV1Limits,
    ResourceLimits,
    UnenforcedLimits,
    limits_for,
    node_limits,
)
from tests.agents.helpers import wait_until

OWNER = "t0limits"


def _cgroups() -> CgroupV1Limits | None:
    try:
        return CgroupV1Limits.below_own_cgroups()
    except OSError:
        return None


CGROUPS = _cgroups()
needs_cgroups = pytest.mark.skipif(
    CGROUPS is None, reason="cgroup v1 memory/cpu/pids groups cannot be created here (not root?)"
)


@pytest.fixture
def cgroups() -> Iterator[CgroupV1Limits]:
    assert CGROUPS is not None
    before = CGROUPS.environment_ids()
    yield CGROUPS
    for environment_id in CGROUPS.environment_ids() - before:
        if naming.environment_owner(environment_id) == OWNER:
            CGROUPS.destroy(environment_id)


@pytest.fixture
def environment_id() -> str:
    return naming.new_environment_id(OWNER)


def _python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_limits_cover_heaps_overheads_and_logical_cpus() -> None:
    small = limits_for(EnvironmentSpec())
    assert small.memory_bytes == (1024 + 512 + 384 + 512 + 384) * MIB
    assert small.cpus == 2.0
    big = limits_for(EnvironmentSpec(executors=3, executor_memory_mb=8192, executor_cores=2))
    assert big.memory_bytes == (1024 + 512 + 384 + 3 * (8192 + 819)) * MIB
    assert big.cpus == 7.0
    with pytest.raises(ValueError):
        ResourceLimits(memory_bytes=MIB, cpus=1.0)


def test_existing_cluster_nodes_are_not_limited_and_say_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = node_limits(embedded=False)
    assert not limits.enforced
    assert isinstance(limits, UnenforcedLimits)
    with caplog.at_level(logging.WARNING, logger="sluice.agents.limits"):
        limits.create("t0limits00000000", limits_for(EnvironmentSpec()))
        limits.create("t0limits00000001", limits_for(EnvironmentSpec()))
    warnings = [r for r in caplog.records if "NOT enforced" in r.getMessage()]
    assert len(warnings) == 1, "the missing enforcement is logged once, clearly"
    assert limits.usage("t0limits00000000") is None
    assert limits.add("t0limits00000000", [1]) == []


@needs_cgroups
def test_embedded_node_limits_are_cgroups_below_our_own() -> None:
    limits = node_limits(embedded=True)
    assert limits.enforced
    assert isinstance(limits, CgroupV1Limits)


@needs_cgroups
def test_a_memory_hog_is_killed_inside_its_cgroup(
    cgroups: CgroupV1Limits, environment_id: str
) -> None:
    cgroups.create(environment_id, ResourceLimits(memory_bytes=96 * MIB, cpus=1.0, pids=64))
    # Waits for stdin before allocating, so that it is in the cgroup first.
    hog = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read(1); b = b'x' * (400 << 20); print(1)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert cgroups.add(environment_id, [hog.pid]) == [hog.pid]
    assert cgroups.pids(environment_id) == {hog.pid}
    assert hog.stdin is not None
    hog.stdin.write(b"g")
    hog.stdin.close()
    assert hog.wait(timeout=60) == -9, "the kernel's OOM killer ends the hog"
    usage = cgroups.usage(environment_id)
    assert usage is not None
    assert usage.oom_kills >= 1


@needs_cgroups
def test_a_cpu_hog_is_throttled_and_children_inherit_the_cgroup(
    cgroups: CgroupV1Limits, environment_id: str
) -> None:
    cgroups.create(environment_id, ResourceLimits(memory_bytes=256 * MIB, cpus=0.1, pids=64))
    parent = _python(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    try:
        cgroups.add(environment_id, [parent.pid])
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert child in cgroups.pids(environment_id), "a child forked later is inside too"
        usage = wait_until(
            lambda: (u := cgroups.usage(environment_id)) and u.nr_throttled > 0 and u,
            timeout_s=30,
            what="the hog to be throttled",
        )
        assert usage.nr_throttled > 0
    finally:
        cgroups.destroy(environment_id)
    assert parent.wait(timeout=10) == -9, "destroy kills what is left in the cgroup"
    assert environment_id not in cgroups.environment_ids()


@needs_cgroups
def test_too_many_threads_fail_past_the_pids_limit(
    cgroups: CgroupV1Limits, environment_id: str
) -> None:
    cgroups.create(environment_id, ResourceLimits(memory_bytes=256 * MIB, cpus=1.0, pids=32))
    spawner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, threading, time\n"
            "sys.stdin.read(1)\n"
            "n = 0\n"
            "try:\n"
            "    for _ in range(100):\n"
            "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
            "        n += 1\n"
            "except RuntimeError:\n"
            "    pass\n"
            "print(n, flush=True)\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    cgroups.add(environment_id, [spawner.pid])
    out, _ = spawner.communicate(b"g", timeout=30)
    assert int(out) < 32


@needs_cgroups
def test_create_is_idempotent_and_destroy_removes_every_controller(
    cgroups: CgroupV1Limits, environment_id: str
) -> None:
    cgroups.create(environment_id, ResourceLimits(memory_bytes=256 * MIB, cpus=1.5, pids=64))
    cgroups.create(environment_id, ResourceLimits(memory_bytes=512 * MIB, cpus=2.0, pids=128))
    assert environment_id in cgroups.environment_ids()
    groups = [cgroups._group(c, environment_id) for c in CONTROLLERS]
    memory, cpu, pids = groups
    assert int((memory / "memory.limit_in_bytes").read_text()) == 512 * MIB
    assert int((cpu / "cpu.cfs_quota_us").read_text()) == 200_000
    assert int((pids / "pids.max").read_text()) == 128
    assert cgroups.add(environment_id, [2**22 + 7]) == [], "a gone process is skipped"
    cgroups.destroy(environment_id)
    cgroups.destroy(environment_id)
    assert not any(group.exists() for group in groups)
    assert cgroups.usage(environment_id) is None
