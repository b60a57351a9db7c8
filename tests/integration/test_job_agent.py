"""The job agent as its own process, without Ray: the server never imports Ray, the control
plane's client over the agent's socket, restarts, and what is said while no agent answers.

An agent on an embedded cluster with no warm pool starts no Ray until a run needs it, so these
tests take seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.agents.api import AgentSettings, socket_path
from sluice.agents.client import AgentClient
from sluice.agents.config import AgentsConfig, PoolConfig, RayConfig
from sluice.agents.errors import AgentUnavailable
from sluice.agents.isolation import IsolationTuple
from sluice.agents.layout import DataLayout
from sluice.agents.naming import HEAD_MARKER_VAR
from sluice.agents.run_files import write_status
from sluice.agents.runs import LogStream, RunProgress, RunRequest, RunState
from sluice.agents.supervisor import LOST_RUN_MESSAGE
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.jobs.agent_process import AgentProcess
from sluice.control_plane.jobs.agents_executor import AgentsExecutor
from sluice.control_plane.jobs.executor import CapacityUnavailable, ExecutionState, LaunchRequest
from sluice.control_plane.jobs.model import CommandName
from sluice.control_plane.jobs.model import IsolationTuple as RunIsolation
from sluice.control_plane.jobs.runtime import sandbox_dir
from sluice.control_plane.jobs.workers import worker_spec
from tests.integration.conftest import ServerProcess, start_server, stop_server, wait_until

pytestmark = pytest.mark.integration

POLL_S = 0.05
AGENT_TIMEOUT_S = 60.0


@pytest.fixture
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Short: Ray's (unused) temp dir under it must fit a unix socket path.
    return Path(os.path.realpath(tmp_path_factory.mktemp("ag")))


@pytest.fixture
def agent(data_dir: Path) -> Iterator[AgentProcess]:
    """An agent without a warm pool, with a finished run and a lost one in its data dir."""
    config = AgentsConfig(data_dir=data_dir, pool=PoolConfig(size=0))
    layout = DataLayout(data_dir)
    write_status(layout, RunProgress("jr_done", RunState.SUCCEEDED, environment_id="e1"))
    layout.run_log("jr_done", LogStream.STDOUT).write_text("one\ntwo\n")
    # Started executing (its working dir exists) and never finished: lost with its agent.
    layout.run_dir("jr_lost").mkdir(parents=True)
    process = AgentProcess(
        AgentSettings(config, socket_path(data_dir)), min_backoff_s=0.1, max_backoff_s=0.5
    )
    process.start()
    try:
        yield process
    finally:
        process.stop(keep_environments=False, timeout_s=30)


@pytest.fixture(scope="module")
def spare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with one spare sandbox: its agent runs, without Ray (no warm pool)."""
    running = start_server(tmp_path_factory.mktemp("spare"), "--spare-sandboxes", "1")
    yield running
    stop_server(running.process)
    # The sandbox's work area is in the temp dir, not under the test's own.
    shutil.rmtree(sandbox_dir(ServerConfig(data_dir=running.data_dir)), ignore_errors=True)


def answered(agent: AgentProcess) -> bool:
    """Whether an agent answers (a run it knows is not reported RUNNING)."""
    return agent.client.progress("jr_done").state is RunState.SUCCEEDED


def test_the_server_process_never_loads_ray(spare_server: ServerProcess) -> None:
    server = spare_server
    maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    modules = {line.rsplit("/", 1)[-1] for line in maps.splitlines() if ".so" in line}
    assert not [m for m in modules if "_raylet" in m], "the server process loaded Ray"
    agents = [
        child
        for child in _children(server.process.pid)
        if "sluice.agents.service" in " ".join(_cmdline(child))
    ]
    assert len(agents) == 1, "the server runs one job agent: its spare sandbox's"


def test_the_agent_logs_through_the_server(spare_server: ServerProcess) -> None:
    server = spare_server

    def agent_records() -> list[dict[str, object]]:
        lines = [line for line in server.log_text().splitlines() if line.startswith("{")]
        return [r for r in map(json.loads, lines) if r.get("logger") == "sluice.agent"]

    records = wait_until(
        agent_records, AGENT_TIMEOUT_S, "a record of the agent in the log", interval_s=POLL_S
    )

    assert records[0]["msg"].startswith("agent ready"), records[0]
    assert records[0]["agent_pid"] in _children(server.process.pid)


def test_the_client_reads_runs_through_the_agent(agent: AgentProcess) -> None:
    wait_until(lambda: answered(agent), AGENT_TIMEOUT_S, "the agent to answer", interval_s=POLL_S)
    client = agent.client

    logs = client.read_logs("jr_done", {LogStream.STDOUT: 0, LogStream.STDERR: 0})
    lost = client.progress("jr_lost")

    assert logs.chunks[LogStream.STDOUT].text == "one\ntwo\n"
    assert logs.chunks[LogStream.STDERR].text == ""
    assert logs.progress == client.progress("jr_done")
    assert (lost.state, lost.error_message) == (RunState.FAILED, LOST_RUN_MESSAGE)
    assert client.progress("jr_never").state is RunState.LOST
    status = client.pool_status()
    assert (status.target_size, status.warm, status.ray_started) == (0, 0, False)
    assert status.resource_limits.startswith(("enforced: ", "not enforced: "))


def test_a_killed_agent_is_started_again(agent: AgentProcess) -> None:
    wait_until(lambda: answered(agent), AGENT_TIMEOUT_S, "the agent to answer", interval_s=POLL_S)
    first = agent.pid
    assert first is not None

    os.kill(first, signal.SIGKILL)

    wait_until(
        lambda: agent.pid not in (None, first),
        AGENT_TIMEOUT_S,
        "a new agent process",
        interval_s=POLL_S,
    )
    wait_until(
        lambda: answered(agent), AGENT_TIMEOUT_S, "the new agent to answer", interval_s=POLL_S
    )


def test_without_an_agent_nothing_is_decided(agent: AgentProcess, data_dir: Path) -> None:
    wait_until(lambda: answered(agent), AGENT_TIMEOUT_S, "the agent to answer", interval_s=POLL_S)
    assert agent.stop(keep_environments=False, timeout_s=30) == 0
    client = AgentClient(socket_path(data_dir))
    executor = AgentsExecutor(client, PoolConfig().spec)
    request = LaunchRequest(
        run_id="jr_new",
        job_name="job",
        attempt=0,
        command=CommandName.GLUEETL,
        isolation=RunIsolation(account="123456789012", role="r"),
        worker=worker_spec(CommandName.GLUEETL, "G.1X", 2),
        script_location="s3://b/job.py",
        script_text="print(1)",
        arguments={},
        timeout_s=60,
    )

    progress = executor.poll("jr_done")
    with pytest.raises(CapacityUnavailable):
        executor.launch(request)
    with pytest.raises(AgentUnavailable):
        client.stop("jr_done")
    with pytest.raises(AgentUnavailable):
        client.launch(RunRequest("jr_new", "print(1)"), IsolationTuple("1", "r"))

    # A run may well still execute while no agent answers: it is not reported over.
    assert progress is not None and progress.state is ExecutionState.RUNNING
    assert executor.read_logs("jr_done", "").lines == []
    assert not socket_path(data_dir).exists()


def test_an_agent_that_cannot_reach_its_cluster_is_started_again_with_backoff(
    data_dir: Path,
) -> None:
    # Nothing listens on a port just freed: the external cluster is down.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    config = AgentsConfig(data_dir=data_dir, ray=RayConfig(address=address), pool=PoolConfig())
    restarts: list[float] = []
    process = AgentProcess(
        AgentSettings(config, socket_path(data_dir)),
        min_backoff_s=0.1,
        max_backoff_s=0.4,
        on_restart=lambda: restarts.append(time.monotonic()),
    )
    process.start()
    try:
        wait_until(lambda: len(restarts) >= 3, AGENT_TIMEOUT_S, "three restarts", interval_s=POLL_S)
        status = process.client.pool_status()
    finally:
        process.stop(keep_environments=False, timeout_s=30)

    assert (status.ray_started, status.warm) == (False, 0)


@pytest.mark.parametrize("keep", [False, True])
def test_a_stop_without_a_live_agent_stops_the_embedded_head_unless_runs_execute(
    data_dir: Path, keep: bool
) -> None:
    config = AgentsConfig(data_dir=data_dir, pool=PoolConfig(size=0))
    # Slow to restart: the agent killed below stays dead until the stop.
    process = AgentProcess(AgentSettings(config, socket_path(data_dir)), min_backoff_s=60)
    process.start()
    # A stand-in for a process of the embedded head: it carries the head's marker.
    stand_in = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"],
        env={**os.environ, HEAD_MARKER_VAR: str(DataLayout(data_dir).ray_dir)},
    )
    try:
        pid = process.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: process.pid is None, AGENT_TIMEOUT_S, "the agent to die", interval_s=POLL_S
        )

        process.stop(keep_environments=keep, timeout_s=30)

        if keep:
            assert stand_in.poll() is None, "the head of executing runs was stopped"
        else:
            assert stand_in.wait(timeout=30) is not None
    finally:
        stand_in.kill()
        stand_in.wait()


@pytest.mark.parametrize("how", ["stdin closed", "SIGTERM"])
def test_an_agent_exits_when_its_server_is_gone_or_on_sigterm(data_dir: Path, how: str) -> None:
    settings = AgentSettings(
        AgentsConfig(data_dir=data_dir, pool=PoolConfig(size=0)), socket_path(data_dir)
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "sluice.agents.service"],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(settings.to_json().encode() + b"\n")
        process.stdin.flush()
        client = AgentClient(socket_path(data_dir))
        wait_until(
            lambda: client.progress("jr_never").state is RunState.LOST,
            AGENT_TIMEOUT_S,
            "the agent to answer",
            interval_s=POLL_S,
        )

        if how == "SIGTERM":
            process.send_signal(signal.SIGTERM)
        else:
            process.stdin.close()

        assert process.wait(timeout=AGENT_TIMEOUT_S) == 0
        assert not socket_path(data_dir).exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    except OSError:
        return []
