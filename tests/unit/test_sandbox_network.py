"""What a sandbox's OS user is refused on the network: the server's database, over TCP."""

from __future__ import annotations

import pytest

from agents import netpolicy
from control_plane.jobs import sandbox_network
from control_plane.jobs.sandbox_network import denied_endpoints, secure_sandbox_user

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
    class User:
        uid = 4242

    applied: list[tuple[int, list[netpolicy.Endpoint]]] = []
    monkeypatch.setattr(sandbox_network.os_users, "can_switch_users", lambda: True)
    monkeypatch.setattr(sandbox_network.os_users, "ensure_user", lambda name: User())

    def apply(uid: int, denied: list[netpolicy.Endpoint]) -> str:
        applied.append((uid, denied))
        return "enforced: ..."

    monkeypatch.setattr(sandbox_network.netpolicy, "apply", apply)

    status = secure_sandbox_user("sluice-sb-0000abcd", "postgresql://u@127.0.0.1:5432/x")

    assert applied == [(4242, [netpolicy.Endpoint("127.0.0.1", 5432)])]
    assert status == "enforced: the database 127.0.0.1:5432 is refused"
