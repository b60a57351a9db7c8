"""Attacks of a job script on its agent, when the head's processes run as an unprivileged user.

A real agent process (`python -m agents.service`, root, the Ray driver) starts its embedded head
as a fresh sandbox user (run_as) in a work area under a 0711 parent; the scripts run in it and
try to read the agent's data dir, its process environment and the control plane's secrets, and
plant links, FIFOs and forged statuses in the work area for the agent to trip on. The agent runs
in a child process: one Ray cluster per process, and the session's head is another.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sluice.agents import head
from sluice.agents.api import AgentSettings, RunLaunch, socket_path
from sluice.agents.client import AgentClient
from sluice.agents.config import AgentsConfig, PoolConfig, RayConfig
from sluice.agents.errors import AgentUnavailable
from sluice.agents.isolation import IsolationTuple
from sluice.agents.layout import layout_of
from sluice.agents.limits import CgroupV1Limits
from sluice.agents.os_users import OsUser, lookup
from sluice.agents.runs import LogStream, RunProgress, RunRequest, RunState
from sluice.agents.spark_session import secret_options_file
from tests.agents.helpers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).parents[2]
TENANT = IsolationTuple("777777777777", "arn:aws:iam::777777777777:role/tenant")
WARM_DEADLINE_S = 300
RUN_DEADLINE_S = 240
SECRET = "TOPSECRET-" + secrets.token_hex(8)

# Reports its uid and what it could read of the agent's; {paths} is filled in by the test.
PROBE = """
import json, os
paths = json.loads({paths!r})
found = {{"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}}
for name, path in paths.items():
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as source:
                source.read(64)
        found[name] = "READ"
    except PermissionError:
        found[name] = "denied"
    except OSError as exc:
        found[name] = "error " + type(exc).__name__
try:
    # Leave the environment's cgroups for the root cgroup: only root may.
    with open("/sys/fs/cgroup/memory/cgroup.procs", "w") as procs:
        procs.write(str(os.getpid()))
    found["cgroup_escape"] = "MOVED"
except PermissionError:
    found["cgroup_escape"] = "denied"
except OSError as exc:
    found["cgroup_escape"] = "error " + type(exc).__name__
found["pid"] = os.getpid()
with open("own.txt", "w") as own:
    own.write("mine")
with open("own.txt") as own:
    found["own_run_dir"] = own.read()
found["cwd"] = os.getcwd()
found["count"] = spark.range(100000).count()
found["executor_uids"] = sorted(set(
    spark.sparkContext.parallelize(range(4), 2).map(lambda _: os.getuid()).collect()
))
print("FOUND " + json.dumps(found), flush=True)
"""

# Plants, next to its own run dir, what the agent reads of other runs: links out of the work
# area, a FIFO, forged and oversized statuses.
PLANT = """
import json, os
runs = os.path.dirname(os.getcwd())
targets = json.loads({targets!r})
def run_dir(name):
    path = os.path.join(runs, name)
    os.makedirs(path, exist_ok=True)
    return path
os.symlink(targets["secret"], os.path.join(run_dir("jr_link_file"), "stdout.log"))
os.symlink(targets["data_dir"], os.path.join(runs, "jr_link_dir"))
os.mkfifo(os.path.join(run_dir("jr_fifo"), "stdout.log"))
os.mkfifo(os.path.join(run_dir("jr_fifo"), "status.json"))
with open(os.path.join(run_dir("jr_forged_types"), "status.json"), "w") as out:
    json.dump({{"run_id": "jr_forged_types", "state": "SUCCEEDED", "started_at": "noon",
               "error_message": ["x"]}}, out)
with open(os.path.join(run_dir("jr_forged_other"), "status.json"), "w") as out:
    json.dump({{"run_id": "jr_someone_else", "state": "SUCCEEDED"}}, out)
with open(os.path.join(run_dir("jr_forged_big"), "status.json"), "w") as out:
    out.write('{{"run_id": "jr_forged_big", "state": "FAILED", "error_message": "')
    out.write("x" * (8 << 20))
    out.write('"}}')
with open(os.path.join(run_dir("jr_forged_ok"), "status.json"), "w") as out:
    json.dump({{"run_id": "jr_forged_ok", "state": "FAILED", "error_message": "forged"}}, out)
print("planted", flush=True)
"""


# Makes the host's next progress answer a pickle that runs a command when unpickled: in the
# agent (root), where Ray's driver reads it, it would create {marker}.
PICKLE_BOMB = """
import gc, os, time

class Bomb:
    def __reduce__(self):
        return (os.system, ("touch {marker}",))

class Forged:
    def to_dict(self):
        return Bomb()

host = next(o for o in gc.get_objects() if type(o).__name__ == "EnvironmentHost")
for run_id in list(host._runs):
    host._runs[run_id] = Forged()
print("armed", flush=True)
time.sleep(60)
"""


@dataclass
class Sandbox:
    config: AgentsConfig
    client: AgentClient
    agent: subprocess.Popen[str]
    user: OsUser


def _stop_agent(client: AgentClient, agent: subprocess.Popen[str], config: AgentsConfig) -> None:
    try:
        client.shutdown(keep_environments=False, timeout_s=60)
        agent.wait(timeout=120)
    except (AgentUnavailable, subprocess.TimeoutExpired):
        agent.kill()
        agent.wait(timeout=30)
    finally:
        client.close()
        if agent.stdin is not None:
            agent.stdin.close()
        # Whatever the agent left of its head (nothing, if it stopped well).
        head.stop(config, timeout_s=15)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    if os.geteuid() != 0:
        pytest.skip("running the head as another OS user needs root")
    parent = Path(tempfile.mkdtemp(prefix="slw-", dir="/tmp"))
    parent.chmod(0o711)
    data_dir = Path(tempfile.mkdtemp(prefix="sld-", dir="/tmp"))
    name = f"sluice-t-{secrets.token_hex(4)}"
    config = AgentsConfig(
        data_dir=data_dir,
        ray=RayConfig(num_cpus=8),
        pool=PoolConfig(size=1, max_environments=2, maintenance_interval_s=0.5),
        poll_interval_s=0.25,
        run_as=name,
        work_dir=parent / "w",
    )
    # The control plane's secrets, where a script must not read them.
    (data_dir / "secret.key").write_text(SECRET)
    (data_dir / "secret.key").chmod(0o600)
    (data_dir / "stdout.log").write_text(SECRET + "\n")
    log = (parent / "agent.log").open("w")
    agent = subprocess.Popen(
        [sys.executable, "-m", "sluice.agents.service"],
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**os.environ, "SLUICE_TOKEN": SECRET},
    )
    assert agent.stdin is not None
    agent.stdin.write(AgentSettings(config, socket_path(data_dir)).to_json() + "\n")
    agent.stdin.flush()
    client = AgentClient(socket_path(data_dir), pool_size=1)
    try:
        wait_until(
            lambda: agent.poll() is not None or client.pool_status().warm >= 1,
            WARM_DEADLINE_S,
            interval_s=1.0,
            what="a warm environment of the sandbox",
        )
        assert agent.poll() is None, (parent / "agent.log").read_text()[-3000:]
        user = lookup(name)
        assert user is not None
        yield Sandbox(config, client, agent, user)
    finally:
        _stop_agent(client, agent, config)
        log.close()
        subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", name], check=False, capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


def _run(sandbox: Sandbox, run_id: str, script: str) -> tuple[RunLaunch, RunProgress]:
    launch = sandbox.client.launch(RunRequest(run_id, script), TENANT)
    return launch, wait_until(
        lambda: (p := sandbox.client.progress(run_id)).state.is_terminal() and p,
        RUN_DEADLINE_S,
        interval_s=0.5,
        what=f"run {run_id} to end",
    )


def _stdout(sandbox: Sandbox, run_id: str) -> str:
    return sandbox.client.read_logs(run_id, {LogStream.STDOUT: 0}).chunks[LogStream.STDOUT].text


def test_every_process_of_the_head_runs_as_the_sandbox_user(sandbox: Sandbox) -> None:
    processes = head.head_processes(sandbox.config)
    assert len(processes) >= 3, "the GCS, the raylet and a host at least"
    owners = {process.pid: process.uids().real for process in processes}
    assert set(owners.values()) == {sandbox.user.uid}, owners
    work = sandbox.config.work_dir
    assert work is not None
    info = work.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (sandbox.user.uid, 0o700)
    token = layout_of(sandbox.config).work_token_file.stat()
    assert (token.st_uid, stat.S_IMODE(token.st_mode)) == (sandbox.user.uid, 0o600)
    data = sandbox.config.data_dir.stat()
    assert data.st_uid == 0 and stat.S_IMODE(data.st_mode) & 0o077 == 0, "data dir loosened"


def test_the_spark_secret_is_on_no_command_line_and_only_the_sandbox_user_reads_it(
    sandbox: Sandbox,
) -> None:
    argument_files = list(
        layout_of(sandbox.config).environments_dir.glob(f"*/{secret_options_file(Path()).name}")
    )
    assert argument_files, "a warm environment has its Spark secret's argument file"
    for path in argument_files:
        info = path.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (sandbox.user.uid, 0o600), path
        secret = path.read_text().strip().partition("=")[2]
        assert len(secret) >= 40
        # /proc/<pid>/cmdline of every process on the machine is readable by any local user.
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes()
            except OSError:  # the process ended
                continue
            assert secret.encode() not in text, cmdline


def test_a_script_reads_nothing_of_the_agent_and_spark_still_works(sandbox: Sandbox) -> None:
    data_dir = sandbox.config.data_dir
    paths = {
        "secret_key": str(data_dir / "secret.key"),
        "data_dir": str(data_dir),
        "cluster_file": str(layout_of(sandbox.config).cluster_file),
        "agent_token": str(layout_of(sandbox.config).token_file),
        "agent_environ": f"/proc/{sandbox.agent.pid}/environ",
        "root_home": "/root",
    }
    launch, progress = _run(sandbox, "jr_probe", PROBE.format(paths=json.dumps(paths)))
    stdout = _stdout(sandbox, "jr_probe")
    assert progress.state is RunState.SUCCEEDED, progress.error_message + stdout
    found = json.loads(next(x for x in stdout.splitlines() if x.startswith("FOUND "))[6:])
    assert found["uid"] == sandbox.user.uid and found["gid"] == sandbox.user.gid
    assert found["groups"] in ([], [sandbox.user.gid]), "root's supplementary groups leaked"
    for name in paths:
        assert found[name] == "denied", (name, found[name])
    assert found["own_run_dir"] == "mine"
    assert Path(found["cwd"]) == layout_of(sandbox.config).run_dir("jr_probe")
    assert found["count"] == 100000
    assert found["executor_uids"] == [sandbox.user.uid]
    assert SECRET not in stdout
    # The agent (root) still confines the head's processes; they cannot leave.
    limits = CgroupV1Limits.below_own_cgroups()
    assert found["pid"] in limits.pids(launch.environment_id)
    assert found["cgroup_escape"] == "denied"


def test_links_fifos_and_forged_statuses_do_not_fool_the_agent(sandbox: Sandbox) -> None:
    targets = {
        "secret": str(sandbox.config.data_dir / "secret.key"),
        "data_dir": str(sandbox.config.data_dir),
    }
    _, progress = _run(sandbox, "jr_plant", PLANT.format(targets=json.dumps(targets)))
    assert progress.state is RunState.SUCCEEDED, progress.error_message + _stdout(
        sandbox, "jr_plant"
    )
    started = time.monotonic()
    # Links out of the work area are not followed: the agent (root) reads no secret for them.
    for run_id in ("jr_link_file", "jr_link_dir", "jr_fifo"):
        assert _stdout(sandbox, run_id) == "", run_id
        assert sandbox.client.progress(run_id).state is RunState.LOST, run_id
    # Statuses that are not a final status of their run are ignored; the agent goes on.
    for run_id in ("jr_forged_types", "jr_forged_other", "jr_forged_big"):
        assert sandbox.client.progress(run_id).state is RunState.LOST, run_id
    # A well-formed status of the sandbox's own run is believed (it only lies about itself).
    forged = sandbox.client.progress("jr_forged_ok")
    assert (forged.state, forged.error_message) == (RunState.FAILED, "forged")
    assert time.monotonic() - started < 30, "a planted file held the agent up"
    assert sandbox.agent.poll() is None
    assert sandbox.client.pool_status().ray_started
    # The agent's own record of a real run is in its private area, out of the script's reach.
    assert layout_of(sandbox.config).final_status_file("jr_plant").exists()


def test_a_pickle_sent_by_the_host_runs_nothing_in_the_agent(sandbox: Sandbox) -> None:
    marker = sandbox.config.data_dir / "pwned"
    started = time.monotonic()
    _, progress = _run(sandbox, "jr_bomb", PICKLE_BOMB.format(marker=marker))
    assert not marker.exists(), "the agent ran job code's pickle as root"
    assert progress.state is RunState.FAILED
    assert "unreadable answer" in progress.error_message, progress.error_message
    assert time.monotonic() - started < 60, "the agent waited for the script to end"
    assert sandbox.agent.poll() is None
    wait_until(
        lambda: sandbox.client.pool_status().warm >= 1,
        WARM_DEADLINE_S,
        interval_s=1.0,
        what="the pool refilled after the environment was destroyed",
    )
