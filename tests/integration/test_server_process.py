"""The server as a process: start-up failures exit 2 with one clear line, signals stop it
cleanly with exit code 0, and its data dir carries state across restarts."""

from __future__ import annotations

import json
import signal
import subprocess
from importlib.metadata import entry_points
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluice.catalog.v1 import catalog_pb2 as api
from sluice.catalog.v1 import catalog_pb2_grpc
from sluice.catalog.v1 import types_pb2 as pb
from sluice.control_plane.cli import server as server_command_object
from tests.integration.conftest import (
    ServerProcess,
    authed_channel,
    free_port,
    server_command,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.integration

RUN_TIMEOUT_S = 60
CATALOG_SERVICE = "sluice.catalog.v1.CatalogService"


def _refused(*args: str) -> str:
    """Run a server that must refuse to start; its one-line complaint on stderr."""
    result = subprocess.run(
        server_command("--plaintext", *args), capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_port_in_use(server: ServerProcess, tmp_path: Path) -> None:
    port = server.address.rsplit(":", 1)[1]
    message = _refused("--port", port, "--data-dir", str(tmp_path / "d"))
    assert message == f"error: port {port} on 127.0.0.1 is already in use"


def test_data_dir_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("not a dir")
    message = _refused("--port", str(free_port()), "--data-dir", str(target))
    assert message == f"error: data dir {target} is not a directory"


def test_data_dir_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "below"
    message = _refused("--port", str(free_port()), "--data-dir", str(target))
    assert message.startswith(f"error: data dir {target} cannot be created")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u@h/d", "error: invalid settings: db_url: unsupported database 'mysql'"),
        ("::nonsense::", "error: invalid settings: db_url: not a database URL"),
        (
            "postgresql://postgres@127.0.0.1:1/test",
            "error: cannot connect to the database postgresql://postgres@127.0.0.1:1/test",
        ),
    ],
)
def test_bad_database(tmp_path: Path, url: str, expected: str) -> None:
    message = _refused("--port", str(free_port()), "--data-dir", str(tmp_path), "--db", url)
    assert message.startswith(expected)


def test_database_password_is_not_printed(tmp_path: Path) -> None:
    url = "postgresql://postgres:s3cret-pw@127.0.0.1:1/test"
    message = _refused("--port", str(free_port()), "--data-dir", str(tmp_path), "--db", url)
    assert "s3cret-pw" not in message
    assert "***" in message


def test_script_root_in_the_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "scripts").mkdir(parents=True)
    args = ("--port", str(free_port()), "--data-dir", str(data))

    message = _refused(*args, "--script-root", str(data / "scripts"))
    assert message == f"error: script root {data / 'scripts'} is inside the data dir {data}"
    message = _refused(*args, "--script-root", str(tmp_path / "absent"))
    assert message == f"error: script root {tmp_path / 'absent'} is not a directory"


def test_bad_port_option(tmp_path: Path) -> None:
    message = _refused("--port", "70000", "--data-dir", str(tmp_path))
    assert message.startswith("error: invalid settings: port:")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(tmp_path: Path, stop_signal: signal.Signals) -> None:
    running = start_server(tmp_path)
    running.process.send_signal(stop_signal)
    try:
        assert running.process.wait(timeout=30) == 0
    finally:
        stop_server(running.process)
    log = running.log_text()
    assert '"msg": "server stopping"' in log
    assert '"msg": "server stopped"' in log
    assert "Traceback" not in log


def test_health_turns_not_serving_on_shutdown(tmp_path: Path) -> None:
    running = start_server(tmp_path)
    try:
        with grpc.insecure_channel(running.address) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=CATALOG_SERVICE), timeout=30
            )
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            running.process.send_signal(signal.SIGTERM)
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
            watch.cancel()
    finally:
        assert stop_server(running.process) == 0


def test_restart_keeps_data_and_page_tokens(tmp_path: Path) -> None:
    first = start_server(tmp_path)
    try:
        with authed_channel(first.address) as channel:
            stub = catalog_pb2_grpc.CatalogServiceStub(channel)
            for name in ("a", "b", "c"):
                stub.CreateDatabase(
                    api.CreateDatabaseRequest(
                        catalog_id="restart", database_input=pb.DatabaseInput(name=name)
                    )
                )
            token = stub.GetDatabases(
                api.GetDatabasesRequest(catalog_id="restart", max_results=1)
            ).next_token
    finally:
        assert stop_server(first.process) == 0
    second = start_server(tmp_path)
    try:
        with authed_channel(second.address) as channel:
            stub = catalog_pb2_grpc.CatalogServiceStub(channel)
            rest = stub.GetDatabases(
                api.GetDatabasesRequest(catalog_id="restart", max_results=5, next_token=token)
            )
            assert [d.name for d in rest.database_list] == ["b", "c"]
    finally:
        assert stop_server(second.process) == 0


def test_sluice_cli_entry_point_is_the_server_command() -> None:
    (found,) = entry_points(group="sluice.cli", name="server")
    assert found.load() is server_command_object


def _start_line(server: ServerProcess) -> dict[str, object]:
    lines = server.log_path.read_text().splitlines()
    (started,) = [e for e in map(json.loads, lines) if e.get("msg") == "server started"]
    return started


def test_without_transport_flags_a_loopback_server_serves_plaintext(tmp_path: Path) -> None:
    running = start_server(tmp_path, plaintext=False)
    try:
        started = _start_line(running)
        assert started["transport"] == "plaintext (loopback only)"
        token_file = running.data_dir / "admin-token"
        assert started["admin_token"] == str(token_file)
        assert started["use"] == f"export SLUICE_TOKEN=$(cat {token_file})"
        # The token the start-up line points at is the one that answers a call.
        with authed_channel(running.address, token_file.read_text().strip()) as channel:
            reply = catalog_pb2_grpc.CatalogServiceStub(channel).GetDatabases(
                api.GetDatabasesRequest(), timeout=10
            )
        assert list(reply.database_list) == []
    finally:
        assert stop_server(running.process) == 0


def test_plaintext_off_loopback_must_be_asked_for(tmp_path: Path) -> None:
    result = subprocess.run(
        server_command(
            *("--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path))
        ),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: 0.0.0.0 is not a loopback address: serve TLS there (--tls-cert and --tls-key), "
        "or pass --insecure to serve it plaintext anyway"
    )


@pytest.mark.parametrize("flag", ["--insecure", "--plaintext"])
def test_insecure_serves_plaintext_on_every_interface(tmp_path: Path, flag: str) -> None:
    running = start_server(tmp_path, "--host", "0.0.0.0", flag, plaintext=False)
    try:
        assert _start_line(running)["transport"] == "plaintext (--insecure: NOT encrypted)"
        with authed_channel(running.address) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=CATALOG_SERVICE), timeout=10
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert stop_server(running.process) == 0


def test_insecure_and_a_certificate_exclude_each_other(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    message = _refused(
        *("--tls-cert", str(cert), "--tls-key", str(cert), "--data-dir", str(tmp_path / "d"))
    )
    assert "insecure (plaintext) and tls_cert exclude each other" in message
