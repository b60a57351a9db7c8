"""What a sandbox's OS user may not reach on the network: the control plane's database and the
other sandboxes' Ray and Spark.

Before a sandbox's agent starts its Ray head, the server claims the sandbox's port block
(sluice.agents.ports: every listening port of its Ray head and Spark falls in it), and as root
creates the sandbox's OS user and has the kernel refuse that user's connections to the server's
own PostgreSQL, which trusts local connections on many machines, and to every port of the Sluice
range on this host outside its own block (sluice.agents.netpolicy): the other accounts' Ray and
Spark are refused by address. The Sluice API stays reachable: runs reach the catalog only
through it, with their scoped credentials. The embedded SQLite file needs no rule: it is in the
server's data dir, which sandbox users cannot read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from sluice.agents import netpolicy, os_users
from sluice.agents.ports import PortBlock, PortRegistry
from sluice.common.errors import SluiceError
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.errors import StartupError
from sluice.control_plane.logs import fields

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


def server_ports(config: ServerConfig) -> list[int]:
    """The server's own listening ports (those configured), which sandboxes must reach even if
    the operator put them in the Sluice port range."""
    return [port for port in (config.port, config.glue_port) if port]


def sandbox_ports(sandbox_dir: Path, registry: PortRegistry | None = None) -> PortBlock:
    """The port block of the sandbox whose private dir is sandbox_dir: the one it holds (a
    restarted server finds its heads on their ports), or a free one claimed now.

    Raises:
        StartupError: no block is free, or the registry cannot be used.
    """
    try:
        return (registry or PortRegistry()).claim(sandbox_dir)
    except SluiceError as exc:
        raise StartupError(exc.message) from None


def held_ports(sandbox_dir: Path, registry: PortRegistry | None = None) -> PortBlock | None:
    """The port block the sandbox holds, None if none; never claims one."""
    try:
        return (registry or PortRegistry()).held(sandbox_dir)
    except OSError:
        return None


def release_ports(sandbox_dir: Path, registry: PortRegistry | None = None) -> None:
    """Give back a removed sandbox's port block (a no-op if it holds none)."""
    (registry or PortRegistry()).release(sandbox_dir)


def secure_sandbox_user(
    os_user: str,
    database_url: str,
    ports: PortBlock | None = None,
    exempt: Iterable[int] = (),
    registry: PortRegistry | None = None,
) -> str:
    """Create the sandbox's OS user if needed and install its network policy.

    Args:
        os_user: the sandbox's OS user.
        database_url: the server's database, refused to it.
        ports: the sandbox's port block: the rest of the Sluice range (registry's) is refused.
        exempt: ports of the range every sandbox reaches all the same (the server's own).
        registry: the port registry, whose range is fenced.

    Returns:
        The policy's status ("enforced: ..." or "not enforced: <why>") for pool status.
    """
    if not os_users.can_switch_users():
        return NOT_SWITCHING
    denied = denied_endpoints(database_url)
    try:
        fence = None
        if ports is not None:
            registry = registry or PortRegistry()
            inside = tuple(p for p in exempt if registry.first <= p <= registry.last)
            fence = netpolicy.PortFence(registry.range, ports.ports, inside)
        user = os_users.ensure_user(os_user)
        status = netpolicy.apply(user.uid, denied, fence)
    except SluiceError as exc:
        log.error(
            "cannot install a sandbox's network policy",
            extra=fields(os_user=os_user, error=exc.message),
        )
        return f"not enforced: {exc.message}"
    if not status.startswith("enforced"):
        log.warning("sandbox network policy", extra=fields(os_user=os_user, status=status))
        return status
    refused = []
    if denied:
        refused.append("the database " + ", ".join(map(str, denied)))
    if fence is not None:
        refused.append(f"local ports {fence.fenced} but its own {fence.own}")
    if not refused:
        return "enforced: nothing to refuse (the database is the data dir's SQLite file)"
    return "enforced: " + " and ".join(refused) + " refused"
