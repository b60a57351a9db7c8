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
import pwd
import shutil
import uuid
from collections.abc import Iterator

import grpc
import psutil
import psycopg
import pytest

from sluice.control_plane.config import ServerConfig
from sluice.control_plane.jobs.runtime import sandbox_dir
from sluice.control_plane.jobs.sandbox_network import held_ports, release_ports
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

# A script of one account knocking on every listening TCP port of another account's sandbox
# (given as --targets host:port,...), in parallel, and on its own cluster's GCS; then a Spark job
# of its own, which must still work.
ATTACK_SCRIPT = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
import ray

def reach(target):
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as exc:
        return type(exc).__name__

targets = sys.argv[sys.argv.index("--targets") + 1].split(",")
with ThreadPoolExecutor(16) as pool:
    others = dict(zip(targets, pool.map(reach, targets)))
own = ray.get_runtime_context().gcs_address
print("ATTACK " + json.dumps({
    "others": others,
    "own_gcs": reach(own),
    "count": spark.range(1000).count(),
}), flush=True)
"""
# What a connection to another sandbox's port may end in: refused by the port fence, or no answer
# (the owner rule drops the SYN-ACK of a listener outside any block).
REFUSED = {"ConnectionRefusedError", "timeout"}


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
    # Their port blocks are claimed machine-wide: give them back now.
    for agent_dir in (running.data_dir / "agents").glob("sb-*"):
        release_ports(agent_dir)


@pytest.fixture(scope="module")
def accounts(sandboxed_server: ServerProcess) -> dict[str, tuple[str, str]]:
    """Alice's and Bob's accounts, shared by the tests (each account costs a sandbox)."""
    return tokens_of(sandboxed_server, "alice", "bob")


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


def run_probe(
    channel: grpc.Channel,
    script: str = PROBE_SCRIPT,
    marker: str = "PROBE ",
    arguments: dict[str, str] | None = None,
) -> dict:
    """Run a script (PROBE_SCRIPT) as a job of the channel's caller; the JSON it printed after
    marker."""
    jobs = jobs_pb2_grpc.JobServiceStub(channel)
    name = f"probe-{uuid.uuid4().hex[:8]}"
    location = jobs.UploadScript(
        jobs_pb2.UploadScriptRequest(name=f"{name}.py", content=script.encode())
    ).script_location
    jobs.CreateJob(
        jobs_pb2.CreateJobRequest(
            name=name,
            role=f"role-{name}",
            command=types_pb2.JobCommand(name="glueetl", script_location=location),
        )
    )
    run_id = jobs.StartJobRun(
        jobs_pb2.StartJobRunRequest(job_name=name, arguments=arguments or {})
    ).job_run_id

    def ended() -> types_pb2.JobRun | None:
        run = jobs.GetJobRun(jobs_pb2.GetJobRunRequest(job_name=name, run_id=run_id)).job_run
        return run if run.job_run_state in TERMINAL else None

    run = wait_until(ended, RUN_TIMEOUT_S, f"run {run_id} to end", interval_s=POLL_S)
    entries = jobs.GetJobRunLogs(
        jobs_pb2.GetJobRunLogsRequest(job_name=name, run_id=run_id, max_results=1000)
    ).entries
    lines = [entry.message for entry in entries]
    assert State.Name(run.job_run_state) == "JOB_RUN_STATE_SUCCEEDED", (run.error_message, lines)
    probe = [line for line in lines if line.startswith(marker)]
    assert probe, lines
    return json.loads(probe[-1].removeprefix(marker))


def pool_of(channel: grpc.Channel) -> types_pb2.PoolStatus:
    jobs = jobs_pb2_grpc.JobServiceStub(channel)
    return jobs.GetPoolStatus(jobs_pb2.GetPoolStatusRequest()).pool_status


def test_each_account_runs_in_a_sandbox_of_its_own(
    sandboxed_server: ServerProcess, accounts: dict[str, tuple[str, str]]
) -> None:
    server = sandboxed_server
    made = accounts
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


def listening_ports(uid: int) -> dict[str, str]:
    """Every TCP port processes of uid listen on: "host:port" (a wildcard as 127.0.0.1) -> the
    process's name."""
    found = {}
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status != psutil.CONN_LISTEN or connection.pid is None:
            continue
        try:
            process = psutil.Process(connection.pid)
            if process.uids().real != uid:
                continue
            name = process.name()
        except psutil.Error:
            continue
        host = connection.laddr.ip.removeprefix("::ffff:")
        if host in ("0.0.0.0", "::", "::1"):
            host = "127.0.0.1"
        found[f"{host}:{connection.laddr.port}"] = name
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="sandbox users and their network policy need root")
def test_a_script_is_refused_every_port_of_another_accounts_sandbox(
    sandboxed_server: ServerProcess, accounts: dict[str, tuple[str, str]]
) -> None:
    server = sandboxed_server
    # Alice attacks Bob's sandbox (Bob's first run binds the spare if this test runs alone).
    (_, token_m), (account_v, token_v) = accounts["alice"], accounts["bob"]
    with (
        authed_channel(server.address, token_m) as mallory,
        authed_channel(server.address, token_v) as victim,
        authed_channel(server.address) as operator,
    ):
        # The victim's run leaves its sandbox up: Ray head, and an idle Spark environment.
        run_probe(victim)
        sandbox = next(s for s in pool_of(operator).sandboxes if s.account == account_v)
        uid = pwd.getpwnam(sandbox.os_user).pw_uid
        block = held_ports(
            ServerConfig(data_dir=server.data_dir).data_dir / "agents" / sandbox.sandbox_id
        )
        assert block is not None
        listening = listening_ports(uid)
        outside = {
            target: name
            for target, name in listening.items()
            if not block.first <= int(target.rpartition(":")[2]) <= block.last
        }
        # Ray's own daemons are all in the block; only JVMs and Python workers (ephemeral py4j
        # gateways, RayDP's app master RPC, PySpark's daemon) listen elsewhere.
        assert block.ports in sandbox.network_policy, sandbox.network_policy
        assert {"gcs_server", "raylet"} <= set(listening.values())
        assert not {"gcs_server", "raylet"} & set(outside.values()), outside
        assert f"127.0.0.1:{block.gcs}" in listening
        print(f"listening outside the block {block}: {outside}")

        attack = run_probe(
            mallory, ATTACK_SCRIPT, "ATTACK ", {"--targets": ",".join(sorted(listening))}
        )

    assert set(attack["others"]) == set(listening)
    reached = {t: r for t, r in attack["others"].items() if r not in REFUSED}
    assert not reached, (reached, listening)
    # Inside the block the fence refuses at once; its own cluster and Spark still work.
    for target, result in attack["others"].items():
        if target not in outside:
            assert result == "ConnectionRefusedError", (target, listening[target])
    assert attack["own_gcs"] == "connected"
    assert attack["count"] == 1000
