"""Upgrade: a data dir of the single-agent era under a server with one sandbox per account.

The old server kept one agent for every account in <data-dir>/agents (its head's record in
agents/ray/cluster.json, no sandbox id) and may have left runs RUNNING on it. The new server
stops that head (nothing of it may outlive its runs) and, as no sandbox has those runs on
record, its reconciler fails them at start with a message saying why: none hangs. No Ray: the
old head is a stand-in process that names the head's temp dir, as Ray's daemons do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sluice.agents.layout import DataLayout
from sluice.common.db import Database
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.jobs.model import CommandName, JobCommand, JobInput, RunInput, RunState
from sluice.control_plane.jobs.reconciler import LOST_MESSAGE
from sluice.control_plane.jobs.runtime import agents_config
from sluice.control_plane.jobs.schema import upgrade_schema
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2
from tests.integration.conftest import authed_channel, start_server, stop_server, wait_until

pytestmark = pytest.mark.integration

ACCOUNT = "000000000000"
WAIT_S = 30.0


def test_runs_of_the_single_agent_era_end_failed_and_its_head_is_stopped(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path / "data")
    config.data_dir.mkdir(mode=0o700)
    db = Database(config.database_url)
    try:
        upgrade_schema(db)
        store = SqlJobStore(db, PageTokenCodec(b"upgrade-test-page-tokens"))
        store.create_job(
            ACCOUNT,
            JobInput(
                name="etl",
                role="arn:sluice:role/etl",
                command=JobCommand(CommandName.GLUEETL, "sluice://scripts/etl.py"),
            ),
        )
        run_id = store.create_run(ACCOUNT, "etl", RunInput()).id
        assert store.transition(run_id, {RunState.STARTING}, RunState.RUNNING)
    finally:
        db.dispose()
    # The old agent's head: its record in <data-dir>/agents, and a process naming its temp dir.
    settings = agents_config(config)
    layout = DataLayout(settings.data_dir)
    layout.ray_dir.mkdir(parents=True)
    layout.cluster_file.write_text(
        json.dumps(
            {
                "address": "127.0.0.1:1",
                "ray_client_port": 2,
                "temp_dir": str(settings.ray_temp_dir),
                "started_at": time.time(),
            }
        )
    )
    old_head = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", str(settings.ray_temp_dir)]
    )
    server = None
    try:
        server = start_server(tmp_path, "--spare-sandboxes", "0")
        assert server.data_dir == config.data_dir
        assert old_head.wait(timeout=WAIT_S) is not None
        assert not layout.cluster_file.exists()
        with authed_channel(server.address) as channel:
            jobs = jobs_pb2_grpc.JobServiceStub(channel)

            def ended() -> types_pb2.JobRun | None:
                run = jobs.GetJobRun(
                    jobs_pb2.GetJobRunRequest(job_name="etl", run_id=run_id)
                ).job_run
                return run if run.job_run_state != types_pb2.JOB_RUN_STATE_RUNNING else None

            run = wait_until(ended, WAIT_S, "the old run to end", interval_s=0.2)
        assert run.job_run_state == types_pb2.JOB_RUN_STATE_FAILED
        assert run.error_message == LOST_MESSAGE
    finally:
        old_head.kill()
        if server is not None:
            stop_server(server.process)
