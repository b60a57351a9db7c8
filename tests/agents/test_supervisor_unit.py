"""RunSupervisor without Ray: lazy start and what it answers from the data dir alone."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from sluice.agents.config import AgentsConfig, PoolConfig
from sluice.agents.errors import AgentUnavailable, EnvironmentStartFailed, NoCapacity
from sluice.agents.isolation import IsolationTuple
from sluice.agents.layout import DataLayout
from sluice.agents.run_files import write_status
from sluice.agents.runs import LogStream, RunProgress, RunRequest, RunState
from sluice.agents.supervisor import LOST_RUN_MESSAGE, RunSupervisor

pytestmark = pytest.mark.unit


@pytest.fixture
def lazy_supervisor():
    data_dir = Path(tempfile.mkdtemp(prefix="slu-", dir="/tmp"))
    supervisor = RunSupervisor(AgentsConfig(data_dir=data_dir, pool=PoolConfig(size=0)))
    supervisor.start()
    yield supervisor, DataLayout(data_dir)
    supervisor.shutdown()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_pool_of_zero_does_not_start_ray(lazy_supervisor) -> None:
    supervisor, layout = lazy_supervisor
    status = supervisor.pool_status()
    assert (status.target_size, status.ray_started, status.ray_address) == (0, False, "")
    # The embedded head's node, as root with cgroup v1 (this machine kind): the kernel limits.
    assert status.resource_limits == supervisor.factory.limits.describe()
    assert status.resource_limits.startswith(("enforced: ", "not enforced: "))
    assert not supervisor.cluster.connected
    assert not layout.cluster_file.exists()
    assert supervisor.environments() == []


def test_unknown_run_is_lost(lazy_supervisor) -> None:
    supervisor, _ = lazy_supervisor
    progress = supervisor.progress("jr_never")
    assert progress.state is RunState.LOST and progress.error_message


def test_finished_run_is_read_back_with_its_logs(lazy_supervisor) -> None:
    supervisor, layout = lazy_supervisor
    final = RunProgress("jr_done", RunState.SUCCEEDED, "e", "", 1.0, 1.5, 2.0)
    write_status(layout, final)
    layout.run_log("jr_done", LogStream.STDOUT).write_text("a\nunterminated")
    assert supervisor.progress("jr_done") == final
    # The run is over: the unterminated last line comes too.
    assert supervisor.read_log("jr_done", LogStream.STDOUT).text == "a\nunterminated"
    assert supervisor.read_log("jr_done", LogStream.DRIVER).text == ""
    # What a scheduler's look takes, in one call: the progress and every stream from its offset.
    logs = supervisor.read_logs("jr_done", {LogStream.STDOUT: 2})
    assert logs.progress == final
    assert logs.chunks[LogStream.STDOUT].text == "unterminated"
    assert logs.chunks[LogStream.STDOUT].next_offset == len("a\nunterminated")
    assert logs.chunks[LogStream.DRIVER].text == ""


def test_stopping_an_unknown_run_answers_at_once(lazy_supervisor) -> None:
    """A stop for a run this process does not follow (never launched, or refused for capacity)
    must not wait on the supervisor's own lock."""
    supervisor, _ = lazy_supervisor
    result: list[RunProgress] = []
    stopper = threading.Thread(target=lambda: result.append(supervisor.stop("jr_unknown")))
    stopper.start()
    stopper.join(timeout=5)
    assert not stopper.is_alive(), "stop() of an unknown run deadlocked"
    assert result[0].state is RunState.LOST


def test_a_run_refused_for_capacity_leaves_no_trace(lazy_supervisor, monkeypatch) -> None:
    supervisor, layout = lazy_supervisor

    def no_room(*_args: object, **_kwargs: object) -> None:
        raise NoCapacity("full")

    monkeypatch.setattr(supervisor.pool, "claim", no_room)
    request = RunRequest("jr_full", "print(1)")
    isolation = IsolationTuple("acct", "role")
    for _ in range(2):  # launching again is allowed: nothing was recorded
        with pytest.raises(NoCapacity):
            supervisor.launch(request, isolation)
    assert supervisor.progress("jr_full").state is RunState.LOST
    assert not layout.run_status_file("jr_full").exists()


def test_a_launch_cut_short_by_a_stop_leaves_no_trace(lazy_supervisor, monkeypatch) -> None:
    supervisor, layout = lazy_supervisor
    claiming = threading.Event()

    def starting_until_stopped(*_args: object, **_kwargs: object) -> None:
        # An environment (or Ray) starting while the agent stops: it fails, cut short.
        claiming.set()
        supervisor.shutdown(destroy_environments=True, stop_cluster=False)
        raise EnvironmentStartFailed("the pool dropped the environment while it started")

    monkeypatch.setattr(supervisor.pool, "claim", starting_until_stopped)
    supervisor.begin_stop()
    with pytest.raises(AgentUnavailable):
        supervisor.launch(RunRequest("jr_cut", "print(1)"), IsolationTuple("acct", "role"))

    assert claiming.is_set()
    assert supervisor.progress("jr_cut").state is RunState.LOST
    assert not layout.run_status_file("jr_cut").exists()


def test_lost_runs_are_failed_at_start(lazy_supervisor) -> None:
    # Started executing (a working dir), never finished, and no agent follows it now.
    data_dir = lazy_supervisor[1].data_dir
    layout = DataLayout(data_dir)
    write_status(layout, RunProgress("jr_ended", RunState.SUCCEEDED))
    layout.run_dir("jr_lost").mkdir(parents=True)
    supervisor = RunSupervisor(AgentsConfig(data_dir=data_dir, pool=PoolConfig(size=0)))

    supervisor.start()
    try:
        lost, ended = supervisor.progress("jr_lost"), supervisor.progress("jr_ended")
    finally:
        supervisor.shutdown()

    assert (lost.state, lost.error_message) == (RunState.FAILED, LOST_RUN_MESSAGE)
    assert ended.state is RunState.SUCCEEDED
