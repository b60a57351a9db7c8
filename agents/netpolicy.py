"""Kernel network policy per sandbox OS user: the endpoints its sockets may not connect to.

A run's script runs as an unprivileged OS user (one per account's Ray head). Here nftables
refuses that user's connections to the endpoints it must not use directly, such as the control
plane's PostgreSQL (trust auth on loopback) while the Sluice API stays reachable. All rules live
in one table, `inet sluice`:

    map uid_policies { type uid : verdict }       # uid -> jump uid_<uid>
    chain output { hook output; meta skuid vmap @uid_policies }
    chain uid_<uid> { <one reject rule per denied destination and protocol> }

so that one uid's policy is one map element and one chain: installing, replacing or removing it
is one `nft -f` transaction that touches no other uid's rules and no other table. TCP is refused
with a reset (connect() fails at once with ECONNREFUSED), UDP and the other port-based protocols
with an ICMP port-unreachable.

An endpoint on an address of this host (loopback, unspecified or any address bound here) is
denied on every local address (`fib daddr type local`): a server listening on 0.0.0.0 is the same
server whichever local address a script connects to. Unix sockets are outside nftables' reach.

Sandboxes on one host are kept apart two ways (both with a PortFence): by address, each uid is
refused the local ports of the Sluice range outside its own port block (sluice.agents.ports),
where every other sandbox's Ray and Spark listen; and by owner, each uid's local connections are
marked with its uid in conntrack and its sockets answer no connection marked with another uid,
which also guards the few listeners no option pins into a block (ephemeral py4j gateways).

This is egress control by destination only; it does not confine a run to its connection's hosts
(that takes a network namespace per environment or the cluster's own network policy).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import shutil
import socket
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sluice.common.errors import InternalError, InvalidInput

logger = logging.getLogger(__name__)

FAMILY = "inet"
TABLE = "sluice"
POLICY_MAP = "uid_policies"
BASE_CHAIN = "output"
CHAIN_PREFIX = "uid_"
# Below the highest uid: (uid_t)-1 means "no uid" to the kernel.
MAX_UID = 2**32 - 2
_NFT_TIMEOUT_S = 30.0
# Port-based protocols other than TCP: refused with an ICMP port-unreachable.
_DATAGRAM_PROTOCOLS = "{ udp, udplite, sctp, dccp }"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Endpoint:
    """A host (name or IP address) and a port, or ports, that a sandbox user may not connect to.

    Attributes:
        host: a host name (resolved when a policy is applied) or an IPv4 or IPv6 address.
        port: the port, or the first of a range.
        last_port: the last port of the range port..last_port (None: port alone).
    """

    host: str
    port: int
    last_port: int | None = None

    def __post_init__(self) -> None:
        for port in (self.port, self.port if self.last_port is None else self.last_port):
            if not isinstance(port, int) or isinstance(port, bool):
                raise InvalidInput(f"endpoint port must be an integer, not {port!r}")
            if not 1 <= port <= 65535:
                raise InvalidInput(f"endpoint port must be in 1..65535, not {port}")
        if self.last_port is not None and self.last_port < self.port:
            raise InvalidInput(f"endpoint ports {self.port}-{self.last_port}: last before first")
        if not isinstance(self.host, str) or not self.host or len(self.host) > 253:
            raise InvalidInput(f"endpoint host must be a name or address, not {self.host!r}")
        if any(c.isspace() or c in "[]/;{}\"'" for c in self.host):
            raise InvalidInput(f"endpoint host {self.host!r} holds characters a host cannot")

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """An endpoint of "host:port", "1.2.3.4:port" or "[ipv6]:port"; port may be "first-last".

        Raises:
            InvalidInput: text is not of one of these forms.
        """
        if text.startswith("["):
            host, bracket, port = text[1:].partition("]:")
            if not bracket:
                raise InvalidInput(f"endpoint {text!r} must be [ipv6-address]:port")
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise InvalidInput(f"endpoint {text!r}: {host!r} is no IPv6 address") from None
        else:
            host, colon, port = text.rpartition(":")
            if not colon or not host:
                raise InvalidInput(f"endpoint {text!r} must be host:port")
            if ":" in host:
                raise InvalidInput(f"endpoint {text!r}: an IPv6 address goes in brackets")
        first, dash, last = port.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise InvalidInput(f"endpoint {text!r}: port {port!r} is not a number or range")
        return cls(host=host, port=int(first), last_port=int(last) if dash else None)

    @property
    def ports(self) -> str:
        """The port as nft and parse spell it: "port" or "first-last"."""
        return str(self.port) if self.last_port is None else f"{self.port}-{self.last_port}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.ports}"


@dataclass(frozen=True)
class Destination:
    """A resolved endpoint: one address (None: every address of this host) and its ports."""

    ports: str
    address: str | None = None

    def rules(self) -> list[str]:
        """The nft rule bodies refusing this destination (TCP, then the datagram protocols)."""
        if self.address is None:
            match = "fib daddr type local"
        else:
            version = ipaddress.ip_address(self.address).version
            match = f"{'ip' if version == 4 else 'ip6'} daddr {self.address}"
        return [
            f"{match} tcp dport {self.ports} counter reject with tcp reset",
            f"{match} meta l4proto {_DATAGRAM_PROTOCOLS} th dport {self.ports} "
            "counter reject with icmpx type port-unreachable",
        ]


@dataclass(frozen=True)
class PortFence:
    """This host's sandbox ports: the Sluice range, of which a uid may reach only its own block.

    Every sandbox's Ray and Spark listen in a block of the range (sluice.agents.ports); a sandbox
    user's connections to any local address on a port of the range outside its own block (and
    the exempt ports, such as the server's own API port if an operator put it in the range) are
    refused, so another sandbox's processes are refused by address whatever they authenticate.

    Attributes:
        fenced: the Sluice range, "first-last".
        own: the uid's own block, "first-last".
        exempt: ports of the range every sandbox may reach (the server's listening ports).
    """

    fenced: str
    own: str
    exempt: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for ports in (self.fenced, self.own):
            first, dash, last = ports.partition("-")
            if not dash or not first.isdigit() or not last.isdigit():
                raise InvalidInput(f"port range {ports!r} is not first-last")
            if not 1 <= int(first) <= int(last) <= 65535:
                raise InvalidInput(f"port range {ports!r} is not within 1..65535")
        for port in self.exempt:
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise InvalidInput(f"exempt port must be in 1..65535, not {port!r}")

    def rules(self) -> list[str]:
        """The nft rule bodies refusing the range but the uid's own block (TCP, then datagrams)."""
        allowed = ", ".join([self.own, *map(str, sorted(set(self.exempt)))])
        match = "fib daddr type local"
        return [
            f"{match} tcp dport {self.fenced} tcp dport != {{ {allowed} }} "
            "counter reject with tcp reset",
            f"{match} meta l4proto {_DATAGRAM_PROTOCOLS} th dport {self.fenced} "
            f"th dport != {{ {allowed} }} counter reject with icmpx type port-unreachable",
        ]


def owner_rules(uid: int) -> list[str]:
    """The nft rule bodies that keep uid's sockets from answering another sandbox uid.

    A local connection a sandbox uid opens is marked with that uid (conntrack mark); a socket of
    uid answering a connection marked with another uid is refused: its SYN-ACK is dropped and
    its own half reset, so the other uid's connect() times out. This covers the listening ports
    nothing can pin into a port block (ephemeral ports of Spark's and RayDP's py4j gateways,
    RayDP's app master RPC, PySpark's worker daemon): they answer their own uid and root only.
    Connections root or any non-sandbox user opens carry no mark and are not affected.
    """
    return [
        f"fib daddr type local ct state new ct mark set {uid}",
        f"ct direction reply ct mark != {{ 0, {uid} }} meta l4proto tcp "
        "counter reject with tcp reset",
        f"ct direction reply ct mark != {{ 0, {uid} }} counter drop",
    ]


def apply(uid: int, denied: Sequence[Endpoint], fence: PortFence | None = None) -> str:
    """Refuse the sockets of uid every connection to the denied endpoints (TCP and UDP), and
    with a fence, to this host's sandbox ports outside uid's own block.

    Replaces uid's previous policy atomically; other uids' policies are left as they are.
    Host names are resolved now, to the addresses they have now.

    Args:
        uid: the sandbox OS user (not root).
        denied: the endpoints it may not connect to; an empty list denies nothing.
        fence: the Sluice port range and uid's block in it; None fences nothing.

    Returns:
        "enforced: ..." or, where the kernel cannot enforce policies here, "not enforced: <why>"
        (and nothing is installed).

    Raises:
        InvalidInput: uid is root or out of range, or a host name does not resolve.
        InternalError: nftables refused or failed the transaction.
    """
    _check_uid(uid)
    destinations = resolve(denied)
    reason = _unenforceable_reason()
    if reason is not None:
        logger.warning(
            "the network policy of uid %d is NOT enforced (%s): its scripts can connect to %s",
            uid,
            reason,
            ", ".join(map(str, denied)) or "anything",
        )
        return f"not enforced: {reason}"
    try:
        _nft(policy_transaction(uid, destinations, fence))
    except InternalError:
        # Root with an nft binary, yet the kernel may lack nf_tables or one of its expressions.
        probe = _kernel_refusal()
        if probe is not None:
            logger.warning("the network policy of uid %d is NOT enforced (%s)", uid, probe)
            return f"not enforced: {probe}"
        raise
    fenced = f", and local ports {fence.fenced} but {fence.own}" if fence is not None else ""
    return (
        f"enforced: nftables table {FAMILY} {TABLE} refuses uid {uid} "
        f"{len(destinations)} destination(s) of {len(denied)} endpoint(s){fenced}"
    )


def remove(uid: int) -> None:
    """Remove uid's policy (its connections are no longer refused); a no-op if it has none.

    Raises:
        InvalidInput: uid is root or out of range.
        InternalError: nftables failed the transaction.
    """
    _check_uid(uid)
    if _unenforceable_reason() is not None or not _table_exists():
        return
    _nft(removal_transaction(uid))


def policy_uids() -> set[int]:
    """The uids that have a policy installed now (empty where policies are not enforced)."""
    if _unenforceable_reason() is not None:
        return set()
    result = _run_nft(["-j", "list", "map", FAMILY, TABLE, POLICY_MAP])
    if result.returncode != 0:
        return set()
    uids = set()
    for item in json.loads(result.stdout).get("nftables", []):
        for key, _verdict in item.get("map", {}).get("elem", []):
            uids.add(int(key))
    return uids


def status() -> str:
    """Whether the kernel enforces network policies here: "enforced: ..." / "not enforced: ..."."""
    reason = _unenforceable_reason() or _kernel_refusal()
    if reason is not None:
        return f"not enforced: {reason}"
    return f"enforced: nftables table {FAMILY} {TABLE}, one chain of reject rules per sandbox uid"


def resolve(endpoints: Iterable[Endpoint]) -> list[Destination]:
    """The destinations of endpoints: their addresses now, local ones as this whole host.

    Raises:
        InvalidInput: a host name does not resolve.
    """
    destinations = set()
    for endpoint in endpoints:
        for address in _addresses(endpoint):
            local = address.is_loopback or address.is_unspecified or _is_bound_here(address)
            destinations.add(Destination(endpoint.ports, None if local else str(address)))
    return sorted(destinations, key=_destination_order)


def policy_transaction(
    uid: int, destinations: Iterable[Destination], fence: PortFence | None = None
) -> str:
    """The nft script that installs or replaces uid's policy in one transaction.

    The table, map and base chain are created if missing; the base chain is flushed and its one
    rule added again in the same transaction, so it never holds that rule twice nor none.
    """
    _check_uid(uid)
    chain = chain_name(uid)
    lines = [
        *_skeleton(),
        f"flush chain {FAMILY} {TABLE} {BASE_CHAIN}",
        f"add rule {FAMILY} {TABLE} {BASE_CHAIN} meta skuid vmap @{POLICY_MAP}",
        f"add chain {FAMILY} {TABLE} {chain}",
        f"flush chain {FAMILY} {TABLE} {chain}",
    ]
    for destination in destinations:
        lines += [f"add rule {FAMILY} {TABLE} {chain} {rule}" for rule in destination.rules()]
    if fence is not None:
        lines += [f"add rule {FAMILY} {TABLE} {chain} {rule}" for rule in owner_rules(uid)]
        lines += [f"add rule {FAMILY} {TABLE} {chain} {rule}" for rule in fence.rules()]
    lines.append(f"add element {FAMILY} {TABLE} {POLICY_MAP} {{ {uid} : jump {chain} }}")
    return "\n".join(lines) + "\n"


def removal_transaction(uid: int) -> str:
    """The nft script that removes uid's policy in one transaction, whether it exists or not.

    Adding the chain and element first makes the deletions valid when they are missing (nft 1.0.6
    has no `destroy`).
    """
    _check_uid(uid)
    chain = chain_name(uid)
    return (
        "\n".join(
            [
                *_skeleton(),
                f"add chain {FAMILY} {TABLE} {chain}",
                f"add element {FAMILY} {TABLE} {POLICY_MAP} {{ {uid} : jump {chain} }}",
                f"delete element {FAMILY} {TABLE} {POLICY_MAP} {{ {uid} }}",
                f"flush chain {FAMILY} {TABLE} {chain}",
                f"delete chain {FAMILY} {TABLE} {chain}",
            ]
        )
        + "\n"
    )


def chain_name(uid: int) -> str:
    """The chain holding uid's rules."""
    return f"{CHAIN_PREFIX}{uid}"


def _skeleton() -> list[str]:
    return [
        f"add table {FAMILY} {TABLE}",
        f"add map {FAMILY} {TABLE} {POLICY_MAP} {{ type uid : verdict ; }}",
        f"add chain {FAMILY} {TABLE} {BASE_CHAIN} "
        "{ type filter hook output priority filter ; policy accept ; }",
    ]


def _destination_order(destination: Destination) -> tuple[int, int, str]:
    first, _, last = destination.ports.partition("-")
    return int(first), int(last or first), destination.address or ""


def _check_uid(uid: int) -> None:
    if not isinstance(uid, int) or isinstance(uid, bool) or not 0 <= uid <= MAX_UID:
        raise InvalidInput(f"uid must be an integer in 0..{MAX_UID}, not {uid!r}")
    if uid == 0:
        raise InvalidInput("uid 0 is root: a network policy is for sandbox users only")


def _addresses(endpoint: Endpoint) -> list[Address]:
    try:
        return [_unmapped(ipaddress.ip_address(endpoint.host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(endpoint.host, endpoint.port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(
            f"endpoint {endpoint}: host {endpoint.host!r} does not resolve: {exc}"
        ) from None
    addresses = set()
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            # An IPv6 link-local address comes back as "fe80::1%eth0".
            addresses.add(_unmapped(ipaddress.ip_address(str(sockaddr[0]).split("%")[0])))
    if not addresses:
        raise InvalidInput(f"endpoint {endpoint}: host {endpoint.host!r} has no IP address")
    return sorted(addresses, key=lambda a: (a.version, int(a)))


def _unmapped(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as its IPv4 address: the kernel sends such packets as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_bound_here(address: Address) -> bool:
    """Whether address is one of this host's own (a socket can bind to it)."""
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


def _nft_path() -> str | None:
    return shutil.which("nft") or next(
        (p for p in ("/usr/sbin/nft", "/sbin/nft") if os.access(p, os.X_OK)), None
    )


def _unenforceable_reason() -> str | None:
    """Why this process cannot install policies (None: it may try)."""
    if os.geteuid() != 0:
        return "the agent does not run as root (nftables rules need CAP_NET_ADMIN)"
    if _nft_path() is None:
        return "nft is not installed (scripts/system_packages.sh installs nftables)"
    return None


def _kernel_refusal() -> str | None:
    """Why the kernel refuses a policy's rules (None: it accepts them), checked without effect."""
    sample = policy_transaction(
        MAX_UID,
        [Destination("1"), Destination("1-2", "192.0.2.1"), Destination("1", "2001:db8::1")],
        PortFence("20000-32767", "20000-20255", (25000,)),
    )
    result = _run_nft(["--check", "-f", "-"], sample)
    if result.returncode != 0:
        return f"the kernel refuses nftables rules: {_first_error(result.stderr)}"
    return None


def _table_exists() -> bool:
    return _run_nft(["list", "table", FAMILY, TABLE]).returncode == 0


def _nft(script: str) -> None:
    result = _run_nft(["-f", "-"], script)
    if result.returncode != 0:
        raise InternalError(f"nftables refused the network policy: {_first_error(result.stderr)}")


def _run_nft(args: list[str], script: str | None = None) -> subprocess.CompletedProcess[str]:
    nft = _nft_path()
    if nft is None:
        raise InternalError("nft is not installed")
    try:
        return subprocess.run(
            [nft, *args],
            input=script,
            capture_output=True,
            text=True,
            timeout=_NFT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InternalError(f"nft could not be run: {exc}") from None


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line]
    return (errors or lines or ["no message"])[0][:500]
