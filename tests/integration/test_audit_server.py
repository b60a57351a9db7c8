"""The audit trail and secrets on a real server process: records survive SIGKILL, denials are
recorded, and a connection password never shows in logs, the trail, responses or the database
file."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc, types_pb2
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from tests.integration.conftest import (
    RAY_SERVER_START_TIMEOUT_S,
    ServerProcess,
    authed_channel,
    launch,
    start_server,
    stop_server,
    wait_until_serving,
)

pytestmark = pytest.mark.integration


def _events(address: str, **filters: object) -> list[types_pb2.AuditEvent]:
    with authed_channel(address) as channel:
        reply = audit_pb2_grpc.AuditServiceStub(channel).QueryAuditEvents(
            audit_pb2.QueryAuditEventsRequest(max_results=1000, **filters)  # type: ignore[arg-type]
        )
    return list(reply.events)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    running = start_server(tmp_path)
    yield running
    if running.process.poll() is None:
        stop_server(running.process)


def test_a_mutating_call_is_on_record_even_after_sigkill(own_server: ServerProcess) -> None:
    name = f"kept_{uuid.uuid4().hex[:8]}"
    with authed_channel(own_server.address) as channel:
        catalog_pb2_grpc.CatalogServiceStub(channel).CreateDatabase(
            catalog_pb2.CreateDatabaseRequest(database_input={"name": name})
        )
    own_server.process.send_signal(signal.SIGKILL)  # at once: no flush, no shutdown
    own_server.process.wait()

    own_server.process = launch(own_server.args, own_server.log_path)
    wait_until_serving(
        own_server.address, own_server.process, own_server.log_path, RAY_SERVER_START_TIMEOUT_S
    )

    made = [
        e
        for e in _events(own_server.address, action="glue:CreateDatabase")
        if e.resource.endswith(f"database/{name}")
    ]
    assert len(made) == 1
    assert made[0].principal_name == "admin"
    assert not made[0].read_only


def test_denied_and_failed_calls_are_recorded(own_server: ServerProcess) -> None:
    forged_token = "slk_0123456789abcdef_" + "x" * 43
    with (
        authed_channel(own_server.address, forged_token) as forged,
        pytest.raises(grpc.RpcError) as caught,
    ):
        catalog_pb2_grpc.CatalogServiceStub(forged).GetDatabases(catalog_pb2.GetDatabasesRequest())
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    with authed_channel(own_server.address) as channel, pytest.raises(grpc.RpcError):
        catalog_pb2_grpc.CatalogServiceStub(channel).GetDatabase(
            catalog_pb2.GetDatabaseRequest(name="missing")
        )

    def recorded() -> tuple[list, list]:
        events = _events(own_server.address)
        denied = [e for e in events if e.outcome == types_pb2.AUDIT_OUTCOME_DENIED]
        failed = [
            e
            for e in events
            if e.outcome == types_pb2.AUDIT_OUTCOME_FAILURE and e.action == "glue:GetDatabase"
        ]
        return denied, failed

    deadline = time.monotonic() + 10
    while (found := recorded()) and not (found[0] and found[1]):
        assert time.monotonic() < deadline, "denied and failed calls not recorded"
        time.sleep(0.2)
    denied, failed = found
    assert denied[0].status_code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert failed[0].status_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_a_password_never_leaks(own_server: ServerProcess) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    with authed_channel(own_server.address) as channel:
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        connection = {
            "name": "warehouse",
            "connection_type": "JDBC",
            "connection_properties": {
                "JDBC_CONNECTION_URL": "jdbc:postgresql://db:5432/x",
                "USERNAME": "etl",
                "PASSWORD": password,
            },
        }
        catalog.CreateConnection(catalog_pb2.CreateConnectionRequest(connection_input=connection))
        with pytest.raises(grpc.RpcError) as duplicate:
            catalog.CreateConnection(
                catalog_pb2.CreateConnectionRequest(connection_input=connection)
            )
        hidden = catalog.GetConnection(
            catalog_pb2.GetConnectionRequest(name="warehouse", hide_password=True)
        )
        # The operator may read secrets, when it asks for them.
        shown = catalog.GetConnection(catalog_pb2.GetConnectionRequest(name="warehouse"))
        assert shown.connection.connection_properties["PASSWORD"] == password
        iam = iam_pb2_grpc.IamServiceStub(channel)
        iam.CreatePrincipal(iam_pb2.CreatePrincipalRequest(name="reader", roles=["readers"]))
        iam.PutPolicy(
            iam_pb2.PutPolicyRequest(
                name="read-catalog",
                roles=["readers"],
                statements=[
                    {"effect": "EFFECT_ALLOW", "actions": ["glue:Get*"], "resources": ["*"]}
                ],
            )
        )
        reader_token = iam.CreateToken(iam_pb2.CreateTokenRequest(principal_name="reader")).token
    with authed_channel(own_server.address, reader_token) as channel:
        as_reader = catalog_pb2_grpc.CatalogServiceStub(channel).GetConnection(
            catalog_pb2.GetConnectionRequest(name="warehouse")
        )
    assert "PASSWORD" not in as_reader.connection.connection_properties
    assert as_reader.connection.connection_properties["USERNAME"] == "etl"

    time.sleep(0.5)  # the batched audit writer flushes every ~100 ms
    trail = b"".join(e.SerializeToString() for e in _events(own_server.address))
    stop_server(own_server.process)
    secret = password.encode()
    assert secret not in hidden.SerializeToString()
    assert secret not in (duplicate.value.details() or "").encode()
    assert secret not in trail
    assert secret not in own_server.log_path.read_bytes()
    for file in own_server.data_dir.glob("sluice.db*"):
        assert secret not in file.read_bytes(), file
