"""A sandbox's agent runs as the sandbox's OS user, in the sandbox's cgroups, and cannot touch
what the server trusts: a real server as root, with a spare sandbox whose agent starts no Ray
(no warm pool), so the module takes seconds.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from sluice.agents import netpolicy, os_users
from sluice.agents.limits import ResourceLimits, SandboxCgroups
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.jobs import sandbox_host
from sluice.control_plane.jobs.agent_process import publish_socket
from sluice.control_plane.jobs.fleet import (
    BINDING_FILE,
    RETIRED_FILE,
    Binding,
    SandboxPlan,
    write_binding,
)
from sluice.control_plane.jobs.runtime import AGENTS_DIR, sandbox_dir
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from tests.integration.conftest import (
    ServerProcess,
    authed_channel,
    start_server,
    stop_server,
    wait_until,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="sandbox users need a server running as root"),
]

# Run as a sandbox's user: try each attack, print one outcome per line.
ATTACKS = """
import os, socket, sys
binding, sandbox_record, other_socket, memory_limit = sys.argv[1:5]
def attempt(name, action):
    try:
        action()
        print(name, "done")
    except OSError as exc:
        print(name, type(exc).__name__)
attempt("write-binding", lambda: open(binding, "w").write('{"account": "x"}'))
attempt("create-in-record", lambda: open(os.path.join(sandbox_record, "x"), "w"))
def connect():
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(other_socket)
attempt("connect-other-agent", connect)
attempt("raise-own-limit", lambda: open(memory_limit, "w").write(str(1 << 40)))
"""


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = start_server(tmp_path_factory.mktemp("privileges"), "--spare-sandboxes", "2")
    yield running
    stop_server(running.process)
    # Spares outlive a server (the next start reuses them): this one's data dir goes away.
    for plan in plans_of(running):
        sandbox_host.dismantle(plan.sandbox_id, plan.os_user, plan.user_dirs)
    shutil.rmtree(sandbox_dir(ServerConfig(data_dir=running.data_dir)), ignore_errors=True)


def plans_of(server: ServerProcess) -> list[SandboxPlan]:
    agents = server.data_dir / AGENTS_DIR
    root = sandbox_dir(ServerConfig(data_dir=server.data_dir))
    return [
        SandboxPlan.of(agents, root, entry.name)
        for entry in sorted(agents.iterdir())
        if entry.name.startswith("sb-")
    ]


def agent_of(plan: SandboxPlan) -> psutil.Process | None:
    for process in psutil.process_iter():
        try:
            if "sluice.agents.service" in " ".join(process.cmdline()) and process.cwd() == str(
                plan.work_dir
            ):
                return process
        except psutil.Error:
            continue
    return None


def test_the_agent_runs_as_the_sandbox_user_in_its_cgroups(sandboxed: ServerProcess) -> None:
    plans = wait_until(lambda: len(plans_of(sandboxed)) == 2 and plans_of(sandboxed), 30, "spares")
    for plan in plans:
        agent = wait_until(lambda plan=plan: agent_of(plan), 30, f"the agent of {plan.sandbox_id}")
        user = os_users.lookup(plan.os_user)
        assert user is not None
        assert agent.uids().real == agent.uids().effective == user.uid
        assert agent.gids().real == user.gid
        # No supplementary group of root's.
        status = Path(f"/proc/{agent.pid}/status").read_text()
        groups = next(line for line in status.splitlines() if line.startswith("Groups:"))
        assert groups.split()[1:] in ([], [str(user.gid)])
        cgroups = SandboxCgroups.below_own_cgroups(sandbox_host.cgroup_name(plan.sandbox_id))
        assert agent.pid in cgroups.pids()
        assert cgroups.limits() is not None
        # Its own dirs are its user's; the server's record of it is root's.
        for directory in plan.user_dirs:
            info = os.stat(directory)
            assert (info.st_uid, oct(info.st_mode & 0o777)) == (user.uid, "0o700")
        record = os.stat(plan.data_dir)
        assert (record.st_uid, oct(record.st_mode & 0o777)) == (0, "0o700")


def test_a_sandbox_user_cannot_rewrite_bindings_reach_another_agent_or_raise_its_limits(
    sandboxed: ServerProcess,
) -> None:
    plans = wait_until(lambda: len(plans_of(sandboxed)) == 2 and plans_of(sandboxed), 30, "spares")
    mine, other = plans
    wait_until(lambda: other.server_socket.exists(), 30, "the other agent's socket")
    user = os_users.lookup(mine.os_user)
    assert user is not None
    memory = SandboxCgroups.below_own_cgroups(sandbox_host.cgroup_name(mine.sandbox_id)).groups[
        "memory"
    ]
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            ATTACKS,
            str(mine.data_dir / BINDING_FILE),
            str(mine.data_dir),
            str(other.server_socket),
            str(memory / "memory.limit_in_bytes"),
        ],
        capture_output=True,
        text=True,
        user=user.uid,
        group=user.gid,
        extra_groups=[],
        cwd="/",
        timeout=60,
        check=True,
    )
    outcomes = dict(line.split() for line in result.stdout.splitlines())
    assert outcomes == {
        "write-binding": "PermissionError",
        "create-in-record": "PermissionError",
        "connect-other-agent": "PermissionError",
        "raise-own-limit": "PermissionError",
    }, result.stderr
    # Root (the server) still reaches the agent.
    with socket.socket(socket.AF_UNIX) as probe:
        assert probe.connect_ex(str(other.server_socket)) == 0


def test_the_server_never_connects_through_a_link_a_sandbox_planted(tmp_path: Path) -> None:
    user = os_users.ensure_user("sluice-sb-0000f00d")
    try:
        agent_dir = tmp_path / "sb-0000f00d.agent"
        agent_dir.mkdir(mode=0o700)
        os.chown(agent_dir, user.uid, user.gid)
        source, target = agent_dir / "agent.sock", tmp_path / "sb-0000f00d.sock"
        # Another sandbox's agent socket, which this sandbox's user would redirect root to.
        victim = tmp_path / "victim.sock"
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(victim))
            source.symlink_to(victim)
            os.chown(source, user.uid, user.gid, follow_symlinks=False)
            with pytest.raises(OSError, match="not a socket"):
                publish_socket(source, target, user.uid)
            assert not target.exists() and victim.exists()
            source.unlink()
        # The agent's own socket, once it serves (0600), is moved where only root writes.
        assert not publish_socket(source, target, user.uid)
        with socket.socket(socket.AF_UNIX) as agent:
            agent.bind(str(source))
            os.chown(source, user.uid, user.gid)
            assert not publish_socket(source, target, user.uid), "not served yet (not 0600)"
            os.chmod(source, 0o600)
            assert publish_socket(source, target, user.uid)
            agent.listen()
            assert not source.exists()
            with socket.socket(socket.AF_UNIX) as client:
                assert client.connect_ex(str(target)) == 0
    finally:
        os_users.remove_user("sluice-sb-0000f00d")


def sandbox_layout(tmp_path: Path, sandbox_id: str) -> tuple[str, tuple[Path, Path]]:
    """A sandbox's OS user and its dirs (work area, agent dir) under a root-owned 0711 root."""
    root = tmp_path / "sb"
    root.mkdir(mode=0o711)
    return f"sluice-{sandbox_id}", (root / sandbox_id, root / f"{sandbox_id}.agent")


def test_a_sandbox_weighs_one_server_thread_on_busy_cpus_and_a_spare_less(tmp_path: Path) -> None:
    sandbox_id = "sb-0000beef"
    os_user, dirs = sandbox_layout(tmp_path, sandbox_id)
    limits = ResourceLimits(memory_bytes=256 << 20, cpus=2.0, pids=64)
    try:
        prepared = sandbox_host.prepare(sandbox_id, os_user, dirs, limits, spare=True)
        assert prepared.cgroups is not None
        shares = prepared.cgroups.groups["cpu"] / "cpu.shares"
        assert int(shares.read_text()) == sandbox_host.SPARE_CPU_SHARES
        # Its quota (what it may use when the CPUs are free) is the sandbox's all along.
        assert prepared.cgroups.limits() == limits
        # Root's file: the spare's user cannot give itself weight.
        assert (shares.stat().st_uid, shares.stat().st_mode & 0o022) == (0, 0)

        sandbox_host.promote(sandbox_id)

        assert int(shares.read_text()) == sandbox_host.SANDBOX_CPU_SHARES
        # A restart of the bound sandbox keeps that weight.
        sandbox_host.prepare(sandbox_id, os_user, dirs, limits)
        assert int(shares.read_text()) == sandbox_host.SANDBOX_CPU_SHARES
    finally:
        sandbox_host.dismantle(sandbox_id, os_user, dirs)


def test_a_retired_sandbox_leaves_no_process_dir_cgroup_policy_or_user(tmp_path: Path) -> None:
    sandbox_id = "sb-0000dead"
    os_user, dirs = sandbox_layout(tmp_path, sandbox_id)
    prepared = sandbox_host.prepare(
        sandbox_id, os_user, dirs, ResourceLimits(memory_bytes=256 << 20, cpus=1.0, pids=64)
    )
    user = prepared.user
    assert user is not None and prepared.cgroups is not None
    netpolicy.apply(user.uid, [netpolicy.Endpoint("127.0.0.1", 5432)])
    left = subprocess.Popen(["sleep", "600"], user=user.uid, group=user.gid, extra_groups=[])
    prepared.cgroups.add(left.pid)
    (dirs[0] / "file").write_text("job output")

    sandbox_host.dismantle(sandbox_id, os_user, dirs)

    # Killed (and reaped by psutil, this process being its parent, hence no exit status here).
    left.wait(timeout=30)
    assert not os_users.processes_of(user.uid)
    assert not any(directory.exists() for directory in dirs)
    assert not any(group.exists() for group in prepared.cgroups.groups.values())
    assert user.uid not in netpolicy.policy_uids()
    assert os_users.lookup(os_user) is None
    # Again (a restart retrying a retired sandbox): nothing left to do, nothing fails.
    sandbox_host.dismantle(sandbox_id, os_user, dirs)


def test_an_idle_bound_sandbox_is_reclaimed_with_its_user(tmp_path: Path) -> None:
    # A sandbox bound to an account that then ran nothing: its record says so at the next start.
    server = start_server(tmp_path, "--spare-sandboxes", "1")
    try:
        (plan,) = wait_until(lambda: plans_of(server), 30, "the spare")
        stop_server(server.process)
        write_binding(plan.data_dir, Binding("123456789012", plan.os_user))
        server = start_server(tmp_path, "--spare-sandboxes", "0", "--sandbox-idle-s", "2")
        wait_until(lambda: (plan.data_dir / RETIRED_FILE).exists(), 60, "the reclaim")
        wait_until(lambda: os_users.lookup(plan.os_user) is None, 30, "the user's removal")
        assert not any(path.exists() for path in (*plan.user_dirs, plan.server_socket))
        assert agent_of(plan) is None
        with authed_channel(server.address) as operator:
            jobs = jobs_pb2_grpc.JobServiceStub(operator)
            pool = jobs.GetPoolStatus(jobs_pb2.GetPoolStatusRequest()).pool_status
        assert plan.sandbox_id not in {s.sandbox_id for s in pool.sandboxes}
    finally:
        stop_server(server.process)
        shutil.rmtree(sandbox_dir(ServerConfig(data_dir=server.data_dir)), ignore_errors=True)
