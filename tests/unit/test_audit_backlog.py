"""A call whose audit record cannot be queued fails: never a success without its record.

A real in-process grpc server with the audit and error interceptors, whose trail writes to a
store that cannot keep up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent import futures
from typing import Any, cast

import grpc
import pytest
from google.protobuf import wrappers_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from sluice.common.db import Database
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.audit.model import AuditRecord, Completion
from sluice.control_plane.audit.store import AuditStore
from sluice.control_plane.audit.trail import AuditConfig, AuditTrail
from sluice.control_plane.interceptors import ErrorInterceptor

pytestmark = pytest.mark.unit

METHOD = "/sluice.test.v1.Fake/Echo"


class StalledStore:
    """Keeps the records written; every write waits until the test releases the store."""

    def __init__(self) -> None:
        self.written = 0
        self.entered = threading.Event()
        self.released = threading.Event()

    def recover_interrupted(self, end_ns: int) -> int:
        return 0

    def write_batch(
        self, records: Sequence[AuditRecord], completions: Sequence[Completion] = ()
    ) -> int:
        self.entered.set()
        assert self.released.wait(30), "the test never released the store"
        self.written += len(records)
        return len(records)


def _echo(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
    return wrappers_pb2.StringValue(value=request.value)


@pytest.fixture
def stalled() -> Iterator[tuple[StalledStore, AuditTrail, grpc.Channel]]:
    store = StalledStore()
    config = AuditConfig(flush_interval_s=0.01, max_queue=1, enqueue_timeout_s=0.3)
    trail = AuditTrail(
        cast(Database, None),
        PageTokenCodec(b"audit-backlog-test-key"),
        config,
        store=cast(AuditStore, store),
    )
    trail.start()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=[trail.interceptor(), ErrorInterceptor()],
    )
    handler = grpc.unary_unary_rpc_method_handler(
        _echo,
        request_deserializer=wrappers_pb2.StringValue.FromString,
        response_serializer=wrappers_pb2.StringValue.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("sluice.test.v1.Fake", {"Echo": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield store, trail, channel
    finally:
        store.released.set()
        server.stop(None).wait()
        trail.stop()


def echo(channel: grpc.Channel, value: str) -> str:
    stub = channel.unary_unary(
        METHOD,
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )
    return stub(wrappers_pb2.StringValue(value=value), timeout=10).value


def test_a_call_whose_record_cannot_be_queued_fails_and_says_why(
    stalled: tuple[StalledStore, AuditTrail, grpc.Channel],
) -> None:
    store, trail, channel = stalled
    assert echo(channel, "first") == "first"
    assert store.entered.wait(10)  # the writer holds the first record, stalled
    assert echo(channel, "second") == "second"  # its record fills the queue

    with pytest.raises(grpc.RpcError) as refused:
        echo(channel, "third")

    error = refused.value
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert "audit trail cannot keep up" in error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "OperationTimeoutException"
    assert trail.stats().writer.refused == 1

    store.released.set()
    assert trail.flush(10)
    # The two calls that succeeded are on record; the refused one was never queued.
    assert (store.written, trail.stats().writer.written) == (2, 2)
