"""The SDK sends the environment's W3C TRACEPARENT (set in every job run and crawl) with every
call that sends none of its own, so the server records a run's calls in the trace of the call
that started it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from sluice.sdk.client import Client
from sluice.sdk.config import ClientOptions
from sluice.sdk.trace_context import valid_traceparent

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OTHER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
METHOD = "/test.Echo/Metadata"


@pytest.fixture
def echo() -> Iterator[str]:
    """A server answering every call with the traceparent and authorization it received."""

    def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
        seen = dict(context.invocation_metadata())
        return f"{seen.get('traceparent', '')}|{seen.get('authorization', '')}".encode()

    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Metadata": grpc.unary_unary_rpc_method_handler(handle)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)


def sent(
    address: str, options: ClientOptions, metadata: tuple[tuple[str, str], ...] = ()
) -> tuple[str, str]:
    client = Client(options.__class__(**{**options.__dict__, "address": address}))
    try:
        call = client._channel.unary_unary(METHOD)
        answer = call(b"", metadata=metadata or None, timeout=10).decode()
        traceparent, _, authorization = answer.partition("|")
        return traceparent, authorization
    finally:
        client.close()


def test_the_environments_traceparent_goes_with_every_call(
    echo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", PARENT)
    assert sent(echo, ClientOptions(token="t0k", config_file="/dev/null")) == (
        PARENT,
        "Bearer t0k",
    )


def test_a_calls_own_traceparent_is_kept(echo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACEPARENT", PARENT)
    options = ClientOptions(token="t0k", config_file="/dev/null")
    assert sent(echo, options, (("traceparent", OTHER),))[0] == OTHER


def test_options_override_the_environment_and_empty_sends_none(
    echo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", PARENT)
    assert sent(echo, ClientOptions(traceparent=OTHER, config_file="/dev/null"))[0] == OTHER
    assert sent(echo, ClientOptions(traceparent="", config_file="/dev/null"))[0] == ""


@pytest.mark.parametrize(
    "bad",
    [
        "garbage",
        "00-" + "0" * 32 + "-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-" + "0" * 16 + "-01",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        PARENT.upper(),
        PARENT + "\nx",
    ],
)
def test_an_invalid_traceparent_is_ignored(
    echo: str, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("TRACEPARENT", bad)
    assert valid_traceparent(bad) == ""
    assert sent(echo, ClientOptions(config_file="/dev/null"))[0] == ""
