"""Posting run events to webhooks: the address rule, the signed body, the request.

The address rule: a tenant's webhook may only make the server call public addresses. Every
address its host resolves to must be global (not loopback, private, link-local, carrier-grade
NAT, multicast, reserved or unspecified) unless the operator allowed its network
(`sluice server --webhook-allow-network CIDR`). The rule is checked when the webhook is set and
again at each delivery, and the request goes to the very address that was checked (a name that
resolves to a public address at PutWebhook and to 127.0.0.1 later is refused, and cannot be
re-resolved in between); redirects are not followed.

The body is the event as JSON; the header `X-Sluice-Signature: sha256=<hex>` is its
HMAC-SHA256 under the webhook's secret, so the receiver can tell it came from this server.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sluice.common.errors import InvalidInput
from sluice.control_plane.jobs.notifications.store import RunEvent

SIGNATURE_HEADER = "X-Sluice-Signature"
EVENT_HEADER = "X-Sluice-Event-Id"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def signature(secret: str, body: bytes) -> str:
    """The X-Sluice-Signature header's value of a body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def event_body(event: RunEvent) -> bytes:
    """The JSON an event is posted as."""
    return json.dumps(
        {
            "id": event.id,
            "account": event.account,
            "kind": str(event.kind),
            "job_name": event.job_name,
            "run_id": event.run_id,
            "job_run_state": str(event.state),
            "message": event.message,
            "notify_delay_after": event.notify_delay_after,
            "created_on": event.created_on.isoformat(),
        },
        sort_keys=True,
    ).encode("utf-8")


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: where to connect (the checked address) and what to ask for."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


class AddressRule:
    """Which addresses webhooks may call.

    Args:
        allowed_networks: Networks the operator allows besides global addresses (for example
            a receiver on 10.0.0.0/8, or 127.0.0.1/32 in tests).
    """

    def __init__(self, allowed_networks: Sequence[str | Network] = ()) -> None:
        self.allowed = tuple(ipaddress.ip_network(net, strict=False) for net in allowed_networks)

    def allows(self, address: Address) -> bool:
        if any(address in net for net in self.allowed):
            return True
        return address.is_global and not address.is_multicast

    def check(self, url: str) -> Target:
        """The URL's target; InvalidInput if it is not an http(s) URL whose host resolves to
        allowed addresses only."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput("a webhook url must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise InvalidInput("a webhook url must not carry credentials")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InvalidInput("the webhook url's port is not valid") from None
        try:
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise InvalidInput(f"the webhook host {parts.hostname} does not resolve") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        refused = sorted({str(a) for a in addresses if not self.allows(a)})
        if refused or not addresses:
            raise InvalidInput(
                f"the webhook host {parts.hostname} resolves to {', '.join(refused)}, an "
                "address webhooks may not call (not a public address, and not in a network "
                "the operator allowed with --webhook-allow-network)"
            )
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(parts.scheme, parts.hostname, port, str(addresses[0]), path)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the URL's host for SNI and certificate checks."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post_event(
    rule: AddressRule, url: str, secret: str, event: RunEvent, timeout_s: float = 10.0
) -> None:
    """Posts event to url, signed; raises OSError, InvalidInput or DeliveryRefused."""
    target = rule.check(url)
    body = event_body(event)
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target.host, target.address, target.port, timeout_s)
    else:
        connection = http.client.HTTPConnection(target.address, target.port, timeout=timeout_s)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                "Host": host_header,
                "Content-Type": "application/json",
                "User-Agent": "sluice-webhook/1",
                SIGNATURE_HEADER: signature(secret, body),
                EVENT_HEADER: str(event.id),
            },
        )
        response = connection.getresponse()
        response.read(64 * 1024)
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise DeliveryRefused(f"the webhook answered HTTP {response.status}")


class DeliveryRefused(Exception):
    """The receiver answered with a status other than 2xx."""
