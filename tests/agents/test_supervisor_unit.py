"""RunSupervisor without Ray: lazy start and what it answers from the data dir alone."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from agents.config import AgentsConfig, PoolConfig
from agents.layout import DataLayout
from agents.run_files import write_status
from agents.runs import LogStream, RunProgress, RunState
from agents.supervisor import RunSupervisor

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
