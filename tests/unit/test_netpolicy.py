"""Network policies per sandbox uid (agents.netpolicy): endpoints, resolution and rule text."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Callable

import pytest

from sluice.agents import netpolicy
from sluice.agents.netpolicy import Destination, Endpoint
from sluice.common.errors import InternalError, InvalidInput

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:5432", "127.0.0.1", 5432),
        ("[::1]:50051", "::1", 50051),
        ("db.internal:5432", "db.internal", 5432),
        ("[::ffff:10.0.0.1]:1", "::ffff:10.0.0.1", 1),
    ],
)
def test_endpoints_parse_and_print_back(text: str, host: str, port: int) -> None:
    endpoint = Endpoint.parse(text)
    assert endpoint == Endpoint(host, port)
    assert str(endpoint) == text


def test_port_ranges_parse_and_print_back() -> None:
    assert Endpoint.parse("127.0.0.1:10000-19999") == Endpoint("127.0.0.1", 10000, 19999)
    assert Endpoint.parse("[::1]:7-7") == Endpoint("::1", 7, 7)
    assert str(Endpoint("::1", 10000, 19999)) == "[::1]:10000-19999"
    assert Endpoint("h", 5).ports == "5"


@pytest.mark.parametrize(
    "text",
    [
        "5432",
        ":5432",
        "host:",
        "host:http",
        "host:0",
        "host:65536",
        "::1:80",
        "[::1]80",
        "[db]:80",
        "[::1]:",
        "host:20-10",
        "host:1-",
        "host:-5",
        "host:1-70000",
        "a b:80",
        "host;drop:80",
        "x{y}:1",
    ],
)
def test_malformed_endpoints_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        Endpoint.parse(text)


def test_endpoint_fields_are_checked() -> None:
    for host, port in [("", 80), ("h", True), ("h", "80"), ("h", -1), ("x" * 254, 1)]:
        with pytest.raises(InvalidInput):
            Endpoint(host, port)  # type: ignore[arg-type]
    for last in [79, 65536, "81", False]:
        with pytest.raises(InvalidInput):
            Endpoint("h", 80, last)  # type: ignore[arg-type]


def test_addresses_of_this_host_become_every_local_address() -> None:
    endpoints = [Endpoint("127.0.0.1", 5432), Endpoint("::1", 5432), Endpoint("0.0.0.0", 9)]
    assert netpolicy.resolve(endpoints) == [Destination("9"), Destination("5432")]


def test_other_addresses_stay_exact_and_mapped_ones_are_ipv4() -> None:
    endpoints = [
        Endpoint("192.0.2.7", 443),
        Endpoint("::ffff:192.0.2.7", 443),
        Endpoint("2001:db8::5", 443),
    ]
    assert netpolicy.resolve(endpoints) == [
        Destination("443", "192.0.2.7"),
        Destination("443", "2001:db8::5"),
    ]


def test_destinations_are_ordered_by_ports_and_deduplicated() -> None:
    endpoints = [
        Endpoint("127.0.0.1", 10, 20),
        Endpoint("127.0.0.1", 10),
        Endpoint("::1", 10, 20),
        Endpoint("192.0.2.1", 10, 12),
    ]
    assert netpolicy.resolve(endpoints) == [
        Destination("10"),
        Destination("10-12", "192.0.2.1"),
        Destination("10-20"),
    ]


def test_host_names_resolve_to_all_their_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(host: str, port: int, **_: object) -> list[tuple]:
        assert host == "db.internal"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.10", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::10", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(netpolicy.socket, "getaddrinfo", getaddrinfo)
    assert netpolicy.resolve([Endpoint("db.internal", 5432)]) == [
        Destination("5432"),
        Destination("5432", "192.0.2.10"),
        Destination("5432", "2001:db8::10"),
    ]


def test_a_host_that_does_not_resolve_is_invalid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(host: str, port: int, **_: object) -> list[tuple]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(netpolicy.socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(InvalidInput, match=r"nowhere\.invalid.*does not resolve"):
        netpolicy.resolve([Endpoint("nowhere.invalid", 1)])


def test_policy_transaction_replaces_one_uids_chain_and_map_element() -> None:
    text = netpolicy.policy_transaction(
        1234,
        [
            Destination("5432"),
            Destination("443", "192.0.2.7"),
            Destination("10000-19999", "2001:db8::5"),
        ],
    )
    assert text.splitlines() == [
        "add table inet sluice",
        "add map inet sluice uid_policies { type uid : verdict ; }",
        "add chain inet sluice output "
        "{ type filter hook output priority filter ; policy accept ; }",
        "flush chain inet sluice output",
        "add rule inet sluice output meta skuid vmap @uid_policies",
        "add chain inet sluice uid_1234",
        "flush chain inet sluice uid_1234",
        "add rule inet sluice uid_1234 fib daddr type local tcp dport 5432 "
        "counter reject with tcp reset",
        "add rule inet sluice uid_1234 fib daddr type local "
        "meta l4proto { udp, udplite, sctp, dccp } th dport 5432 "
        "counter reject with icmpx type port-unreachable",
        "add rule inet sluice uid_1234 ip daddr 192.0.2.7 tcp dport 443 "
        "counter reject with tcp reset",
        "add rule inet sluice uid_1234 ip daddr 192.0.2.7 "
        "meta l4proto { udp, udplite, sctp, dccp } th dport 443 "
        "counter reject with icmpx type port-unreachable",
        "add rule inet sluice uid_1234 ip6 daddr 2001:db8::5 tcp dport 10000-19999 "
        "counter reject with tcp reset",
        "add rule inet sluice uid_1234 ip6 daddr 2001:db8::5 "
        "meta l4proto { udp, udplite, sctp, dccp } th dport 10000-19999 "
        "counter reject with icmpx type port-unreachable",
        "add element inet sluice uid_policies { 1234 : jump uid_1234 }",
    ]
    # No other uid's chain or element is named.
    assert set(re.findall(r"uid_\d+", text)) == {"uid_1234"}


def test_an_empty_policy_denies_nothing_but_still_replaces_the_old_one() -> None:
    lines = netpolicy.policy_transaction(77, []).splitlines()
    assert "flush chain inet sluice uid_77" in lines
    assert not [line for line in lines if "reject" in line]
    assert lines[-1] == "add element inet sluice uid_policies { 77 : jump uid_77 }"


def test_removal_transaction_deletes_only_that_uid_even_when_missing() -> None:
    lines = netpolicy.removal_transaction(1234).splitlines()
    assert lines[-5:] == [
        "add chain inet sluice uid_1234",
        "add element inet sluice uid_policies { 1234 : jump uid_1234 }",
        "delete element inet sluice uid_policies { 1234 }",
        "flush chain inet sluice uid_1234",
        "delete chain inet sluice uid_1234",
    ]
    assert not [line for line in lines if line.startswith(("flush chain inet sluice output",))]


@pytest.mark.parametrize("uid", [0, -1, 2**32 - 1, True, "1000", 1.5])
def test_root_and_impossible_uids_are_invalid_input(uid: object) -> None:
    with pytest.raises(InvalidInput):
        netpolicy.apply(uid, [])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        netpolicy.remove(uid)  # type: ignore[arg-type]


def _no_nft(*args: object, **kwargs: object) -> None:
    raise AssertionError("nft must not run")


def test_without_root_nothing_is_enforced_and_it_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(netpolicy.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(netpolicy, "_run_nft", _no_nft)
    result = netpolicy.apply(1001, [Endpoint("127.0.0.1", 5432)])
    assert result.startswith("not enforced: ") and "root" in result
    assert netpolicy.status() == result
    assert netpolicy.remove(1001) is None
    assert netpolicy.policy_uids() == set()


def test_without_nft_nothing_is_enforced_and_it_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netpolicy.os, "geteuid", lambda: 0)
    monkeypatch.setattr(netpolicy, "_nft_path", lambda: None)
    monkeypatch.setattr(netpolicy, "_run_nft", _no_nft)
    result = netpolicy.apply(1001, [Endpoint("127.0.0.1", 5432)])
    assert (
        result
        == "not enforced: nft is not installed (scripts/system_packages.sh installs nftables)"
    )
    assert netpolicy.status() == result


def _fake_nft(
    apply_rc: int, check_rc: int, calls: list[list[str]]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(args: list[str], script: str | None = None) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        rc = check_rc if "--check" in args else apply_rc
        stderr = "/dev/stdin:9:1-5: Error: Could not process rule: No such file or directory\n"
        return subprocess.CompletedProcess(["nft", *args], rc, "", stderr if rc else "")

    return run


def test_a_refused_transaction_is_an_internal_error_with_nfts_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(netpolicy.os, "geteuid", lambda: 0)
    monkeypatch.setattr(netpolicy, "_nft_path", lambda: "/usr/sbin/nft")
    monkeypatch.setattr(netpolicy, "_run_nft", _fake_nft(1, 0, calls))
    with pytest.raises(InternalError, match=r"nftables refused.*No such file or directory"):
        netpolicy.apply(1001, [Endpoint("127.0.0.1", 5432)])
    assert calls == [["-f", "-"], ["--check", "-f", "-"]]


def test_a_kernel_without_the_needed_nftables_features_is_not_enforced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(netpolicy.os, "geteuid", lambda: 0)
    monkeypatch.setattr(netpolicy, "_nft_path", lambda: "/usr/sbin/nft")
    monkeypatch.setattr(netpolicy, "_run_nft", _fake_nft(1, 1, []))
    result = netpolicy.apply(1001, [Endpoint("127.0.0.1", 5432)])
    assert result.startswith("not enforced: the kernel refuses nftables rules: ")
    assert netpolicy.status() == result


def test_a_fence_refuses_the_local_range_but_the_own_block_and_exempt_ports() -> None:
    fence = netpolicy.PortFence("20000-32767", "20256-20511", (25000, 25000))
    lines = netpolicy.policy_transaction(77, [Destination("5432")], fence).splitlines()

    rules = [line for line in lines if line.startswith("add rule inet sluice uid_77")]
    assert rules[-2:] == [
        "add rule inet sluice uid_77 fib daddr type local tcp dport 20000-32767 "
        "tcp dport != { 20256-20511, 25000 } counter reject with tcp reset",
        "add rule inet sluice uid_77 fib daddr type local meta l4proto "
        "{ udp, udplite, sctp, dccp } th dport 20000-32767 th dport != { 20256-20511, 25000 } "
        "counter reject with icmpx type port-unreachable",
    ]


@pytest.mark.parametrize(
    ("fenced", "own", "exempt"),
    [
        ("20000", "20000-20255", ()),
        ("1-x", "1-2", ()),
        ("1-70000", "1-2", ()),
        ("1-9", "1-2", (0,)),
    ],
)
def test_malformed_fences_are_invalid_input(fenced: str, own: str, exempt: tuple[int, ...]) -> None:
    with pytest.raises(InvalidInput):
        netpolicy.PortFence(fenced, own, exempt)


def test_with_a_fence_the_uid_marks_its_local_connections_and_answers_no_other_mark() -> None:
    fence = netpolicy.PortFence("20000-32767", "20256-20511")
    rules = [
        line.removeprefix("add rule inet sluice uid_77 ")
        for line in netpolicy.policy_transaction(77, [], fence).splitlines()
        if line.startswith("add rule inet sluice uid_77")
    ]
    assert rules[:3] == [
        "fib daddr type local ct state new ct mark set 77",
        "ct direction reply ct mark != { 0, 77 } meta l4proto tcp counter reject with tcp reset",
        "ct direction reply ct mark != { 0, 77 } counter drop",
    ]
    assert "ct mark" not in netpolicy.policy_transaction(77, [])
