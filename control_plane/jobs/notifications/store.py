"""Run events and webhooks: what they are, and their one store (SQL).

A run event is recorded once per run and kind: the unique constraint on (run_id, kind) makes a
second recorder's insert (another replica, or a pass racing a pass) change nothing. Events are
found from the runs table itself (failed runs by completed_on, delayed ones among the active
runs that have a notify_delay_after), so they need nothing of the scheduler and any replica on
the database may record them. A webhook delivery is claimed with a conditional update of its
next_attempt_on before it is sent, so that two deliverers do not send it at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import and_, delete, exists, insert, select, update

from sluice.common.db import Database
from sluice.common.errors import AlreadyExists, EntityNotFound, InvalidInput
from sluice.common.secrets import SecretBox
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.model import ACTIVE_STATES, RunState
from sluice.control_plane.jobs.notifications.rows import RUN_EVENTS, WEBHOOKS
from sluice.control_plane.jobs.rows import JOB_RUNS
from sluice.control_plane.jobs.sql_base import state_values

# Failed runs are looked for among those completed this long ago at most: a pass after a
# server was down that long does not notify older failures.
FAILURE_LOOKBACK = timedelta(hours=1)
MAX_EVENTS_PER_PAGE = 1000
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 1024
MAX_URL_CHARS = 2048


class EventKind(StrEnum):
    DELAYED = "DELAYED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"


class Delivery(StrEnum):
    NONE = "NONE"
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


# Terminal states that are events, by the kind they are.
FAILURE_KINDS = {
    RunState.FAILED: EventKind.FAILED,
    RunState.TIMEOUT: EventKind.TIMEOUT,
    RunState.ERROR: EventKind.ERROR,
}


@dataclass(frozen=True)
class RunEvent:
    id: int
    account: str
    kind: EventKind
    job_name: str
    run_id: str
    state: RunState
    message: str
    notify_delay_after: int
    created_on: datetime
    delivery: Delivery = Delivery.NONE
    attempts: int = 0


@dataclass(frozen=True)
class Webhook:
    account: str
    url: str
    last_modified_on: datetime


@dataclass(frozen=True)
class Delivering:
    """A claimed delivery: the event, and the webhook (secret in clear) to post it to."""

    event: RunEvent
    url: str
    secret: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _event(row: object) -> RunEvent:
    return RunEvent(
        id=row.id,  # type: ignore[attr-defined]
        account=row.account,  # type: ignore[attr-defined]
        kind=EventKind(row.kind),  # type: ignore[attr-defined]
        job_name=row.job_name,  # type: ignore[attr-defined]
        run_id=row.run_id,  # type: ignore[attr-defined]
        state=RunState(row.state),  # type: ignore[attr-defined]
        message=row.message,  # type: ignore[attr-defined]
        notify_delay_after=row.notify_delay_after,  # type: ignore[attr-defined]
        created_on=row.created_on,  # type: ignore[attr-defined]
        delivery=Delivery(row.delivery),  # type: ignore[attr-defined]
        attempts=row.attempts,  # type: ignore[attr-defined]
    )


class SqlNotificationStore:
    """Run events and webhooks in the jobs database.

    Args:
        db: The database (jobs migrations applied).
        secrets: Encrypts webhook secrets at rest (as connection passwords are).
        clock: The time now (tests inject one).
    """

    def __init__(
        self,
        db: Database,
        secrets: SecretBox,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._db = db
        self._secrets = secrets
        self._clock = clock

    def now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # Recording

    def record_due_events(self) -> list[RunEvent]:
        """Records the events due now and not yet recorded; returns those this call recorded."""
        now = self.now()
        recorded: list[RunEvent] = []
        for row in self._failed_runs(now):
            kind = FAILURE_KINDS[RunState(row.state)]
            event = self._insert(row, kind, row.error_message, 0, now)
            if event is not None:
                recorded.append(event)
        for row in self._delayed_runs(now):
            minutes = row.notify_delay_after
            message = f"still {row.state} {minutes} minute(s) after it started"
            event = self._insert(row, EventKind.DELAYED, message, minutes, now)
            if event is not None:
                recorded.append(event)
        return recorded

    def _unrecorded(self, kind_column: object) -> object:
        return ~exists().where(
            and_(RUN_EVENTS.c.run_id == JOB_RUNS.c.run_id, RUN_EVENTS.c.kind == kind_column)
        )

    def _failed_runs(self, now: datetime) -> Sequence[object]:
        with self._db.read() as conn:
            return conn.execute(
                select(JOB_RUNS)
                .where(
                    JOB_RUNS.c.completed_on >= now - FAILURE_LOOKBACK,
                    JOB_RUNS.c.state.in_(state_values(FAILURE_KINDS)),
                    self._unrecorded(JOB_RUNS.c.state),
                )
                .order_by(JOB_RUNS.c.id)
            ).all()

    def _delayed_runs(self, now: datetime) -> list[object]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(JOB_RUNS)
                .where(
                    JOB_RUNS.c.state.in_(state_values(ACTIVE_STATES)),
                    JOB_RUNS.c.notify_delay_after.is_not(None),
                    self._unrecorded(str(EventKind.DELAYED)),
                )
                .order_by(JOB_RUNS.c.id)
            ).all()
        return [
            row for row in rows if row.started_on + timedelta(minutes=row.notify_delay_after) <= now
        ]

    def _insert(
        self, run: object, kind: EventKind, message: str, delay: int, now: datetime
    ) -> RunEvent | None:
        account = run.account  # type: ignore[attr-defined]
        try:
            with self._db.write() as conn:
                has_webhook = conn.execute(
                    select(WEBHOOKS.c.account).where(WEBHOOKS.c.account == account)
                ).first()
                values = {
                    "account": account,
                    "run_id": run.run_id,  # type: ignore[attr-defined]
                    "job_name": run.job_name,  # type: ignore[attr-defined]
                    "kind": str(kind),
                    "state": run.state,  # type: ignore[attr-defined]
                    "message": message[:4096],
                    "notify_delay_after": delay,
                    "created_on": now,
                    "delivery": str(Delivery.PENDING if has_webhook else Delivery.NONE),
                    "attempts": 0,
                    "next_attempt_on": now if has_webhook else None,
                    "last_error": "",
                }
                event_id = conn.execute(insert(RUN_EVENTS).values(**values)).inserted_primary_key
        except AlreadyExists:
            return None  # recorded by another pass or replica
        return RunEvent(
            id=event_id[0],
            account=account,
            kind=kind,
            job_name=values["job_name"],
            run_id=values["run_id"],
            state=RunState(values["state"]),
            message=values["message"],
            notify_delay_after=delay,
            created_on=now,
            delivery=Delivery(values["delivery"]),
        )

    # Reading

    def get_events(
        self, account: str, after_id: int = 0, limit: int = 100, *, newest_first: bool = False
    ) -> list[RunEvent]:
        """The account's events after after_id: the oldest limit of them, oldest first, or the
        newest, newest first."""
        acc = checks.account(account)
        limit = max(1, min(limit or MAX_EVENTS_PER_PAGE, MAX_EVENTS_PER_PAGE))
        order = RUN_EVENTS.c.id.desc() if newest_first else RUN_EVENTS.c.id
        with self._db.read() as conn:
            rows = conn.execute(
                select(RUN_EVENTS)
                .where(RUN_EVENTS.c.account == acc, RUN_EVENTS.c.id > after_id)
                .order_by(order)
                .limit(limit)
            ).all()
        return [_event(row) for row in rows]

    def last_event_id(self, account: str) -> int:
        acc = checks.account(account)
        with self._db.read() as conn:
            row = conn.execute(
                select(RUN_EVENTS.c.id)
                .where(RUN_EVENTS.c.account == acc)
                .order_by(RUN_EVENTS.c.id.desc())
                .limit(1)
            ).first()
        return row.id if row is not None else 0

    # Webhooks

    def put_webhook(self, account: str, url: str, secret: str) -> Webhook:
        """Sets the account's webhook (url checked by the caller against the address rule)."""
        acc = checks.account(account)
        if not url or len(url) > MAX_URL_CHARS:
            raise InvalidInput(f"url must have 1 to {MAX_URL_CHARS} characters")
        if not MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS:
            raise InvalidInput(
                f"secret must have {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters"
            )
        now = self.now()
        values = {"url": url, "secret_encrypted": self._secrets.encrypt(secret)}
        with self._db.write() as conn:
            changed = conn.execute(
                update(WEBHOOKS)
                .where(WEBHOOKS.c.account == acc)
                .values(**values, last_modified_on=now)
            ).rowcount
            if not changed:
                conn.execute(insert(WEBHOOKS).values(account=acc, **values, last_modified_on=now))
        return Webhook(acc, url, now)

    def get_webhook(self, account: str) -> Webhook:
        acc = checks.account(account)
        with self._db.read() as conn:
            row = conn.execute(select(WEBHOOKS).where(WEBHOOKS.c.account == acc)).first()
        if row is None:
            raise EntityNotFound("The account has no webhook")
        return Webhook(row.account, row.url, row.last_modified_on)

    def delete_webhook(self, account: str) -> None:
        """Deletes the account's webhook; its pending deliveries are dropped. NOT_FOUND if none."""
        acc = checks.account(account)
        with self._db.write() as conn:
            if not conn.execute(delete(WEBHOOKS).where(WEBHOOKS.c.account == acc)).rowcount:
                raise EntityNotFound("The account has no webhook")
            conn.execute(
                update(RUN_EVENTS)
                .where(RUN_EVENTS.c.account == acc, RUN_EVENTS.c.delivery == str(Delivery.PENDING))
                .values(delivery=str(Delivery.NONE), next_attempt_on=None)
            )

    # Delivering

    def claim_deliveries(self, hold: timedelta, limit: int = 20) -> list[Delivering]:
        """Pending deliveries due now, each claimed for hold (not due again until then)."""
        now = self.now()
        with self._db.read() as conn:
            rows = conn.execute(
                select(RUN_EVENTS, WEBHOOKS.c.url, WEBHOOKS.c.secret_encrypted)
                .join(WEBHOOKS, WEBHOOKS.c.account == RUN_EVENTS.c.account)
                .where(
                    RUN_EVENTS.c.delivery == str(Delivery.PENDING),
                    RUN_EVENTS.c.next_attempt_on <= now,
                )
                .order_by(RUN_EVENTS.c.next_attempt_on, RUN_EVENTS.c.id)
                .limit(limit)
            ).all()
        claimed: list[Delivering] = []
        for row in rows:
            with self._db.write() as conn:
                won = conn.execute(
                    update(RUN_EVENTS)
                    .where(
                        RUN_EVENTS.c.id == row.id,
                        RUN_EVENTS.c.delivery == str(Delivery.PENDING),
                        RUN_EVENTS.c.next_attempt_on == row.next_attempt_on,
                    )
                    .values(next_attempt_on=now + hold)
                ).rowcount
            if won:
                claimed.append(
                    Delivering(_event(row), row.url, self._secrets.decrypt(row.secret_encrypted))
                )
        return claimed

    def delivered(self, event_id: int) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(RUN_EVENTS)
                .where(RUN_EVENTS.c.id == event_id)
                .values(
                    delivery=str(Delivery.DELIVERED),
                    attempts=RUN_EVENTS.c.attempts + 1,
                    next_attempt_on=None,
                    last_error="",
                )
            )

    def delivery_failed(self, event_id: int, error: str, retry_after: timedelta | None) -> None:
        """An attempt failed: try again after retry_after, or give up (None)."""
        now = self.now()
        with self._db.write() as conn:
            conn.execute(
                update(RUN_EVENTS)
                .where(RUN_EVENTS.c.id == event_id)
                .values(
                    delivery=str(Delivery.PENDING if retry_after else Delivery.FAILED),
                    attempts=RUN_EVENTS.c.attempts + 1,
                    next_attempt_on=now + retry_after if retry_after else None,
                    last_error=error[:1024],
                )
            )
