"""The error and access-log interceptors, on a real in-process grpc server with a fake service."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from google.protobuf import wrappers_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from sluice.common.errors import (
    ConcurrentModification,
    EntityNotFound,
    FailedPrecondition,
    InternalError,
    InvalidInput,
    OperationTimeout,
)
from sluice.control_plane.interceptors import AccessLogInterceptor, ErrorInterceptor
from sluice.control_plane.interceptors.errors import status_for
from sluice.control_plane.interceptors.request_id import REQUEST_ID_KEY

pytestmark = pytest.mark.unit

SERVICE = "test.Fake"
Behaviour = Callable[[wrappers_pb2.StringValue, grpc.ServicerContext], wrappers_pb2.StringValue]


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _echo(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
    return wrappers_pb2.StringValue(value=request.value)


def _not_found(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
    raise EntityNotFound(f"table {request.value} not found", table=request.value)


def _bug(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
    raise RuntimeError("secret-internal-detail")


def _db_down(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
    raise InternalError("the database is unavailable or busy")


def _stale(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
    raise ConcurrentModification("version 3 is not current")


def _slow_store(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
    raise OperationTimeout("the catalog database did not answer within 30 s")


def _busy(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
    raise FailedPrecondition("job run jr_1 has finished")


BEHAVIOURS: dict[str, Behaviour] = {
    "Echo": _echo,
    "NotFound": _not_found,
    "Bug": _bug,
    "DbDown": _db_down,
    "Stale": _stale,
    "SlowStore": _slow_store,
    "Busy": _busy,
}


class Harness:
    def __init__(self, channel: grpc.Channel, access: ListHandler, errors: ListHandler) -> None:
        self.channel = channel
        self.access = access
        self.errors = errors

    def call(
        self, method: str, value: str = "x", metadata: tuple[tuple[str, str], ...] = ()
    ) -> tuple[Any, grpc.Call]:
        stub = self.channel.unary_unary(
            f"/{SERVICE}/{method}",
            request_serializer=wrappers_pb2.StringValue.SerializeToString,
            response_deserializer=wrappers_pb2.StringValue.FromString,
        )
        return stub.with_call(wrappers_pb2.StringValue(value=value), metadata=metadata, timeout=10)

    def fail(self, method: str, value: str = "x") -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            self.call(method, value)
        return caught.value


def _logger(name: str) -> tuple[logging.Logger, ListHandler]:
    logger = logging.getLogger(name)
    handler = ListHandler()
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, handler


def _serve(interceptors: list[grpc.ServerInterceptor]) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), interceptors=interceptors)
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            fn,
            request_deserializer=wrappers_pb2.StringValue.FromString,
            response_serializer=wrappers_pb2.StringValue.SerializeToString,
        )
        for name, fn in BEHAVIOURS.items()
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    access_logger, access = _logger("test.interceptor.access")
    error_logger, errors = _logger("test.interceptor.errors")
    server, port = _serve([AccessLogInterceptor(access_logger), ErrorInterceptor(error_logger)])
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Harness(channel, access, errors)
    server.stop(None).wait()


def _trailing(call: grpc.Call) -> dict[str, Any]:
    return dict(call.trailing_metadata() or ())


def _error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no rich status details"
    infos = []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            infos.append(info)
    assert len(infos) == 1
    return infos[0]


def test_success_carries_a_generated_request_id(harness: Harness) -> None:
    response, call = harness.call("Echo", "hello")
    assert response.value == "hello"
    request_id = _trailing(call)[REQUEST_ID_KEY]
    assert len(request_id) == 32
    _, other = harness.call("Echo")
    assert _trailing(other)[REQUEST_ID_KEY] != request_id


def test_client_request_id_is_returned(harness: Harness) -> None:
    _, call = harness.call("Echo", metadata=((REQUEST_ID_KEY, "client-id-42"),))
    assert _trailing(call)[REQUEST_ID_KEY] == "client-id-42"


def test_insane_client_request_id_is_replaced(harness: Harness) -> None:
    _, call = harness.call("Echo", metadata=((REQUEST_ID_KEY, "x" * 500),))
    assert _trailing(call)[REQUEST_ID_KEY] != "x" * 500


def test_domain_error_becomes_its_status_with_error_info(harness: Harness) -> None:
    error = harness.fail("NotFound", "orders")
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "table orders not found"
    info = _error_info(error)
    assert info.reason == "EntityNotFoundException"
    assert info.domain == "sluice"
    assert dict(info.metadata) == {"table": "orders"}
    assert REQUEST_ID_KEY in _trailing(error)  # type: ignore[arg-type]


def test_aborted_maps_from_concurrent_modification(harness: Harness) -> None:
    error = harness.fail("Stale")
    assert error.code() == grpc.StatusCode.ABORTED
    assert _error_info(error).reason == "ConcurrentModificationException"


@pytest.mark.parametrize(
    ("method", "code", "reason"),
    [
        ("SlowStore", grpc.StatusCode.DEADLINE_EXCEEDED, "OperationTimeoutException"),
        ("Busy", grpc.StatusCode.FAILED_PRECONDITION, "InvalidStateException"),
    ],
)
def test_glue_error_names(
    harness: Harness, method: str, code: grpc.StatusCode, reason: str
) -> None:
    error = harness.fail(method)
    assert error.code() == code
    assert _error_info(error).reason == reason


def test_unexpected_error_is_internal_without_traceback(harness: Harness) -> None:
    before = len(harness.errors.records)
    error = harness.fail("Bug")
    request_id = _trailing(error)[REQUEST_ID_KEY]  # type: ignore[arg-type]
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == f"internal error (request id {request_id})"
    assert "secret-internal-detail" not in repr(_trailing(error))  # type: ignore[arg-type]
    assert _error_info(error).reason == "InternalServiceException"
    logged = harness.errors.records[before:]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "secret-internal-detail" in str(logged[0].exc_info[1])


def test_internal_domain_error_names_the_request(harness: Harness) -> None:
    error = harness.fail("DbDown")
    request_id = _trailing(error)[REQUEST_ID_KEY]  # type: ignore[arg-type]
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == f"the database is unavailable or busy (request id {request_id})"


def test_one_access_line_per_call_with_code_and_request_id(harness: Harness) -> None:
    before = len(harness.access.records)
    _, ok = harness.call("Echo")
    failed = harness.fail("NotFound")
    lines = [r.fields for r in harness.access.records[before:]]  # type: ignore[attr-defined]
    assert [line["code"] for line in lines] == ["OK", "NOT_FOUND"]
    assert [line["method"] for line in lines] == [f"/{SERVICE}/Echo", f"/{SERVICE}/NotFound"]
    assert lines[0]["request_id"] == _trailing(ok)[REQUEST_ID_KEY]
    assert lines[1]["request_id"] == _trailing(failed)[REQUEST_ID_KEY]  # type: ignore[arg-type]
    assert all(line["duration_ms"] >= 0 for line in lines)


def test_unknown_method_is_unimplemented(harness: Harness) -> None:
    error = harness.fail("Missing")
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED


def test_error_interceptor_alone_still_returns_a_request_id() -> None:
    error_logger, _ = _logger("test.interceptor.alone")
    server, port = _serve([ErrorInterceptor(error_logger)])
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            harness = Harness(channel, ListHandler(), ListHandler())
            error = harness.fail("Bug")
            request_id = _trailing(error)[REQUEST_ID_KEY]  # type: ignore[arg-type]
            assert error.details() == f"internal error (request id {request_id})"
    finally:
        server.stop(None).wait()


def test_status_for_keeps_trailing_metadata_and_code() -> None:
    status = status_for(InvalidInput("bad name", field="name"), ((REQUEST_ID_KEY, "r1"),))
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    assert status.details == "bad name"
    keys = [key for key, _ in status.trailing_metadata]
    assert keys == [REQUEST_ID_KEY, "grpc-status-details-bin"]
