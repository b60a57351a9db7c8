"""A sandbox's cgroups (agents.limits.SandboxCgroups) on this node's real cgroup v1 hierarchy:
made by root and delegated to the sandbox's user, whose unprivileged agent still limits its
environments, and who cannot raise the sandbox's own limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sluice.agents import os_users
from sluice.agents.config import MIB
from sluice.agents.limits import CgroupV1Limits, ResourceLimits, SandboxCgroups

USER = "sluice-t0cgroups"
GROUP = "sluice-t0cgroups-test"


def _usable() -> bool:
    if os.geteuid() != 0:
        return False
    try:
        CgroupV1Limits.below_own_cgroups()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _usable(), reason="needs root and cgroup v1 groups")

# Run as the sandbox's user inside the sandbox's groups: what its agent does (an environment's
# groups below its own, a hog moved in) and what it may not (raise the sandbox's limits).
AS_AGENT = """
import json, os, subprocess, sys
from sluice.agents.limits import CgroupV1Limits, ResourceLimits, MIB
limits = CgroupV1Limits.below_own_cgroups()
from sluice.agents import naming
env = naming.new_environment_id("t0cgroup")
limits.create(env, ResourceLimits(memory_bytes=96 * MIB, cpus=4.0, pids=64))
hog = subprocess.Popen(
    [sys.executable, "-c", "import sys; sys.stdin.read(1); b = b'x' * (400 << 20); print(1)"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
)
limits.add(env, [hog.pid])
hog.stdin.write(b"g"); hog.stdin.close()
code = hog.wait(timeout=60)
parent_quota = limits._parents["cpu"] / "cpu.cfs_quota_us"
child_quota = limits._parents["cpu"] / limits._group("cpu", env).name / "cpu.cfs_quota_us"
outcome = {"hog": code, "child_quota": int(child_quota.read_text())}
try:
    parent_quota.write_text("-1")
    outcome["raise"] = "done"
except OSError as exc:
    outcome["raise"] = type(exc).__name__
try:
    open(limits._parents["memory"].parent / "cgroup.procs", "w").write(str(os.getpid()))
    outcome["escape"] = "done"
except OSError as exc:
    outcome["escape"] = type(exc).__name__
limits.destroy(env)
print(json.dumps(outcome))
"""


@pytest.fixture
def user() -> Iterator[os_users.OsUser]:
    made = os_users.ensure_user(USER)
    yield made
    os_users.kill_processes(made.uid)
    os_users.remove_user(USER)


@pytest.fixture
def sandbox() -> Iterator[SandboxCgroups]:
    groups = SandboxCgroups.below_own_cgroups(GROUP)
    yield groups
    groups.destroy()


def test_the_unprivileged_agent_limits_its_environments_and_not_its_sandbox(
    user: os_users.OsUser, sandbox: SandboxCgroups
) -> None:
    sandbox.create(ResourceLimits(memory_bytes=512 * MIB, cpus=1.5, pids=256), user.uid, user.gid)
    agent = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read(1); exec(sys.stdin.read())"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        user=user.uid,
        group=user.gid,
        extra_groups=[],
        cwd="/",
        text=True,
    )
    sandbox.add(agent.pid)
    assert agent.pid in sandbox.pids()
    out, err = agent.communicate("g" + AS_AGENT, timeout=120)
    assert agent.returncode == 0, err
    outcome = json.loads(out.strip().splitlines()[-1])
    assert outcome == {
        # The kernel's OOM killer ends the hog inside the environment's group.
        "hog": -9,
        # Asked for 4 CPUs, the environment gets its sandbox's 1.5.
        "child_quota": 150_000,
        "raise": "PermissionError",
        "escape": "PermissionError",
    }
    limits = sandbox.limits()
    assert limits == ResourceLimits(memory_bytes=512 * MIB, cpus=1.5, pids=256)


def test_destroy_removes_child_groups_and_kills_what_is_left(
    user: os_users.OsUser, sandbox: SandboxCgroups
) -> None:
    sandbox.create(ResourceLimits(memory_bytes=256 * MIB, cpus=1.0, pids=64), user.uid, user.gid)
    (sandbox.groups["memory"] / "child").mkdir()
    sleeper = subprocess.Popen(["sleep", "600"], user=user.uid, group=user.gid, extra_groups=[])
    sandbox.add(sleeper.pid)
    sandbox.destroy()
    assert sleeper.wait(timeout=30) == -9
    assert not any(group.exists() for group in sandbox.groups.values())
    assert sandbox.limits() is None
