"""What a sandbox's OS user is refused on the network: the server's database over TCP, and the
other sandboxes' port blocks; the sandboxes' port blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.agents import netpolicy
from sluice.agents.ports import PortBlock, PortRegistry
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.errors import StartupError
from sluice.control_plane.jobs import sandbox_network
from sluice.control_plane.jobs.sandbox_network import (
    denied_endpoints,
    held_ports,
    release_ports,
    sandbox_ports,
    secure_sandbox_user,
    server_ports,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "denied"),
    [
        ("postgresql://postgres@127.0.0.1:5432/test", [netpolicy.Endpoint("127.0.0.1", 5432)]),
        ("postgresql+psycopg://u:p@db.internal/sluice", [netpolicy.Endpoint("db.internal", 5432)]),
        ("postgresql://u@[::1]:6543/x", [netpolicy.Endpoint("::1", 6543)]),
        # A unix socket (its directory's mode is the deployment's to close) and SQLite: no rule.
        ("postgresql://u@/x?host=/var/run/postgresql", []),
        ("sqlite:////var/lib/sluice/sluice.db", []),
        ("not a url", []),
    ],
)
def test_the_database_is_denied_when_reached_over_tcp(
    url: str, denied: list[netpolicy.Endpoint]
) -> None:
    assert denied_endpoints(url) == denied


def test_without_root_nothing_is_installed_and_the_status_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox_network.os_users, "can_switch_users", lambda: False)
    applied: list[object] = []
    monkeypatch.setattr(sandbox_network.netpolicy, "apply", lambda *a: applied.append(a))

    status = secure_sandbox_user("sluice-sb-0000abcd", "postgresql://u@127.0.0.1/x")

    assert status.startswith("not enforced")
    assert applied == []


def test_the_policy_of_the_sandbox_user_names_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    applied = _fake_root(monkeypatch)

    status = secure_sandbox_user("sluice-sb-0000abcd", "postgresql://u@127.0.0.1:5432/x")

    assert applied == [(4242, [netpolicy.Endpoint("127.0.0.1", 5432)], None)]
    assert status == "enforced: the database 127.0.0.1:5432 refused"


def test_the_policy_fences_the_sluice_range_but_the_sandbox_block_and_server_ports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    applied = _fake_root(monkeypatch)
    registry = PortRegistry(tmp_path / "registry", 20000, 32767, is_free=lambda _block: True)

    status = secure_sandbox_user(
        "sluice-sb-0000abcd",
        "sqlite:////x.db",
        PortBlock(20256),
        server_ports(ServerConfig(data_dir=tmp_path, port=25000)),
        registry,
    )

    assert applied == [(4242, [], netpolicy.PortFence("20000-32767", "20256-20511", (25000,)))]
    assert status == "enforced: local ports 20000-32767 but its own 20256-20511 refused"


def test_server_ports_are_the_configured_ones(tmp_path: Path) -> None:
    assert server_ports(ServerConfig(data_dir=tmp_path, port=0)) == []
    assert server_ports(ServerConfig(data_dir=tmp_path, port=50051, glue_port=8080)) == [
        50051,
        8080,
    ]


def test_sandbox_ports_are_claimed_once_and_found_again(tmp_path: Path) -> None:
    registry = PortRegistry(tmp_path / "registry", 20000, 32767, is_free=lambda _block: True)
    (tmp_path / "a").mkdir()

    claimed = sandbox_ports(tmp_path / "a", registry)

    assert sandbox_ports(tmp_path / "a", registry) == claimed
    assert held_ports(tmp_path / "a", registry) == claimed
    assert held_ports(tmp_path / "b", registry) is None
    release_ports(tmp_path / "a", registry)
    assert held_ports(tmp_path / "a", registry) is None


def test_no_free_block_is_a_startup_error(tmp_path: Path) -> None:
    registry = PortRegistry(tmp_path / "registry", 20000, 20255, is_free=lambda _block: True)
    (tmp_path / "a").mkdir()
    sandbox_ports(tmp_path / "a", registry)

    with pytest.raises(StartupError, match="no free port block"):
        sandbox_ports(tmp_path / "b", registry)


def _fake_root(
    monkeypatch: pytest.MonkeyPatch,
) -> list[tuple[int, list[netpolicy.Endpoint], netpolicy.PortFence | None]]:
    class User:
        uid = 4242

    applied: list[tuple[int, list[netpolicy.Endpoint], netpolicy.PortFence | None]] = []
    monkeypatch.setattr(sandbox_network.os_users, "can_switch_users", lambda: True)
    monkeypatch.setattr(sandbox_network.os_users, "ensure_user", lambda name: User())

    def apply(
        uid: int, denied: list[netpolicy.Endpoint], fence: netpolicy.PortFence | None = None
    ) -> str:
        applied.append((uid, denied, fence))
        return "enforced: ..."

    monkeypatch.setattr(sandbox_network.netpolicy, "apply", apply)
    return applied
