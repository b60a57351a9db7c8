"""Health, reflection, request ids and the structured logs of a running server."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from sluice.catalog.v1 import catalog_pb2 as api
from sluice.catalog.v1 import catalog_pb2_grpc
from sluice.control_plane.app import SERVED
from tests.integration.conftest import ServerProcess

pytestmark = pytest.mark.integration

CATALOG_SERVICE = "sluice.catalog.v1.CatalogService"
JOB_SERVICE = "sluice.jobs.v1.JobService"
LOG_WAIT_S = 10.0


def _log_entries(server: ServerProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]


def _wait_for_log(server: ServerProcess, request_id: str) -> dict[str, Any]:
    """The access-log entry of a request; logging is asynchronous to the reply, so wait."""
    deadline = time.monotonic() + LOG_WAIT_S
    while time.monotonic() < deadline:
        for entry in _log_entries(server):
            if entry.get("request_id") == request_id and entry.get("msg") == "rpc":
                return entry
        time.sleep(0.05)
    pytest.fail(f"no access-log entry for request {request_id}")


@pytest.mark.parametrize("service", ["", CATALOG_SERVICE, JOB_SERVICE])
def test_health_is_serving(channel: grpc.Channel, service: str) -> None:
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_health_of_unknown_service_is_not_found(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def _reflect(channel: grpc.Channel, request: reflection_pb2.ServerReflectionRequest) -> Any:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    assert len(responses) == 1
    return responses[0]


def test_reflection_lists_services(channel: grpc.Channel) -> None:
    reply = _reflect(channel, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in reply.list_services_response.service}
    assert names == {
        *SERVED,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    assert {CATALOG_SERVICE, JOB_SERVICE, "sluice.catalog.v1.TagService"} <= names


def test_reflection_describes_the_catalog_service(channel: grpc.Channel) -> None:
    reply = _reflect(
        channel, reflection_pb2.ServerReflectionRequest(file_containing_symbol=CATALOG_SERVICE)
    )
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in reply.file_descriptor_response.file_descriptor_proto
    ]
    services = {svc.name: svc for f in files for svc in f.service}
    methods = {m.name for m in services["CatalogService"].method}
    assert {"GetTable", "BatchCreatePartition", "GetUserDefinedFunctions"} <= methods
    assert len(methods) == 34


def test_client_request_id_round_trips(
    catalog_stub: catalog_pb2_grpc.CatalogServiceStub, server: ServerProcess, catalog_id: str
) -> None:
    request_id = f"client-{uuid.uuid4().hex}"
    _, call = catalog_stub.GetDatabases.with_call(
        api.GetDatabasesRequest(catalog_id=catalog_id),
        metadata=(("x-request-id", request_id),),
        timeout=5,
    )
    assert dict(call.trailing_metadata())["x-request-id"] == request_id
    entry = _wait_for_log(server, request_id)
    assert entry["method"] == f"/{CATALOG_SERVICE}/GetDatabases"
    assert entry["code"] == "OK"
    assert entry["duration_ms"] >= 0


def test_request_id_is_generated_and_returned_on_errors(
    catalog_stub: catalog_pb2_grpc.CatalogServiceStub, server: ServerProcess, catalog_id: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        catalog_stub.GetDatabase(api.GetDatabaseRequest(catalog_id=catalog_id, name="nope"))
    trailing = dict(caught.value.trailing_metadata())  # type: ignore[attr-defined]
    request_id = trailing["x-request-id"]
    assert len(request_id) == 32
    entry = _wait_for_log(server, request_id)
    assert entry["code"] == "NOT_FOUND"
    assert entry["level"] == "INFO"


def test_start_line_names_address_data_dir_and_database(server: ServerProcess) -> None:
    started = [e for e in _log_entries(server) if e.get("msg") == "server started"]
    assert len(started) == 1
    assert started[0]["address"] == server.address
    assert started[0]["data_dir"] == str(server.data_dir)
    assert started[0]["database"] == "sqlite"


def test_secret_key_is_private_and_no_other_key_file_is_kept(server: ServerProcess) -> None:
    key = server.data_dir / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600
    # Page tokens are signed with a key derived from it, not with a key of their own.
    assert not (server.data_dir / "page_token.key").exists()
