"""What a sandbox's OS user may not reach on the network: the control plane's database.

Before a sandbox's agent starts its Ray head, the server (root) creates the sandbox's OS user and
has the kernel refuse that user's connections to the server's own PostgreSQL
(agents.netpolicy), which trusts local connections on many machines. The Sluice API stays
reachable: runs reach the catalog only through it, with their scoped credentials. The embedded
SQLite file needs no rule: it is in the server's data dir, which sandbox users cannot read.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from agents import netpolicy, os_users
from common.errors import SluiceError
from control_plane.logs import fields

log = logging.getLogger("sluice.jobs")

POSTGRESQL_PORT = 5432
NOT_SWITCHING = "not enforced: the server does not run as root, so runs share its OS user"


def denied_endpoints(database_url: str) -> list[netpolicy.Endpoint]:
    """The endpoints a sandbox user may not connect to: the database server, if reached over TCP
    (a unix socket's directory mode is the deployment's to close; see docs/security.md)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return []
    if url.get_backend_name() != "postgresql" or not url.host or url.host.startswith("/"):
        return []
    return [netpolicy.Endpoint(url.host, url.port or POSTGRESQL_PORT)]


def secure_sandbox_user(os_user: str, database_url: str) -> str:
    """Create the sandbox's OS user if needed and install its network policy.

    Returns:
        The policy's status ("enforced: ..." or "not enforced: <why>") for pool status.
    """
    if not os_users.can_switch_users():
        return NOT_SWITCHING
    denied = denied_endpoints(database_url)
    try:
        user = os_users.ensure_user(os_user)
        status = netpolicy.apply(user.uid, denied)
    except SluiceError as exc:
        log.error(
            "cannot install a sandbox's network policy",
            extra=fields(os_user=os_user, error=exc.message),
        )
        return f"not enforced: {exc.message}"
    if not status.startswith("enforced"):
        log.warning("sandbox network policy", extra=fields(os_user=os_user, status=status))
        return status
    if not denied:
        return "enforced: nothing to refuse (the database is the data dir's SQLite file)"
    return "enforced: the database " + ", ".join(map(str, denied)) + " is refused"
