"""Followers never starve calls: with the cap of log/audit streams open, unary calls are served
at once, and a further stream is refused with a clear error (a real server)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from sluice.audit.v1 import audit_pb2, audit_pb2_grpc
from sluice.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from sluice.iam.v1 import iam_pb2, iam_pb2_grpc
from tests.integration.conftest import (
    ServerProcess,
    authed_channel,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.integration

# Four worker threads, two of them at most for streams, one stream per caller.
ARGS = ("--max-workers", "4", "--max-streams", "2", "--max-streams-per-principal", "1")
PROMPT_S = 5.0
UNARY_CALLS = 8


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    running = start_server(Path(tmp_path_factory.mktemp("stream-limits")), *ARGS)
    yield running
    stop_server(running.process)


def principal_token(address: str, name: str) -> str:
    """A token of a new admin principal in an account of its own."""
    account = str(uuid.uuid4().int)[:12]
    with authed_channel(address) as operator:
        iam = iam_pb2_grpc.IamServiceStub(operator)
        iam.CreatePrincipal(
            iam_pb2.CreatePrincipalRequest(account=account, name=name, roles=["admin"])
        )
        return iam.CreateToken(
            iam_pb2.CreateTokenRequest(account=account, principal_name=name)
        ).token


def follow(channel: grpc.Channel) -> grpc.Future:
    """An audit follow that has delivered an event (so it is served); RpcError if refused."""
    stream = audit_pb2_grpc.AuditServiceStub(channel).FollowAuditEvents(
        audit_pb2.FollowAuditEventsRequest(), timeout=120
    )
    # Headers come once the follow is in place (or with the refusal): then make an event.
    stream.initial_metadata()
    catalog_pb2_grpc.CatalogServiceStub(channel).GetDatabases(
        catalog_pb2.GetDatabasesRequest(), timeout=PROMPT_S
    )
    assert next(stream).events
    return stream


def refused(channel: grpc.Channel) -> grpc.RpcError:
    stream = audit_pb2_grpc.AuditServiceStub(channel).FollowAuditEvents(
        audit_pb2.FollowAuditEventsRequest(), timeout=30
    )
    with pytest.raises(grpc.RpcError) as caught:
        next(stream)
    return caught.value


def test_streams_at_the_cap_leave_unary_calls_served_and_further_streams_refused(
    limited: ServerProcess,
) -> None:
    alice = principal_token(limited.address, "alice")
    bob = principal_token(limited.address, "bob")
    with (
        authed_channel(limited.address) as operator,
        authed_channel(limited.address, alice) as as_alice,
        authed_channel(limited.address, bob) as as_bob,
    ):
        first, second = follow(operator), follow(as_alice)
        try:
            catalog = catalog_pb2_grpc.CatalogServiceStub(operator)
            began = time.monotonic()
            with ThreadPoolExecutor(UNARY_CALLS) as pool:
                replies = list(
                    pool.map(
                        lambda _: catalog.GetDatabases(
                            catalog_pb2.GetDatabasesRequest(), timeout=PROMPT_S
                        ),
                        range(UNARY_CALLS),
                    )
                )
            assert len(replies) == UNARY_CALLS
            assert time.monotonic() - began < PROMPT_S

            again = refused(as_alice)
            assert again.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "principal alice" in again.details()
            assert "max 1" in again.details()
            full = refused(as_bob)
            assert full.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "the most it serves at once (max 2)" in full.details()
        finally:
            first.cancel()
            second.cancel()

        # A closed stream gives its slot back.
        deadline = time.monotonic() + 30
        while True:
            try:
                follow(as_bob).cancel()
                break
            except grpc.RpcError as error:
                assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                assert time.monotonic() < deadline, "the cancelled streams' slots never came back"
                time.sleep(0.1)
