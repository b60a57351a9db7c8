"""Two real servers on one PostgreSQL database: one scheduler lease, and a takeover within a bounded
time when its holder is killed, in which no run is launched twice.

Without Ray (the job's script is missing, so no run gets to execute): runs that the killed server
had launched or begun to launch are written into the database as it would have, under its fencing
token, while it is stopped (SIGSTOP) so that it cannot act on them first. The slow test in
test_two_servers_on_ray.py does the same with real launches on a shared Ray cluster.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet

from sluice.agents import naming
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc, types_pb2
from sluice.common.db import Database
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.jobs.leases import Fence
from sluice.control_plane.jobs.model import (
    CommandName,
    JobCommand,
    JobInput,
    JobRun,
    RunInput,
    RunState,
)
from sluice.control_plane.jobs.reconciler import LOST_MESSAGE
from sluice.control_plane.jobs.runtime import SCHEDULER_LEASE
from sluice.control_plane.jobs.scheduler import LAUNCH_INTERRUPTED
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.jobs.store import LaunchClaim
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from tests.integration.conftest import (
    PG_ADMIN_URL,
    ServerProcess,
    authed_channel,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.integration

ACCOUNT = "000000000000"
LEASE_TTL_S = 2.0
# Renewed every third of the TTL, tried for every third too: a takeover within 4/3 TTL, plus
# slack for two busy cores.
TAKEOVER_S = LEASE_TTL_S * 4 / 3 + 10.0
WAIT_S = 30.0


@dataclass
class Site:
    url: str
    schema: str
    servers: list[ServerProcess]
    store: SqlJobStore


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    # Replicas share the secret key (README): it opens connection secrets and signs page tokens.
    monkeypatch.setenv("SLUICE_SECRET_KEY", Fernet.generate_key().decode())
    schema = f"sluice_two_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    servers: list[ServerProcess] = []
    db: Database | None = None
    try:
        # One after the other: the first creates the schema.
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            servers.append(
                start_server(tmp_path / name, "--db", url, "--lease-ttl", str(LEASE_TTL_S))
            )
        db = Database(url)
        yield Site(url, schema, servers, SqlJobStore(db, PageTokenCodec(b"two-servers-test")))
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGCONT)
                stop_server(server.process)
        if db is not None:
            db.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def lease(site: Site) -> tuple[str, int]:
    """The scheduler lease's holder tag (the data dir digest) and token."""
    with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
        row = conn.execute(
            f'SELECT holder, token FROM "{site.schema}".leases WHERE name = %s',
            (SCHEDULER_LEASE,),
        ).fetchone()
    assert row is not None, "no server took the scheduler lease"
    return row[0].rsplit(":", 1)[1], row[1]


def tag(server: ServerProcess) -> str:
    return naming.owner_tag(server.data_dir.absolute())


def scheduling_at_start(server: ServerProcess) -> bool:
    """What the server's "jobs started" log record says of it scheduling."""
    for line in server.log_text().splitlines():
        if line.startswith("{") and json.loads(line).get("msg") == "jobs started":
            return bool(json.loads(line)["scheduling"])
    raise AssertionError(f"no 'jobs started' record in {server.log_path}")


def eventually(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def run(site: Site, run_id: str) -> JobRun:
    return site.store.get_run(ACCOUNT, "etl", run_id)


def ended(site: Site, run_id: str) -> JobRun:
    eventually(lambda: run(site, run_id).state.is_terminal(), f"run {run_id} to end")
    return run(site, run_id)


def test_any_server_continues_a_listing_and_reads_a_secret_another_wrote(site: Site) -> None:
    first, second = site.servers
    with authed_channel(first.address) as a, authed_channel(second.address) as b:
        on_a, on_b = catalog_pb2_grpc.CatalogServiceStub(a), catalog_pb2_grpc.CatalogServiceStub(b)
        for name in ("one", "two", "three"):
            on_a.CreateDatabase(
                catalog_pb2.CreateDatabaseRequest(
                    database_input=types_pb2.DatabaseInput(name=name)
                ),
                timeout=WAIT_S,
            )
        page = on_a.GetDatabases(catalog_pb2.GetDatabasesRequest(max_results=2), timeout=WAIT_S)
        assert page.next_token
        rest = on_b.GetDatabases(
            catalog_pb2.GetDatabasesRequest(max_results=2, next_token=page.next_token),
            timeout=WAIT_S,
        )
        names = [d.name for d in [*page.database_list, *rest.database_list]]
        assert sorted(names) == ["one", "three", "two"]
        assert not rest.next_token

        on_a.CreateConnection(
            catalog_pb2.CreateConnectionRequest(
                connection_input=types_pb2.ConnectionInput(
                    name="warehouse",
                    connection_type="JDBC",
                    connection_properties={
                        "JDBC_CONNECTION_URL": "jdbc:postgresql://db:5432/w",
                        "USERNAME": "etl",
                        "PASSWORD": "s3cret-on-a",
                    },
                )
            ),
            timeout=WAIT_S,
        )
        read = on_b.GetConnection(
            catalog_pb2.GetConnectionRequest(name="warehouse"), timeout=WAIT_S
        ).connection
        assert read.connection_properties["PASSWORD"] == "s3cret-on-a"


def test_one_server_schedules_and_another_takes_over_when_it_is_killed(site: Site) -> None:
    first, second = site.servers
    holder, token = lease(site)
    assert holder in (tag(first), tag(second))
    owner, survivor = (first, second) if holder == tag(first) else (second, first)
    assert (scheduling_at_start(owner), scheduling_at_start(survivor)) == (True, False)
    # Missing script: a launch fails at loading it, before any environment is asked for.
    site.store.create_job(
        ACCOUNT,
        JobInput(
            name="etl",
            role="arn:sluice:role/etl",
            command=JobCommand(CommandName.PYTHONSHELL, "sluice://scripts/missing.py"),
            max_concurrent_runs=10,
        ),
    )

    # The owner stalls; meanwhile, as far as the database says, it launched one run and was
    # launching another.
    owner.process.send_signal(signal.SIGSTOP)
    fence = Fence(SCHEDULER_LEASE, token)
    launched = site.store.create_run(ACCOUNT, "etl", RunInput()).id
    assert site.store.claim_launch(launched, fence) is LaunchClaim.CLAIMED
    assert site.store.transition(
        launched, {RunState.STARTING}, RunState.RUNNING, environment_id="env", fence=fence
    )
    launching = site.store.create_run(ACCOUNT, "etl", RunInput()).id
    assert site.store.claim_launch(launching, fence) is LaunchClaim.CLAIMED
    killed_at = time.monotonic()
    owner.process.send_signal(signal.SIGKILL)
    owner.process.wait()

    eventually(lambda: lease(site)[0] == tag(survivor), "the survivor to take over", TAKEOVER_S)
    assert lease(site)[1] > token
    assert time.monotonic() - killed_at < TAKEOVER_S

    # Any server serves any call: a run started on the survivor is scheduled by it.
    with authed_channel(survivor.address) as channel:
        fresh = (
            jobs_pb2_grpc.JobServiceStub(channel)
            .StartJobRun(jobs_pb2.StartJobRunRequest(job_name="etl"), timeout=WAIT_S)
            .job_run_id
        )

    lost, interrupted, failed = (ended(site, r) for r in (launched, launching, fresh))
    assert (lost.state, lost.error_message) == (RunState.FAILED, LOST_MESSAGE)
    # Not launched again: its first launch may be executing where the survivor cannot see.
    assert (interrupted.state, interrupted.error_message) == (
        RunState.FAILED,
        LAUNCH_INTERRUPTED,
    )
    assert failed.state is RunState.FAILED
    assert failed.error_message.startswith("cannot load script sluice://scripts/missing.py")
    assert "Traceback" not in survivor.log_text()
