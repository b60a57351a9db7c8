"""Who a caller is (API token or client certificate) and what its policies let it do.

Every call authenticates, so verified tokens are remembered for a few seconds, keyed by the
SHA-256 of the whole token (the cache never holds a usable token). Expiry is still checked on
every call, and a run's token is refused the moment its run stops being active. Any change
committed through the identity store of this process (a revocation, a deleted principal, a
changed policy) empties the caches at once, so it takes effect on the next call; a change made
by another server sharing the database takes effect within the cache's time to live.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sluice.common.errors import InvalidSignature, Unauthenticated, UnrecognizedClient
from sluice.control_plane.security import sigv4
from sluice.control_plane.security.calls import Principal
from sluice.control_plane.security.identity_store import IdentityStore
from sluice.control_plane.security.policy import ADMIN_ROLE, Decision, Statement, evaluate
from sluice.control_plane.security.tokens import (
    INVALID_TOKEN,
    cache_key,
    parse_token,
    secret_matches,
)

DEFAULT_CACHE_TTL_S = 5.0
DEFAULT_MAX_CACHE_ENTRIES = 10_000
RUN_ENDED = f"{INVALID_TOKEN}: its job run has ended"
UNKNOWN_CERTIFICATE = "the client certificate is not bound to any principal"

V = TypeVar("V")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Verified:
    """A credential checked against the store: who it is, and until when it is valid."""

    principal: Principal
    expires_on: datetime | None


@dataclass(frozen=True)
class _SigningKey:
    """An access key's principal and the signing key of one scope (never the secret itself)."""

    principal: Principal
    key: bytes = field(repr=False)


class _TtlCache(Generic[V]):
    """A bounded map whose entries live ttl_s seconds. Its generation moves on at every clear,
    so a value read from the store before a clear is never stored after it."""

    def __init__(self, ttl_s: float, max_entries: int, monotonic: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[Hashable, tuple[V, float]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        with self._lock:
            return self._generation

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, fresh_until = entry
            if self._monotonic() >= fresh_until:
                del self._entries[key]
                return None
            return value

    def put(self, key: Hashable, value: V, generation: int) -> None:
        if self._ttl_s <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if key not in self._entries and len(self._entries) >= self._max_entries:
                # Insertion order: the oldest entry goes first.
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (value, self._monotonic() + self._ttl_s)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


class Authenticator:
    """Authenticates API tokens and client certificates, and decides what principals may do.

    Args:
        store: Where principals, tokens and policies are kept. The authenticator subscribes to
            its changes.
        run_active: Whether a job run (by id) is still active; a run principal's tokens are
            refused once it says False. Called on every call such a token makes.
        cache_ttl_s: How long a verified credential, or a principal's statements, is reused
            without asking the store again; 0 disables the caches.
        max_cache_entries: Bound of each cache.
        monotonic: The clock of the caches (tests pass their own).
        now: The wall clock tokens expire by (tests pass their own).
    """

    def __init__(
        self,
        store: IdentityStore,
        *,
        run_active: Callable[[str], bool],
        cache_ttl_s: float = DEFAULT_CACHE_TTL_S,
        max_cache_entries: int = DEFAULT_MAX_CACHE_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        if cache_ttl_s < 0:
            raise ValueError("cache_ttl_s must not be negative")
        if max_cache_entries < 1:
            raise ValueError("max_cache_entries must be positive")
        self._store = store
        self._run_active = run_active
        self._now = now
        self._credentials: _TtlCache[_Verified] = _TtlCache(
            cache_ttl_s, max_cache_entries, monotonic
        )
        self._signing_keys: _TtlCache[_SigningKey] = _TtlCache(
            cache_ttl_s, max_cache_entries, monotonic
        )
        self._statements: _TtlCache[tuple[Statement, ...]] = _TtlCache(
            cache_ttl_s, max_cache_entries, monotonic
        )
        store.subscribe(self.invalidate)

    def authenticate(self, token: str) -> Principal:
        """The principal an API token (`slk_…`) stands for.

        Raises:
            Unauthenticated: The token is malformed, unknown, has a wrong secret, is revoked or
                expired ("invalid or expired token", whichever it is), or belongs to a job run
                that has ended.
        """
        parsed = parse_token(token)
        key = ("token", cache_key(token))
        now = self._now()
        verified = self._credentials.get(key)
        if verified is None:
            generation = self._credentials.generation
            credential = self._store.lookup_token(parsed.token_id)
            if (
                credential is None
                or not secret_matches(parsed.secret, credential.secret_sha256)
                or not credential.info.usable_at(now)
            ):
                raise Unauthenticated(INVALID_TOKEN)
            verified = _Verified(credential.principal.as_principal(), credential.info.expires_on)
            self._credentials.put(key, verified, generation)
        elif verified.expires_on is not None and now >= verified.expires_on:
            self._credentials.discard(key)
            raise Unauthenticated(INVALID_TOKEN)
        principal = verified.principal
        if principal.run_id and not self._run_active(principal.run_id):
            raise Unauthenticated(RUN_ENDED)
        return principal

    def authenticate_sigv4(
        self, authorization: str, amz_date: str, canonical_request_sha256: str
    ) -> Principal:
        """The principal whose access key signed a request (AWS Signature Version 4).

        Args:
            authorization: The request's Authorization header.
            amz_date: Its X-Amz-Date header.
            canonical_request_sha256: The hash of its canonical request (the door makes it from
                the HTTP request, see sigv4.canonical_request_sha256).

        Raises:
            IncompleteSignature: The header or the date is missing or malformed.
            UnrecognizedClient: No principal has the access key id.
            InvalidSignature: The signature does not match, or the date is more than
                sigv4.MAX_SKEW away.
        """
        signed = sigv4.parse_authorization(authorization)
        sigv4.check_date(signed, amz_date, self._now())
        # The signing key is per day, region and service: the cache never holds the secret.
        cache_key = ("sigv4", signed.access_key_id, signed.scope)
        cached = self._signing_keys.get(cache_key)
        if cached is None:
            generation = self._signing_keys.generation
            found = self._store.lookup_access_key(signed.access_key_id)
            if found is None:
                raise UnrecognizedClient("The security token included in the request is invalid.")
            secret, record = found
            cached = _SigningKey(record.as_principal(), sigv4.signing_key(secret, signed))
            self._signing_keys.put(cache_key, cached, generation)
        if not sigv4.signature_matches(cached.key, signed, amz_date, canonical_request_sha256):
            raise InvalidSignature(
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method."
            )
        return cached.principal

    def authenticate_certificate(self, subject: str) -> Principal:
        """The principal a verified client certificate with this subject CN stands for.

        Raises:
            Unauthenticated: No principal has this certificate subject.
        """
        if not subject:
            raise Unauthenticated(UNKNOWN_CERTIFICATE)
        key = ("certificate", subject)
        verified = self._credentials.get(key)
        if verified is None:
            generation = self._credentials.generation
            record = self._store.principal_by_certificate(subject)
            if record is None:
                raise Unauthenticated(UNKNOWN_CERTIFICATE)
            verified = _Verified(record.as_principal(), None)
            self._credentials.put(key, verified, generation)
        return verified.principal

    def statements_for(self, principal: Principal) -> list[Statement]:
        """The statements of the policies of principal's account attached to its roles."""
        key = (principal.account, frozenset(principal.roles))
        cached = self._statements.get(key)
        if cached is None:
            generation = self._statements.generation
            cached = tuple(self._store.statements_for(principal.account, principal.roles))
            self._statements.put(key, cached, generation)
        return list(cached)

    def decide(self, principal: Principal, action: str, resource: str) -> Decision:
        """Whether principal may do action on resource (a full ARN-like name), and why.

        The operator may do everything in every account; the `admin` role everything in its
        own account; anyone else what the policies attached to its roles allow, in its account.
        """
        if principal.operator:
            return Decision.ADMIN
        statements = () if ADMIN_ROLE in principal.roles else self.statements_for(principal)
        return evaluate(
            statements, action, resource, roles=principal.roles, account=principal.account
        )

    def is_allowed(self, principal: Principal, action: str, resource: str) -> bool:
        """Whether principal may do action on resource (see `decide`)."""
        return self.decide(principal, action, resource).allowed

    def invalidate(self) -> None:
        """Forgets every verified credential and every principal's statements."""
        self._credentials.clear()
        self._signing_keys.clear()
        self._statements.clear()
