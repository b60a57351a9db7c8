"""Client options and address resolution: argument > options > $SLUICE_ADDRESS > default."""

from __future__ import annotations

import dataclasses

import pytest

from sluice import sdk
from sluice.sdk.config import ADDRESS_ENV, DEFAULT_ADDRESS, ClientOptions

pytestmark = pytest.mark.unit


@pytest.fixture
def no_env_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ADDRESS_ENV, raising=False)


def test_default_address(no_env_address: None) -> None:
    with sdk.connect() as client:
        assert client.address == DEFAULT_ADDRESS == "localhost:50051"


def test_environment_beats_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADDRESS_ENV, "env-host:1234")

    with sdk.connect() as client:
        assert client.address == "env-host:1234"


def test_options_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADDRESS_ENV, "env-host:1234")

    with sdk.connect(options=ClientOptions(address="opt-host:2")) as client:
        assert client.address == "opt-host:2"


def test_argument_beats_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADDRESS_ENV, "env-host:1234")
    options = ClientOptions(address="opt-host:2", timeout_s=5.0)

    with sdk.connect("arg-host:3", options=options) as client:
        assert client.address == "arg-host:3"
        assert client.options.timeout_s == 5.0
    assert options.address == "opt-host:2"


def test_empty_environment_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADDRESS_ENV, "")

    assert ClientOptions().resolved_address() == DEFAULT_ADDRESS


def test_resolution_reads_the_given_environment() -> None:
    assert ClientOptions().resolved_address({ADDRESS_ENV: "x:1"}) == "x:1"
    assert ClientOptions().resolved_address({}) == DEFAULT_ADDRESS


def test_options_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ClientOptions().timeout_s = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout_s": 0},
        {"timeout_s": -1.0},
        {"max_message_bytes": 0},
        {"metadata": (("only-a-key",),)},
        {"metadata": (("key", 1),)},
    ],
)
def test_invalid_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ClientOptions(**kwargs)  # type: ignore[arg-type]


def test_no_timeout_is_allowed() -> None:
    assert ClientOptions(timeout_s=None).timeout_s is None


def test_channel_options_carry_the_message_limit() -> None:
    assert dict(ClientOptions(max_message_bytes=1234).channel_options()) == {
        "grpc.max_send_message_length": 1234,
        "grpc.max_receive_message_length": 1234,
    }


def test_close_is_idempotent(no_env_address: None) -> None:
    client = sdk.connect()
    client.close()
    client.close()
