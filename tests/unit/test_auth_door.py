"""The auth interceptor and a door's calls: the SigV4 parts a door forwards count only with the
server's door key, and the call records the door and its client's address."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc
import pytest

from sluice.catalog.v1 import catalog_pb2
from sluice.common.errors import InvalidSignature
from sluice.control_plane.interceptors import ErrorInterceptor
from sluice.control_plane.interceptors.auth import (
    DOOR_CLIENT,
    DOOR_KEY,
    DOOR_NAME,
    SIGV4_AUTHORIZATION,
    SIGV4_DATE,
    SIGV4_REQUEST_ERROR,
    SIGV4_REQUEST_SHA256,
    AuthInterceptor,
)
from sluice.control_plane.security.calls import Principal
from tests.unit.test_auth_interceptor import ALICE, CallScopeStandIn, FakeGuard, _get_table

pytestmark = pytest.mark.unit

KEY = "the-door-key"
SIGNED = ("AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/glue/aws4_request", "d", "h")


@dataclass
class SigningGuard(FakeGuard):
    def authenticate_sigv4(self, authorization: str, amz_date: str, digest: str) -> Principal:
        if (authorization, amz_date, digest) != SIGNED:
            raise InvalidSignature("signature does not match")
        return ALICE


@dataclass
class Door:
    channel: grpc.Channel
    scope: CallScopeStandIn

    def code(self, metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
        try:
            self.call(metadata)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
        return grpc.StatusCode.OK

    def call(self, metadata: tuple[tuple[str, str], ...]) -> catalog_pb2.GetTableResponse:
        stub = self.channel.unary_unary(
            "/sluice.catalog.v1.CatalogService/GetTable",
            request_serializer=catalog_pb2.GetTableRequest.SerializeToString,
            response_deserializer=catalog_pb2.GetTableResponse.FromString,
        )
        request = catalog_pb2.GetTableRequest(database_name="sales", name="orders")
        return stub(request, metadata=metadata, timeout=5)


@pytest.fixture
def door() -> Iterator[Door]:
    guard = SigningGuard(
        allowed={("glue:GetTable", "sluice:catalog:111111111111:table/sales/orders")}
    )
    scope = CallScopeStandIn()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=[scope, ErrorInterceptor(), AuthInterceptor(guard, door_key=KEY)],
    )
    handler = grpc.method_handlers_generic_handler(
        "sluice.catalog.v1.CatalogService",
        {
            "GetTable": grpc.unary_unary_rpc_method_handler(
                _get_table,
                request_deserializer=catalog_pb2.GetTableRequest.FromString,
                response_serializer=catalog_pb2.GetTableResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Door(channel, scope)
    server.stop(None).wait()


def signed(door_key: str | None = KEY, **extra: str) -> tuple[tuple[str, str], ...]:
    parts = [
        (SIGV4_AUTHORIZATION, SIGNED[0]),
        (SIGV4_DATE, SIGNED[1]),
        (SIGV4_REQUEST_SHA256, SIGNED[2]),
        (DOOR_NAME, "glue"),
        (DOOR_CLIENT, "192.0.2.7"),
        *extra.items(),
    ]
    if door_key is not None:
        parts.append((DOOR_KEY, door_key))
    return tuple(parts)


def test_the_doors_signed_calls_run_as_the_signer_and_name_the_door(door: Door) -> None:
    assert door.call(signed()).table.owner == "111111111111"
    info = door.scope.calls[-1]
    assert (info.principal, info.door, info.client_address) == (ALICE, "glue", "192.0.2.7")


def test_forwarded_credentials_without_the_door_key_are_refused(door: Door) -> None:
    # A gRPC client cannot pass a signature it captured off as the door's.
    assert door.code(signed(door_key=None)) is grpc.StatusCode.UNAUTHENTICATED
    assert door.code(signed(door_key="guessed")) is grpc.StatusCode.UNAUTHENTICATED
    assert "doors" in door.scope.calls[-1].denied_reason
    assert door.scope.calls[-1].door == ""


def test_bad_or_incomplete_signatures_are_refused_and_recorded(door: Door) -> None:
    bad = tuple((k, "other" if k == SIGV4_REQUEST_SHA256 else v) for k, v in signed())
    assert door.code(bad) is grpc.StatusCode.UNAUTHENTICATED
    assert door.scope.calls[-1].denied_reason == "signature does not match"
    incomplete = signed(**{SIGV4_REQUEST_ERROR: "signed header 'x' is missing"})
    assert door.code(incomplete) is grpc.StatusCode.UNAUTHENTICATED
    assert door.scope.calls[-1].denied_reason == "signed header 'x' is missing"
    assert door.scope.calls[-1].door == "glue"
