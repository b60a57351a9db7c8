"""Console sessions: kept server-side, found by a random id in an HttpOnly, SameSite=Strict cookie.

The signed-in principal's API token never leaves the server; each session has its own CSRF
token, which every form carries and every POST must present.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "sluice_console"
PRE_COOKIE = "sluice_console_pre"  # the sign-in form's CSRF token, before there is a session
DEFAULT_TTL_S = 8 * 3600.0
MAX_SESSIONS = 10_000


@dataclass
class Session:
    """A signed-in principal: its token (server-side only) and who it is."""

    token: str = field(repr=False)
    principal: str
    account: str
    roles: tuple[str, ...]
    operator: bool
    client: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    expires_at: float = 0.0


class Sessions:
    """The console's sessions, in memory: a restart signs everyone out."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._by_id: dict[str, Session] = {}

    def create(self, session: Session) -> str:
        """A new session id for session (expiring after the TTL)."""
        session.expires_at = time.monotonic() + self._ttl_s
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._prune()
            self._by_id[sid] = session
        return sid

    def get(self, sid: str | None) -> Session | None:
        """The live session of sid, or None."""
        if not sid:
            return None
        with self._lock:
            session = self._by_id.get(sid)
            if session is None:
                return None
            if session.expires_at <= time.monotonic():
                del self._by_id[sid]
                return None
            return session

    def drop(self, sid: str | None) -> None:
        """Forget sid's session (sign-out, or its token no longer works)."""
        if sid:
            with self._lock:
                self._by_id.pop(sid, None)

    def _prune(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._by_id.items() if v.expires_at <= now]:
            del self._by_id[sid]
        while len(self._by_id) >= MAX_SESSIONS:
            # The oldest session goes first (dicts keep insertion order).
            del self._by_id[next(iter(self._by_id))]


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens, both present."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
