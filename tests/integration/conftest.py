"""Real servers for integration tests: a subprocess per session, reached over gRPC.

Fixtures other suites build on: `server` (SQLite) and `pg_server` (PostgreSQL) with
`.address`, `.data_dir`, `.process`; `channel` and `catalog_stub` for `server`; and
`catalog_id`, a fresh account per test so tests sharing a server never collide.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluice.catalog.v1 import catalog_pb2_grpc
from sluice.sdk.auth import BearerToken

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]
# Every test server's operator token (SLUICE_BOOTSTRAP_TOKEN at its first start); the SDK and
# CLI of the tests find it in SLUICE_TOKEN.
OPERATOR_TOKEN = "slk_00000000000000aa_" + "t" * 43
START_TIMEOUT_S = 120.0  # a loaded 2-core CI machine has needed more than 60 s
STOP_TIMEOUT_S = 60.0
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
# Clients may send and receive more than grpc's 4 MiB default, so the server's limit is the one hit.
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
]


@dataclass
class ServerProcess:
    """A control-plane server running in a subprocess; its stderr goes to log_path."""

    address: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    # The server's command-line arguments, to start it again.
    args: list[str]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sluice.control_plane", *args]


def launch(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `python -m sluice.control_plane ARGS`, stderr in log_path (a pipe could fill up)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            server_command(*args),
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "SLUICE_BOOTSTRAP_TOKEN": OPERATOR_TOKEN,
            },
        )


def authed_channel(address: str, token: str = OPERATOR_TOKEN) -> grpc.Channel:
    """A plaintext channel sending token with every call; closing it closes the connection."""
    raw = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    return grpc.intercept_channel(raw, BearerToken(token))


@pytest.fixture(scope="session", autouse=True)
def operator_token() -> Iterator[str]:
    """The SDK and CLI (also as subprocesses) of every test authenticate as the operator."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLUICE_TOKEN", OPERATOR_TOKEN)
        yield OPERATOR_TOKEN


def wait_until(
    condition: Callable[[], T | None], timeout_s: float, what: str, interval_s: float = 0.2
) -> T:
    """Poll condition until it returns something truthy; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def wait_until_serving(
    address: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout_s: float,
    credentials: grpc.ChannelCredentials | None = None,
) -> None:
    """Block until gRPC health says SERVING; fail with the server's log if it dies or stalls."""
    deadline = time.monotonic() + timeout_s
    channel_cm = (
        grpc.insecure_channel(address)
        if credentials is None
        else grpc.secure_channel(address, credentials)
    )
    with channel_cm as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log_path.read_text()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"server not SERVING after {timeout_s}s:\n{log_path.read_text()}")
            try:
                reply = health.Check(
                    health_pb2.HealthCheckRequest(service=""),
                    timeout=min(1.0, remaining),
                    wait_for_ready=True,
                )
            except grpc.RpcError:
                continue
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return


def start_server(
    base: Path,
    *extra_args: str,
    timeout_s: float = START_TIMEOUT_S,
    plaintext: bool = True,
    health_credentials: grpc.ChannelCredentials | None = None,
) -> ServerProcess:
    """A server on a free port with its data dir under base, SERVING when this returns.

    No warm pool unless extra_args ask for one (the last --pool-size wins), so catalog tests
    never start Ray.
    """
    port = free_port()
    data_dir = base / "data"
    log_path = base / "server.log"
    args = [
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *(["--plaintext"] if plaintext else []),
        "--pool-size",
        "0",
        *extra_args,
    ]
    process = launch(args, log_path)
    address = f"127.0.0.1:{port}"
    try:
        wait_until_serving(address, process, log_path, timeout_s, health_credentials)
    except BaseException:
        stop_server(process)
        raise
    return ServerProcess(
        address=address, data_dir=data_dir, process=process, log_path=log_path, args=args
    )


def stop_server(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then wait for the exit code (kill only if it does not stop in time)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    return process.returncode


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server on SQLite for the whole session."""
    running = start_server(tmp_path_factory.mktemp("sqlite-server"))
    yield running
    stop_server(running.process)


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped at the end of the session."""
    name = f"sluice_it_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory, pg_schema: str) -> Iterator[ServerProcess]:
    """A real server on PostgreSQL (its own schema) for the whole session."""
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{pg_schema}"
    running = start_server(tmp_path_factory.mktemp("pg-server"), "--db", url)
    yield running
    stop_server(running.process)


@pytest.fixture(scope="session")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with authed_channel(server.address) as chan:
        yield chan


@pytest.fixture(scope="session")
def catalog_stub(channel: grpc.Channel) -> catalog_pb2_grpc.CatalogServiceStub:
    return catalog_pb2_grpc.CatalogServiceStub(channel)


@pytest.fixture(scope="session")
def pg_channel(pg_server: ServerProcess) -> Iterator[grpc.Channel]:
    with authed_channel(pg_server.address) as chan:
        yield chan


@pytest.fixture(scope="session")
def pg_catalog_stub(pg_channel: grpc.Channel) -> catalog_pb2_grpc.CatalogServiceStub:
    return catalog_pb2_grpc.CatalogServiceStub(pg_channel)


@pytest.fixture
def catalog_id() -> str:
    """A fresh account id, so each test starts from an empty catalog."""
    return f"it-{uuid.uuid4().hex[:16]}"


RAY_SERVER_START_TIMEOUT_S = 240.0


def restart_server(running: ServerProcess, *, kill: bool) -> None:
    """Stop the server (SIGKILL when kill) and start it again with the same settings."""
    if kill:
        running.process.kill()
        running.process.wait()
    else:
        stop_server(running.process)
    running.process = launch(running.args, running.log_path)
    wait_until_serving(
        running.address, running.process, running.log_path, RAY_SERVER_START_TIMEOUT_S
    )


def glue_endpoint(server: ServerProcess) -> str:
    """The URL of a server's Glue door (started with --glue-port)."""
    port = server.args[server.args.index("--glue-port") + 1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def ray_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server running jobs on an embedded Ray with a warm pool of one, for the session.

    Spark environments start slowly on two cores: every jobs test shares this one.
    """
    base = tmp_path_factory.mktemp("ray-server")
    running = start_server(
        base,
        "--pool-size",
        "1",
        "--max-environments",
        "4",
        "--log-level",
        "DEBUG",
        # The Glue door too, for the AWS CLI on real runs (glue_endpoint gives its URL).
        "--glue-port",
        str(free_port()),
        timeout_s=RAY_SERVER_START_TIMEOUT_S,
    )
    yield running
    stop_server(running.process)
