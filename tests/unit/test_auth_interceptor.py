"""The auth interceptor on a real in-process grpc server: authentication, account isolation,
policy decisions, and what it records of the call."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from sluice.catalog.v1 import catalog_pb2
from sluice.common.errors import Unauthenticated
from sluice.control_plane.interceptors import ErrorInterceptor
from sluice.control_plane.interceptors.auth import AuthInterceptor
from sluice.control_plane.interceptors.handlers import wrap_handler
from sluice.control_plane.security.calls import CallInfo, Principal, call_scope, current_call
from sluice.jobs.v1 import jobs_pb2

pytestmark = pytest.mark.unit

ALICE = Principal("p1", "alice", "111111111111", ("readers",))
OPERATOR = Principal("p0", "admin", "000000000000", ("admin",), operator=True)
TOKENS = {"alice-token": ALICE, "operator-token": OPERATOR}


@dataclass
class FakeGuard:
    allowed: set[tuple[str, str]] = field(default_factory=set)

    def authenticate(self, token: str) -> Principal:
        if token not in TOKENS:
            raise Unauthenticated("invalid or expired token")
        return TOKENS[token]

    def authenticate_certificate(self, subject: str) -> Principal:
        raise Unauthenticated("no principal for that certificate")

    def is_allowed(self, principal: Principal, action: str, resource: str) -> bool:
        return principal.operator or (action, resource) in self.allowed


class CallScopeStandIn(grpc.ServerInterceptor):
    """What the audit interceptor does for the auth interceptor: open the call's record."""

    def __init__(self) -> None:
        self.calls: list[CallInfo] = []

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        method = details.method

        def scoped(behaviour: Any) -> Any:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                info = CallInfo(method)
                self.calls.append(info)
                with call_scope(info):
                    return behaviour(request, context)

            return call

        def scoped_stream(behaviour: Any) -> Any:
            def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                info = CallInfo(method)
                self.calls.append(info)
                with call_scope(info):
                    yield from behaviour(request, context)

            return call

        return wrap_handler(method, continuation(details), scoped, scoped_stream)


def _get_table(request: catalog_pb2.GetTableRequest, context: Any) -> Any:
    info = current_call()
    assert info is not None
    # Echo what the servicer would see: the request's account after the interceptor.
    return catalog_pb2.GetTableResponse(
        table={"name": request.name, "catalog_id": request.catalog_id, "owner": info.account}
    )


def _tail(request: jobs_pb2.TailJobRunLogsRequest, context: Any) -> Iterator[Any]:
    yield jobs_pb2.TailJobRunLogsResponse()


@dataclass
class Harness:
    channel: grpc.Channel
    guard: FakeGuard
    scope: CallScopeStandIn

    def get_table(self, token: str | None, **fields: str) -> catalog_pb2.GetTableResponse:
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        call = self.channel.unary_unary(
            "/sluice.catalog.v1.CatalogService/GetTable",
            request_serializer=catalog_pb2.GetTableRequest.SerializeToString,
            response_deserializer=catalog_pb2.GetTableResponse.FromString,
        )
        request = catalog_pb2.GetTableRequest(database_name="sales", name="orders", **fields)
        return call(request, metadata=metadata, timeout=5)

    def code(self, token: str | None, **fields: str) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as caught:
            self.get_table(token, **fields)
        return caught.value.code()  # type: ignore[no-any-return]


@pytest.fixture
def harness() -> Iterator[Harness]:
    guard = FakeGuard()
    scope = CallScopeStandIn()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=[scope, ErrorInterceptor(), AuthInterceptor(guard)],
    )
    catalog = grpc.method_handlers_generic_handler(
        "sluice.catalog.v1.CatalogService",
        {
            "GetTable": grpc.unary_unary_rpc_method_handler(
                _get_table,
                request_deserializer=catalog_pb2.GetTableRequest.FromString,
                response_serializer=catalog_pb2.GetTableResponse.SerializeToString,
            )
        },
    )
    jobs = grpc.method_handlers_generic_handler(
        "sluice.jobs.v1.JobService",
        {
            "TailJobRunLogs": grpc.unary_stream_rpc_method_handler(
                _tail,
                request_deserializer=jobs_pb2.TailJobRunLogsRequest.FromString,
                response_serializer=jobs_pb2.TailJobRunLogsResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((catalog, jobs))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Harness(channel, guard, scope)
    server.stop(None).wait()


RESOURCE = "sluice:catalog:111111111111:table/sales/orders"


def test_no_forged_or_malformed_credentials(harness: Harness) -> None:
    assert harness.code(None) is grpc.StatusCode.UNAUTHENTICATED
    assert harness.code("forged") is grpc.StatusCode.UNAUTHENTICATED
    call = harness.channel.unary_unary("/sluice.catalog.v1.CatalogService/GetTable")
    with pytest.raises(grpc.RpcError) as caught:
        call(b"", metadata=(("authorization", "Basic abc"),), timeout=5)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert {info.denied_reason for info in harness.scope.calls} == {
        "no credentials",
        "invalid or expired token",
        "malformed authorization header",
    }


def test_policies_decide(harness: Harness) -> None:
    assert harness.code("alice-token") is grpc.StatusCode.PERMISSION_DENIED
    harness.guard.allowed.add(("glue:GetTable", RESOURCE))
    table = harness.get_table("alice-token").table
    # The caller's account fills an empty catalog_id, so the servicer works in it.
    assert (table.catalog_id, table.owner) == ("111111111111", "111111111111")
    info = harness.scope.calls[-1]
    assert (info.principal, info.action, info.resource, info.read_only) == (
        ALICE,
        "glue:GetTable",
        RESOURCE,
        True,
    )
    assert info.parameters == {
        "catalog_id": "111111111111",
        "database_name": "sales",
        "name": "orders",
    }


def test_another_account_is_not_found_not_forbidden(harness: Harness) -> None:
    harness.guard.allowed.add(("glue:GetTable", RESOURCE))
    assert harness.code("alice-token", catalog_id="222222222222") is grpc.StatusCode.NOT_FOUND
    assert harness.get_table("alice-token", catalog_id="111111111111").table.name == "orders"


def test_the_operator_may_name_any_account(harness: Harness) -> None:
    table = harness.get_table("operator-token", catalog_id="222222222222").table
    assert table.catalog_id == "222222222222"
    assert harness.scope.calls[-1].resource == "sluice:catalog:222222222222:table/sales/orders"


def test_streams_are_authenticated_too(harness: Harness) -> None:
    tail = harness.channel.unary_stream(
        "/sluice.jobs.v1.JobService/TailJobRunLogs",
        request_serializer=jobs_pb2.TailJobRunLogsRequest.SerializeToString,
        response_deserializer=jobs_pb2.TailJobRunLogsResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as caught:
        list(tail(jobs_pb2.TailJobRunLogsRequest(job_name="j", run_id="r"), timeout=5))
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    responses = tail(
        jobs_pb2.TailJobRunLogsRequest(job_name="j", run_id="r"),
        metadata=(("authorization", "Bearer operator-token"),),
        timeout=5,
    )
    assert len(list(responses)) == 1
