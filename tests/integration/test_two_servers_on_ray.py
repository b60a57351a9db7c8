"""Two real servers on one PostgreSQL database running jobs on one shared Ray cluster: the
scheduler lease's holder launches a run, is killed (SIGKILL) while the run executes, and the
other server takes the runs over and drives that run to its end without launching it again.

Slow (a Ray head and a cold Spark environment); test_two_servers.py is the fast version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest

from sluice.agents import naming
from sluice.common.db import Database
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.jobs.model import (
    CommandName,
    JobCommand,
    JobInput,
    JobRun,
    RunState,
)
from sluice.control_plane.jobs.reconciler import LOST_MESSAGE
from sluice.control_plane.jobs.runtime import SCHEDULER_LEASE
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from tests.integration.conftest import (
    PG_ADMIN_URL,
    ServerProcess,
    authed_channel,
    free_port,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACCOUNT = "000000000000"
LEASE_TTL_S = 3.0
# A cold environment may take a minute or two on a busy two-core machine.
RUN_START_S = 180.0
TAKEOVER_S = LEASE_TTL_S * 4 / 3 + 15.0
RAY_START_S = 120.0
# Every process of the test's Ray head carries this variable, so that only they are stopped.
MARKER = "SLUICE_TEST_TWO_SERVERS_HEAD"

# Records each launch in a file outside both servers, then keeps running.
SCRIPT = """
import sys, time
from sluice.sdk.args import getResolvedOptions

args = getResolvedOptions(sys.argv, ["JOB_RUN_ID", "out"])
with open(args["out"], "a") as out:
    out.write(args["JOB_RUN_ID"] + "\\n")
print("launched", flush=True)
time.sleep(600)
"""


@dataclass
class Cluster:
    address: str
    marker: str


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A Ray head of this test's own on free ports (6379 is Redis's here)."""
    temp_dir = Path(tempfile.mkdtemp(prefix="sl2-", dir="/tmp"))
    port = free_port()
    marker = uuid.uuid4().hex
    tmp = temp_dir / "tmp"
    tmp.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
        MARKER: marker,
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_TMPDIR": str(tmp),
        "TMPDIR": str(tmp),
        "JAVA_TOOL_OPTIONS": f"-Djava.io.tmpdir={tmp} -XX:-UsePerfData",
    }
    command = [
        sys.executable,
        "-m",
        "ray.scripts.scripts",
        "start",
        "--head",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--num-cpus=8",
        f"--object-store-memory={256 * 1024 * 1024}",
        f"--temp-dir={temp_dir / 'ray'}",
        f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    try:
        result = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=RAY_START_S,
            start_new_session=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        yield Cluster(f"127.0.0.1:{port}", marker)
    finally:
        _stop_head(marker)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _stop_head(marker: str) -> None:
    """Kills the processes of the test's head (found by their marker), and only those."""
    mine = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARKER) == marker:
                mine.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    for process in mine:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(mine, timeout=30)


@dataclass
class Site:
    schema: str
    servers: list[ServerProcess]
    store: SqlJobStore


@pytest.fixture
def site(tmp_path: Path, cluster: Cluster) -> Iterator[Site]:
    schema = f"sluice_two_ray_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    servers: list[ServerProcess] = []
    db: Database | None = None
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            servers.append(
                start_server(
                    tmp_path / name,
                    "--db",
                    url,
                    "--lease-ttl",
                    str(LEASE_TTL_S),
                    "--ray-address",
                    cluster.address,
                    "--max-environments",
                    "2",
                    timeout_s=RAY_START_S,
                )
            )
        db = Database(url)
        yield Site(schema, servers, SqlJobStore(db, PageTokenCodec(b"two-servers-ray-test")))
    finally:
        for server in servers:
            stop_server(server.process)
        if db is not None:
            db.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def holder_tag(site: Site) -> str:
    with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
        row = conn.execute(
            f'SELECT holder FROM "{site.schema}".leases WHERE name = %s', (SCHEDULER_LEASE,)
        ).fetchone()
    assert row is not None, "no server took the scheduler lease"
    return str(row[0]).rsplit(":", 1)[1]


def tag(server: ServerProcess) -> str:
    return naming.owner_tag(server.data_dir.absolute())


def eventually(condition: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_killed_owner_on_a_shared_cluster_run_is_ended_by_the_survivor_launched_once(
    site: Site, tmp_path: Path
) -> None:
    owner, survivor = site.servers
    assert holder_tag(site) == tag(owner)  # the first to start took the lease
    out = tmp_path / "launches.txt"
    site.store.put_script(ACCOUNT, "sleepy.py", SCRIPT.encode())
    site.store.create_job(
        ACCOUNT,
        JobInput(
            name="sleepy",
            role="arn:sluice:role/sleepy",
            command=JobCommand(CommandName.PYTHONSHELL, "sluice://scripts/sleepy.py"),
            default_arguments={"--out": str(out)},
            timeout=30,
        ),
    )
    # Started through the survivor: any server takes calls; the leaseholder launches.
    with authed_channel(survivor.address) as channel:
        run_id = (
            jobs_pb2_grpc.JobServiceStub(channel)
            .StartJobRun(jobs_pb2.StartJobRunRequest(job_name="sleepy"), timeout=30)
            .job_run_id
        )

    def get() -> JobRun:
        return site.store.get_run(ACCOUNT, "sleepy", run_id)

    eventually(lambda: lines(out) == [run_id], "the run to execute", RUN_START_S)
    eventually(lambda: get().state is RunState.RUNNING, "the run to be RUNNING", 30)

    owner.process.kill()
    owner.process.wait()

    eventually(lambda: holder_tag(site) == tag(survivor), "the survivor to take over", TAKEOVER_S)
    eventually(lambda: get().state.is_terminal(), "the survivor to end the run", 60)
    run = get()
    # Its environment belongs to the dead server: the survivor cannot follow it, so it fails the
    # run (retried per max_retries, none here) rather than launching it a second time.
    assert (run.state, run.error_message) == (RunState.FAILED, LOST_MESSAGE)
    assert lines(out) == [run_id]
    assert [r.id for r in site.store.get_runs(ACCOUNT, "sleepy", PageRequest()).items] == [run_id]
    assert "Traceback" not in survivor.log_text()
