"""The SQL lease store, and the fence check other SQL stores make inside their writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Row, insert, select, update

from sluice.common.db import Database
from sluice.common.errors import AlreadyExists, InvalidInput
from sluice.control_plane.jobs.leases import (
    MAX_HOLDER,
    MAX_LEASE_NAME,
    Fence,
    Lease,
    LeaseLost,
    LeaseStore,
)
from sluice.control_plane.jobs.rows import LEASES
from sluice.control_plane.jobs.sql_base import utc_now


def check_fence(conn: Connection, fence: Fence) -> None:
    """LeaseLost unless fence's token is still its lease's, checked within conn's transaction.

    The lease row is share-locked until the transaction ends (PostgreSQL; SQLite writers are
    serialised anyway), so a takeover waits for this write, and a write after a takeover sees
    the new token: a fenced write never lands after the lease has passed on.
    """
    held = conn.execute(
        select(LEASES.c.token)
        .where(LEASES.c.name == fence.name, LEASES.c.token == fence.token)
        .with_for_update(read=True)
    ).first()
    if held is None:
        raise LeaseLost(f"lease {fence.name} is no longer held with token {fence.token}")


class SqlLeaseStore(LeaseStore):
    """LeaseStore over a common.db.Database whose jobs schema is upgraded."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock

    def acquire(self, name: str, holder: str, ttl_s: float) -> Lease | None:
        _check(name, holder, ttl_s)
        now = self._now()
        try:
            with self._db.write() as conn:
                taken = conn.execute(
                    update(LEASES)
                    .where(
                        LEASES.c.name == name,
                        (LEASES.c.expires_at <= now) | (LEASES.c.holder == holder),
                    )
                    .values(
                        holder=holder,
                        token=LEASES.c.token + 1,
                        expires_at=now + timedelta(seconds=ttl_s),
                        acquired_on=now,
                    )
                ).rowcount
                if not taken:
                    if _row(conn, name) is not None:
                        return None
                    # Never acquired: the first insert wins, a racing one hits the primary key.
                    conn.execute(
                        insert(LEASES).values(
                            name=name,
                            holder=holder,
                            token=1,
                            expires_at=now + timedelta(seconds=ttl_s),
                            acquired_on=now,
                        )
                    )
                return _lease(_row(conn, name))
        except AlreadyExists:
            return None

    def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        _check(lease.name, lease.holder, ttl_s)
        now = self._now()
        with self._db.write() as conn:
            renewed = conn.execute(
                update(LEASES)
                .where(
                    LEASES.c.name == lease.name,
                    LEASES.c.holder == lease.holder,
                    LEASES.c.token == lease.token,
                )
                .values(expires_at=now + timedelta(seconds=ttl_s))
            ).rowcount
            return _lease(_row(conn, lease.name)) if renewed else None

    def release(self, lease: Lease) -> bool:
        now = self._now()
        with self._db.write() as conn:
            return bool(
                conn.execute(
                    update(LEASES)
                    .where(
                        LEASES.c.name == lease.name,
                        LEASES.c.holder == lease.holder,
                        LEASES.c.token == lease.token,
                    )
                    # The holder is cleared so that even its own next acquire takes a new token.
                    .values(holder="", expires_at=now)
                ).rowcount
            )

    def get(self, name: str) -> Lease | None:
        with self._db.read() as conn:
            row = _row(conn, name)
        return None if row is None else _lease(row)

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)


def _check(name: str, holder: str, ttl_s: float) -> None:
    if not name or len(name) > MAX_LEASE_NAME:
        raise InvalidInput(f"a lease name is 1 to {MAX_LEASE_NAME} characters")
    if not holder or len(holder) > MAX_HOLDER:
        raise InvalidInput(f"a lease holder is 1 to {MAX_HOLDER} characters")
    if not ttl_s > 0:
        raise InvalidInput("a lease's ttl must be positive")


def _row(conn: Connection, name: str) -> Row | None:
    return conn.execute(select(LEASES).where(LEASES.c.name == name)).first()


def _lease(row: Row | None) -> Lease:
    if row is None:
        raise LeaseLost("the lease row vanished")
    return Lease(name=row.name, holder=row.holder, token=row.token, expires_at=row.expires_at)
