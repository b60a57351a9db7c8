"""The stream counters: per caller, in total, given back on release."""

from __future__ import annotations

import pytest

from sluice.common.errors import ResourceNumberLimitExceeded
from sluice.control_plane.interceptors.streams import StreamLimits, _caller

pytestmark = pytest.mark.unit


def test_a_caller_at_its_cap_is_refused_while_others_still_get_slots() -> None:
    limits = StreamLimits(max_streams=3, max_per_principal=2)
    limits.acquire("alice")
    limits.acquire("alice")

    with pytest.raises(ResourceNumberLimitExceeded) as refused:
        limits.acquire("alice")

    assert "alice already has 2" in refused.value.message
    assert refused.value.reason == "ResourceNumberLimitExceededException"
    limits.acquire("bob")
    assert limits.open_streams() == 3


def test_the_server_cap_holds_whoever_asks_and_a_release_frees_a_slot() -> None:
    limits = StreamLimits(max_streams=2, max_per_principal=2)
    limits.acquire("alice")
    limits.acquire("bob")

    with pytest.raises(ResourceNumberLimitExceeded) as refused:
        limits.acquire("carol")
    assert "the most it serves at once (max 2)" in refused.value.message

    limits.release("alice")
    limits.acquire("carol")
    assert limits.open_streams() == 2


def test_zero_streams_refuses_every_stream() -> None:
    with pytest.raises(ResourceNumberLimitExceeded):
        StreamLimits(max_streams=0, max_per_principal=1).acquire("alice")


class _Peer:
    def __init__(self, peer: str) -> None:
        self._peer = peer

    def peer(self) -> str:
        return self._peer


@pytest.mark.parametrize(
    ("peer", "caller"),
    [
        ("ipv4:10.0.0.7:5151", "client 10.0.0.7"),
        ("ipv4:10.0.0.7:6262", "client 10.0.0.7"),
        ("ipv6:%5B::1%5D:5151", "client ::1"),
        ("ipv6:[fe80::1]:5151", "client fe80::1"),
    ],
)
def test_without_a_principal_a_stream_counts_against_its_address_without_the_port(
    peer: str, caller: str
) -> None:
    assert _caller(_Peer(peer)) == caller  # type: ignore[arg-type]
