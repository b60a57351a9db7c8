"""The embedded Ray head outlives a SIGKILLed control plane and listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from sluice.agents import head
from sluice.agents.config import AgentsConfig
from sluice.agents.layout import DataLayout, layout_of
from tests.agents import head_child
from tests.agents.helpers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).parents[2]
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def _child(mode: str, data_dir: Path, work_dir: Path | None = None) -> subprocess.Popen[str]:
    extra = [str(work_dir)] if work_dir is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", head_child.__name__, mode, str(data_dir), *extra],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def _listening_addresses(config: AgentsConfig) -> set[str]:
    addresses = set()
    for process in head.head_processes(config):
        try:
            for conn in process.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    addresses.add(conn.laddr.ip)
        except psutil.Error:
            continue
    return addresses


def test_head_survives_a_killed_control_plane_and_is_reattached() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="slh-", dir="/tmp"))
    config = AgentsConfig(data_dir=data_dir)
    layout = DataLayout(data_dir)
    first = _child("connect", data_dir)
    second = None
    try:
        assert first.stdout is not None
        address = json.loads(first.stdout.readline())["address"]
        host, _, port = address.rpartition(":")
        assert host == "127.0.0.1" and int(port) != 6379
        assert stat.S_IMODE(layout.token_file.stat().st_mode) == 0o600
        assert _listening_addresses(config) <= LOOPBACK
        first.kill()
        first.wait(timeout=30)
        assert head.running_record(config) is not None, "the head died with its control plane"

        second = _child("stop", data_dir)
        out, _ = second.communicate(timeout=120)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert lines[0] == {"address": address}, "a new head was started instead of re-attaching"
        assert lines[1]["stopped"] > 0
        wait_until(lambda: not head.head_processes(config), 30, what="the head's processes to end")
        assert head.running_record(config) is None
    finally:
        for child in (first, second):
            if child is not None and child.poll() is None:
                child.kill()
        head.stop(config)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_a_work_dir_takes_what_the_heads_processes_use_out_of_the_data_dir() -> None:
    """Without run_as (this process's user): the head's temp dir and its copy of the token are
    in the work area; the agent's address file, log and token stay in the data dir."""
    data_dir = Path(tempfile.mkdtemp(prefix="slh-", dir="/tmp"))
    work_dir = Path(tempfile.mkdtemp(prefix="slk-", dir="/tmp"))
    config = AgentsConfig(data_dir=data_dir, work_dir=work_dir)
    layout = layout_of(config)
    child = _child("stop", data_dir, work_dir)
    try:
        out, _ = child.communicate(timeout=180)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert lines[1]["stopped"] > 0, out
        assert layout.cluster_file.parent == data_dir / "ray" and layout.head_log.exists()
        assert stat.S_IMODE(layout.token_file.stat().st_mode) == 0o600
        assert layout.work_token_file.read_text() == layout.token_file.read_text()
        assert stat.S_IMODE(layout.work_token_file.stat().st_mode) == 0o600
        sessions = list(config.ray_temp_dir.glob("session_*"))
        assert config.ray_temp_dir == work_dir / "r" and sessions, (
            "Ray's session is in the work area"
        )
        assert not list(data_dir.glob("ray/**/session_*")), "Ray wrote in the data dir"
    finally:
        if child.poll() is None:
            child.kill()
        head.stop(config)
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(work_dir, ignore_errors=True)
