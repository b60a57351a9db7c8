"""Leases: work that must happen once among several servers on one database is owned through one.

A lease is named (say "jobs.scheduler"); at most one holder has it until it expires. Every
acquisition gives it a new fencing token, larger than any before for that name, and every write
made on the lease's behalf carries it (a Fence): a store refuses the write, raising LeaseLost,
once the token is no longer the lease's, so a holder that stalled past its expiry and was
replaced cannot change anything. Expiry bounds how long the work waits when its holder dies.

Expiry uses the store's clock: the servers' clocks must agree to well within a TTL (NTP), or a
lease may be taken over early or late. Fencing does not rely on clocks, so safety holds anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sluice.common.errors import ConcurrentModification

logger = logging.getLogger(__name__)

MAX_LEASE_NAME = 128
MAX_HOLDER = 255


class LeaseLost(ConcurrentModification):
    """A write carried a fencing token that is no longer its lease's: another holder has it."""


@dataclass(frozen=True)
class Fence:
    """What a write on a lease's behalf carries: the lease's name and the holder's token."""

    name: str
    token: int


@dataclass(frozen=True)
class Lease:
    """A lease as held: by holder, with token, until expires_at (by the store's clock)."""

    name: str
    holder: str
    token: int
    expires_at: datetime

    @property
    def fence(self) -> Fence:
        return Fence(self.name, self.token)


class LeaseStore(ABC):
    """Named leases. Every method is one conditional update: racing callers cannot both win."""

    @abstractmethod
    def acquire(self, name: str, holder: str, ttl_s: float) -> Lease | None:
        """The lease for ttl_s with a new token, if it is free, expired or already holder's;
        None if someone else holds it. InvalidInput for an empty or over-long name or holder,
        or a ttl_s that is not positive."""

    @abstractmethod
    def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        """The same lease (same token) extended to ttl_s from now; None if its token is no
        longer the lease's (it was taken over or released)."""

    @abstractmethod
    def release(self, lease: Lease) -> bool:
        """Frees the lease at once for the next acquirer; False if it was no longer held with
        this token."""

    @abstractmethod
    def get(self, name: str) -> Lease | None:
        """The lease as last acquired or renewed (possibly expired or released: then its
        expires_at is past); None if it was never acquired."""


class LeaseKeeper:
    """Keeps trying to hold one lease and renews it every ttl/3 while it has it.

    fence() says whether this process may act for the lease now: the Fence of the lease while
    it is held and its last renewal is younger than the TTL (by this process's monotonic
    clock), None otherwise. on_acquired is called (on the keeper's thread) with each new
    tenure's Fence, e.g. to take over the work at once; on_lost with a tenure's Fence when a
    renewal finds the lease taken over, e.g. to stop work that a successor redoes.
    """

    def __init__(
        self,
        store: LeaseStore,
        name: str,
        holder: str,
        *,
        ttl_s: float = 15.0,
        on_acquired: Callable[[Fence], None] | None = None,
        on_lost: Callable[[Fence], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._store = store
        self._name = name
        self._holder = holder
        self._ttl_s = ttl_s
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # The lease held, and until when (monotonic) it is safe to act on it; guarded by _lock.
        self._lease: Lease | None = None
        self._valid_until = 0.0
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def holder(self) -> str:
        return self._holder

    def start(self) -> None:
        """One attempt at once (so a lone server leads from its first pass), then a thread."""
        if self._thread is not None:
            raise RuntimeError("the lease keeper is already started")
        self._halt.clear()
        self.keep_once()
        self._thread = threading.Thread(
            target=self._loop, name=f"sluice-lease-{self._name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops renewing and releases the lease, so that another server takes over at once."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is not None:
            try:
                self._store.release(lease)
            except Exception:
                # It expires on its own after the TTL.
                logger.exception("releasing lease %s failed", self._name)

    def fence(self) -> Fence | None:
        with self._lock:
            if self._lease is None or self._monotonic() >= self._valid_until:
                return None
            return self._lease.fence

    def keep_once(self) -> None:
        """Acquire the lease if not held, renew it if held."""
        with self._lock:
            held = self._lease
        asked_at = self._monotonic()
        try:
            lease = (
                self._store.acquire(self._name, self._holder, self._ttl_s)
                if held is None
                else self._store.renew(held, self._ttl_s)
            )
        except Exception:
            # A database hiccup: the lease stays usable until its TTL runs out.
            logger.exception("keeping lease %s failed; retrying", self._name)
            return
        with self._lock:
            self._lease = lease
            self._valid_until = asked_at + self._ttl_s if lease is not None else 0.0
        if held is not None and lease is None:
            logger.warning("lease %s was lost to another holder", self._name)
            self._notify(self._on_lost, held.fence, "giving up the work")
        if lease is not None and (held is None or held.token != lease.token):
            logger.info("lease %s acquired (token %d)", self._name, lease.token)
            self._notify(self._on_acquired, lease.fence, "taking over the work")

    def _notify(self, callback: Callable[[Fence], None] | None, fence: Fence, doing: str) -> None:
        if callback is None:
            return
        try:
            callback(fence)
        except Exception:
            logger.exception("%s of lease %s failed", doing, self._name)

    def _loop(self) -> None:
        while not self._halt.wait(self._ttl_s / 3):
            self.keep_once()
