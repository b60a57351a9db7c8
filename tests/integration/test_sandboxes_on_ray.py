"""One sandbox per account, end to end: a real server, real Ray heads, real job scripts.

Two accounts each run a job: their runs land in different sandboxes (different Ray clusters;
as root, different OS users), a script of one account lists the named actors of every
namespace of its cluster and finds none of the other's, each caller's pool status shows its own
sandbox alone, and the bindings outlive a restart. Kept small for two cores: no warm pool, one
spare sandbox (an agent without Ray until a run needs it).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator

import grpc
import psycopg
import pytest

from control_plane.config import ServerConfig
from control_plane.jobs.runtime import sandbox_dir
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from sluice.jobs.v1 import jobs_pb2, jobs_pb2_grpc, types_pb2
from tests.integration.conftest import (
    PG_ADMIN_URL,
    RAY_SERVER_START_TIMEOUT_S,
    ServerProcess,
    authed_channel,
    restart_server,
    start_server,
    stop_server,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POLL_S = 0.5
State = types_pb2.JobRunState
TERMINAL = {
    State.JOB_RUN_STATE_SUCCEEDED,
    State.JOB_RUN_STATE_FAILED,
    State.JOB_RUN_STATE_STOPPED,
    State.JOB_RUN_STATE_TIMEOUT,
    State.JOB_RUN_STATE_ERROR,
}
# Each run starts a Ray head and a cold Spark environment on a busy two-core machine.
RUN_TIMEOUT_S = 300.0

# What a run can see of its cluster: who it runs as, which cluster, and every named actor; and
# whether it reaches the server's PostgreSQL, over TCP or through its unix socket.
PROBE_SCRIPT = """
import json, os, socket
import ray

def reach(family, address):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(address)
        return "connected"
    except OSError as exc:
        return type(exc).__name__

context = ray.get_runtime_context()
print("PROBE " + json.dumps({
    "uid": os.getuid(),
    "gcs": context.gcs_address,
    "namespace": context.namespace,
    "actors": ray.util.list_named_actors(all_namespaces=True),
    "db_tcp": reach(socket.AF_INET, ("127.0.0.1", 5432)),
    "db_socket": reach(socket.AF_UNIX, "/var/run/postgresql/.s.PGSQL.5432"),
}), flush=True)
"""
PG_SOCKET_DIR = "/var/run/postgresql"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A schema of its own on the machine's PostgreSQL (trust auth), which runs must not reach."""
    schema = f"sluice_sb_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def sandboxed_server(
    tmp_path_factory: pytest.TempPathFactory, pg_url: str
) -> Iterator[ServerProcess]:
    running = start_server(
        tmp_path_factory.mktemp("sandboxes"),
        "--db",
        pg_url,
        "--spare-sandboxes",
        "1",
        "--max-environments",
        "2",
        timeout_s=RAY_SERVER_START_TIMEOUT_S,
    )
    yield running
    stop_server(running.process)
    # The sandboxes' work areas are in the temp dir, not under the test's own.
    shutil.rmtree(sandbox_dir(ServerConfig(data_dir=running.data_dir)), ignore_errors=True)


def tokens_of(server: ServerProcess, *names: str) -> dict[str, tuple[str, str]]:
    """An admin principal in a new account of its own per name: name -> (account, token)."""
    made = {}
    with authed_channel(server.address) as operator:
        iam = iam_pb2_grpc.IamServiceStub(operator)
        for name in names:
            account = str(uuid.uuid4().int)[:12]
            iam.CreatePrincipal(
                iam_pb2.CreatePrincipalRequest(account=account, name=name, roles=["admin"])
            )
            token = iam.CreateToken(
                iam_pb2.CreateTokenRequest(account=account, principal_name=name)
            ).token
            made[name] = (account, token)
    return made


def run_probe(channel: grpc.Channel) -> dict:
    """Run PROBE_SCRIPT as a job of the channel's caller; what it printed."""
    jobs = jobs_pb2_grpc.JobServiceStub(channel)
    name = f"probe-{uuid.uuid4().hex[:8]}"
    location = jobs.UploadScript(
        jobs_pb2.UploadScriptRequest(name=f"{name}.py", content=PROBE_SCRIPT.encode())
    ).script_location
    jobs.CreateJob(
        jobs_pb2.CreateJobRequest(
            name=name,
            role=f"role-{name}",
            command=types_pb2.JobCommand(name="glueetl", script_location=location),
        )
    )
    run_id = jobs.StartJobRun(jobs_pb2.StartJobRunRequest(job_name=name)).job_run_id

    def ended() -> types_pb2.JobRun | None:
        run = jobs.GetJobRun(jobs_pb2.GetJobRunRequest(job_name=name, run_id=run_id)).job_run
        return run if run.job_run_state in TERMINAL else None

    run = wait_until(ended, RUN_TIMEOUT_S, f"run {run_id} to end", interval_s=POLL_S)
    entries = jobs.GetJobRunLogs(
        jobs_pb2.GetJobRunLogsRequest(job_name=name, run_id=run_id, max_results=1000)
    ).entries
    lines = [entry.message for entry in entries]
    assert State.Name(run.job_run_state) == "JOB_RUN_STATE_SUCCEEDED", (run.error_message, lines)
    probe = [line for line in lines if line.startswith("PROBE ")]
    assert probe, lines
    return json.loads(probe[-1].removeprefix("PROBE "))


def pool_of(channel: grpc.Channel) -> types_pb2.PoolStatus:
    jobs = jobs_pb2_grpc.JobServiceStub(channel)
    return jobs.GetPoolStatus(jobs_pb2.GetPoolStatusRequest()).pool_status


def test_each_account_runs_in_a_sandbox_of_its_own(sandboxed_server: ServerProcess) -> None:
    server = sandboxed_server
    made = tokens_of(server, "alice", "bob")
    (account_a, token_a), (account_b, token_b) = made["alice"], made["bob"]
    with (
        authed_channel(server.address, token_a) as alice,
        authed_channel(server.address, token_b) as bob,
        authed_channel(server.address) as operator,
    ):
        # Bob's first run binds the spare started with the server; Alice's starts cold.
        spare = wait_until(
            lambda: [s for s in pool_of(operator).sandboxes if not s.account],
            60,
            "the spare sandbox",
            interval_s=POLL_S,
        )[0]
        probe_b = run_probe(bob)
        probe_a = run_probe(alice)

        assert probe_a["gcs"] != probe_b["gcs"]
        namespaces_a = {actor["namespace"] for actor in probe_a["actors"]}
        assert probe_a["namespace"] in namespaces_a, probe_a["actors"]
        # Bob's environment is still up (bound, idle): Alice's cluster does not hold it.
        names_b = {(actor["namespace"], actor["name"]) for actor in probe_b["actors"]}
        names_a = {(actor["namespace"], actor["name"]) for actor in probe_a["actors"]}
        assert probe_b["namespace"] not in namespaces_a
        assert not names_a & names_b
        if os.geteuid() == 0:
            assert probe_a["uid"] != probe_b["uid"]
            assert 0 not in (probe_a["uid"], probe_b["uid"])
            # The kernel refuses the sandbox users the server's database over TCP...
            assert probe_a["db_tcp"] == probe_b["db_tcp"] == "ConnectionRefusedError"
            # ...and its socket directory is closed to them (scripts/ensure_services.sh).
            if os.stat(PG_SOCKET_DIR).st_mode & 0o007 == 0:
                assert probe_a["db_socket"] == "PermissionError"

        everything = pool_of(operator)
        by_account = {s.account: s for s in everything.sandboxes}
        assert by_account[account_b].sandbox_id == spare.sandbox_id
        assert by_account[account_a].sandbox_id != spare.sandbox_id
        assert by_account[account_a].ray_address == probe_a["gcs"]
        assert by_account[account_b].ray_address == probe_b["gcs"]
        assert by_account[account_a].os_user == f"sluice-{by_account[account_a].sandbox_id}"
        if os.geteuid() == 0:
            for sandbox in everything.sandboxes:
                assert sandbox.network_policy.startswith("enforced: the database 127.0.0.1:5432")
        assert "" in by_account, "a new spare replaces the bound one"

        own = pool_of(alice)
        assert [s.account for s in own.sandboxes] == [account_a]
        assert own.ray_address == "" and own.sandboxes[0].ray_address == ""
        assert own.bound_idle + own.busy == 1
        bindings = {account: s.sandbox_id for account, s in by_account.items() if account}

    restart_server(server, kill=False)
    with authed_channel(server.address) as operator:
        again = {s.account: s.sandbox_id for s in pool_of(operator).sandboxes if s.account}
    assert again == bindings
