"""Network policies per sandbox uid (sluice.agents.netpolicy) enforced by this machine's kernel.

Throwaway system users connect, as themselves, to listeners of this test and to the machine's
PostgreSQL; the kernel must refuse exactly what their policy denies, and nothing to root.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sluice.agents import netpolicy
from sluice.agents.netpolicy import Endpoint

STATUS = netpolicy.status()
pytestmark = pytest.mark.skipif(
    not STATUS.startswith("enforced"), reason=f"network policies here are {STATUS}"
)

# Debian's interpreter: readable by every user, unlike a venv under a private home.
PYTHON = "/usr/bin/python3"
PROBE = r"""
import errno, json, socket, sys
results = {}
for proto, host, port in json.loads(sys.argv[1]):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:
        with socket.socket(family, kind) as s:
            s.settimeout(3)
            s.connect((host, port))
            if proto == "udp":
                s.send(b"ping")
                s.recv(16)
        outcome = "ok"
    except socket.timeout:
        outcome = "timeout"
    except OSError as exc:
        outcome = errno.errorcode.get(exc.errno, str(exc))
    results[f"{proto} {host} {port}"] = outcome
print(json.dumps(results))
"""


@dataclass(frozen=True)
class User:
    name: str
    uid: int


@dataclass(frozen=True)
class Listeners:
    """Dual-stack listeners of this process, on every address of the host."""

    denied: int
    open: int
    udp: int


def _own_address() -> str | None:
    """A non-loopback address of this host, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


OWN_ADDRESS = _own_address()


def _user(name: str) -> Iterator[User]:
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    user = User(name, pwd.getpwnam(name).pw_uid)
    try:
        yield user
    finally:
        netpolicy.remove(user.uid)
        subprocess.run(["userdel", name], check=False, capture_output=True)


@pytest.fixture(scope="module")
def alice() -> Iterator[User]:
    yield from _user(f"slnpa{os.getpid()}")


@pytest.fixture(scope="module")
def bob() -> Iterator[User]:
    yield from _user(f"slnpb{os.getpid()}")


def _tcp_listener() -> socket.socket:
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind(("::", 0))
    listener.listen(64)
    return listener


@pytest.fixture(scope="module")
def listeners() -> Iterator[Listeners]:
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        denied = stack.enter_context(_tcp_listener())
        open_ = stack.enter_context(_tcp_listener())
        echo = stack.enter_context(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
        echo.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        echo.bind(("::", 0))
        echo.settimeout(0.2)

        def serve() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    data, peer = echo.recvfrom(16)
                    echo.sendto(data, peer)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield Listeners(denied.getsockname()[1], open_.getsockname()[1], echo.getsockname()[1])
        stop.set()
        thread.join(timeout=5)


def _reach(user: User | None, targets: list[tuple[str, str, int]]) -> dict[str, str]:
    """What each (proto, host, port) gives to a connection of user (None: root)."""
    result = subprocess.run(
        [PYTHON, "-c", PROBE, json.dumps(targets)],
        user=user.name if user else None,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def _targets(listeners: Listeners) -> list[tuple[str, str, int]]:
    hosts = ["127.0.0.1", "::1", *([OWN_ADDRESS] if OWN_ADDRESS else [])]
    return [
        *[("tcp", host, listeners.denied) for host in hosts],
        ("tcp", "127.0.0.1", listeners.open),
        ("tcp", "::1", listeners.open),
        ("udp", "127.0.0.1", listeners.udp),
    ]


def _all(outcome: str, listeners: Listeners) -> dict[str, str]:
    return {f"{p} {h} {port}": outcome for p, h, port in _targets(listeners)}


# The kernel refuses a denied TCP connect with the reset; a denied datagram fails its send.
REFUSED = {"tcp": "ECONNREFUSED", "udp": "EPERM"}


def _denying(listeners: Listeners, *ports: int) -> dict[str, str]:
    return {
        f"{p} {h} {port}": REFUSED[p] if port in ports else "ok"
        for p, h, port in _targets(listeners)
    }


def test_a_policy_refuses_its_uid_what_it_denies_and_nothing_else(
    alice: User, bob: User, listeners: Listeners
) -> None:
    targets = _targets(listeners)
    assert _reach(alice, targets) == _all("ok", listeners)

    status = netpolicy.apply(
        alice.uid,
        [Endpoint("127.0.0.1", listeners.denied), Endpoint.parse(f"localhost:{listeners.udp}")],
    )
    assert status.startswith("enforced: "), status
    assert alice.uid in netpolicy.policy_uids()
    # Denied on 127.0.0.1, on ::1 and on the host's own address alike; the open port stays open.
    assert _reach(alice, targets) == _denying(listeners, listeners.denied, listeners.udp)
    assert _reach(None, targets) == _all("ok", listeners)
    assert _reach(bob, targets) == _all("ok", listeners)

    # A second uid's policy leaves the first one's as it is, and the other way round.
    netpolicy.apply(bob.uid, [Endpoint.parse(f"[::1]:{listeners.open}")])
    assert _reach(bob, targets) == _denying(listeners, listeners.open)
    assert _reach(alice, targets) == _denying(listeners, listeners.denied, listeners.udp)

    netpolicy.remove(alice.uid)
    assert alice.uid not in netpolicy.policy_uids()
    assert _reach(alice, targets) == _all("ok", listeners)
    assert _reach(bob, targets) == _denying(listeners, listeners.open)

    netpolicy.remove(bob.uid)
    netpolicy.remove(bob.uid)
    assert _reach(bob, targets) == _all("ok", listeners)
    assert not {alice.uid, bob.uid} & netpolicy.policy_uids()


def test_applying_again_replaces_the_previous_policy(alice: User, listeners: Listeners) -> None:
    targets = _targets(listeners)
    netpolicy.apply(alice.uid, [Endpoint("127.0.0.1", listeners.denied)])
    netpolicy.apply(alice.uid, [Endpoint("127.0.0.1", listeners.open)])
    assert _reach(alice, targets) == _denying(listeners, listeners.open)
    netpolicy.apply(alice.uid, [])
    assert _reach(alice, targets) == _all("ok", listeners)
    rules = subprocess.run(
        ["nft", "list", "chain", "inet", "sluice", netpolicy.chain_name(alice.uid)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "reject" not in rules
    output = subprocess.run(
        ["nft", "list", "chain", "inet", "sluice", "output"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert output.count("vmap") == 1
    netpolicy.remove(alice.uid)


def test_a_port_range_is_refused_whole(alice: User, listeners: Listeners) -> None:
    targets = _targets(listeners)
    first, last = sorted([listeners.denied, listeners.open])
    netpolicy.apply(alice.uid, [Endpoint.parse(f"localhost:{first}-{last}")])
    try:
        in_range = [
            p for p in (listeners.denied, listeners.open, listeners.udp) if first <= p <= last
        ]
        assert _reach(alice, targets) == _denying(listeners, *in_range)
    finally:
        netpolicy.remove(alice.uid)


def test_the_catalog_database_is_refused_over_tcp(alice: User) -> None:
    postgres = [("tcp", "127.0.0.1", 5432)]
    if _reach(None, postgres) != {"tcp 127.0.0.1 5432": "ok"}:
        pytest.skip("no PostgreSQL listens on 127.0.0.1:5432 here")
    assert _reach(alice, postgres) == {"tcp 127.0.0.1 5432": "ok"}
    netpolicy.apply(alice.uid, [Endpoint.parse("127.0.0.1:5432")])
    try:
        assert _reach(alice, postgres) == {"tcp 127.0.0.1 5432": "ECONNREFUSED"}
        assert _reach(None, postgres) == {"tcp 127.0.0.1 5432": "ok"}
    finally:
        netpolicy.remove(alice.uid)
    assert _reach(alice, postgres) == {"tcp 127.0.0.1 5432": "ok"}


def test_other_tables_are_left_as_they_are(alice: User) -> None:
    table = f"sluice_test_{os.getpid()}"
    subprocess.run(
        ["nft", "-f", "-"],
        input=f"add table inet {table}\nadd chain inet {table} c\n"
        f"add rule inet {table} c meta skuid {alice.uid} tcp dport 9 counter accept\n",
        text=True,
        check=True,
    )
    try:
        before = subprocess.run(
            ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=True
        ).stdout
        netpolicy.apply(alice.uid, [Endpoint("127.0.0.1", 9)])
        netpolicy.remove(alice.uid)
        after = subprocess.run(
            ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=True
        ).stdout
        assert after == before
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], check=False)


def test_a_fence_refuses_the_range_but_its_own_block_and_exempt_ports(alice: User) -> None:
    # Three ephemeral listeners stand for three blocks of a Sluice range around them.
    with contextlib.ExitStack() as stack:
        own, other, exempt = (stack.enter_context(_tcp_listener()) for _ in range(3))
        ports = {
            name: s.getsockname()[1]
            for name, s in zip(("own", "other", "exempt"), (own, other, exempt), strict=True)
        }
        low, high = min(ports.values()), max(ports.values())
        fence = netpolicy.PortFence(
            f"{low}-{high}", f"{ports['own']}-{ports['own']}", (ports["exempt"],)
        )
        targets = [("tcp", host, port) for host in ("127.0.0.1", "::1") for port in ports.values()]
        expected = {
            f"tcp {host} {port}": "ECONNREFUSED" if name == "other" else "ok"
            for host in ("127.0.0.1", "::1")
            for name, port in ports.items()
        }
        status = netpolicy.apply(alice.uid, [], fence)
        try:
            assert "and local ports" in status
            assert _reach(alice, targets) == expected
            assert _reach(None, targets) == {key: "ok" for key in expected}
        finally:
            netpolicy.remove(alice.uid)


LISTEN = r"""
import socket, sys
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    sys.stdin.read()
"""


def test_a_sandbox_socket_answers_no_other_sandbox_uid_whatever_its_port(
    alice: User, bob: User
) -> None:
    # Alice listens on an ephemeral port, outside every block: the owner rules alone guard it.
    server = subprocess.Popen(
        [PYTHON, "-c", LISTEN],
        user=alice.name,
        cwd="/",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        target = [("tcp", "127.0.0.1", port)]
        netpolicy.apply(alice.uid, [], netpolicy.PortFence("20000-20511", "20000-20255"))
        netpolicy.apply(bob.uid, [], netpolicy.PortFence("20000-20511", "20256-20511"))

        assert _reach(bob, target) == {f"tcp 127.0.0.1 {port}": "timeout"}
        assert _reach(alice, target) == {f"tcp 127.0.0.1 {port}": "ok"}
        assert _reach(None, target) == {f"tcp 127.0.0.1 {port}": "ok"}
    finally:
        server.kill()
        server.wait()
        netpolicy.remove(alice.uid)
        netpolicy.remove(bob.uid)
