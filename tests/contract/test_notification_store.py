"""Notification store contract on SQLite and PostgreSQL: run events recorded once per run and
kind however many recorders pass (two replicas), DELAYED by the clock, deliveries claimed by one
deliverer at a time and retried when due, webhook secrets kept encrypted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet

from sluice.common.db import Database
from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.common.secrets import SecretBox
from sluice.control_plane.jobs.model import RunInput, RunState
from sluice.control_plane.jobs.notifications.store import (
    Delivery,
    EventKind,
    SqlNotificationStore,
)
from sluice.control_plane.jobs.sql_store import SqlJobStore
from tests.contract.test_job_store_support import (
    BACKENDS,
    FakeClock,
    job_input,
    new_account,
    new_store,
    open_database,
)

pytestmark = pytest.mark.contract

SECRET = "sixteen-or-more-characters"
SECRETS = SecretBox([Fernet.generate_key()])


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("notify")) as db:
        yield db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def jobs(database: Database, clock: FakeClock) -> SqlJobStore:
    return new_store(database, clock)


@pytest.fixture
def events(database: Database, clock: FakeClock) -> SqlNotificationStore:
    return SqlNotificationStore(database, SECRETS, clock=clock)


def running_run(jobs: SqlJobStore, account: str, delay: int | None = None) -> str:
    if not _has_job(jobs, account):
        jobs.create_job(account, job_input(max_concurrent_runs=10))
    run = jobs.create_run(account, "etl", RunInput(notify_delay_after=delay))
    assert jobs.transition(run.id, {RunState.STARTING}, RunState.RUNNING, environment_id="e")
    return run.id


def _has_job(jobs: SqlJobStore, account: str) -> bool:
    try:
        jobs.get_job(account, "etl")
    except EntityNotFound:
        return False
    return True


def test_a_failed_run_is_one_event_whoever_records_it(
    database: Database, jobs: SqlJobStore, events: SqlNotificationStore, clock: FakeClock
) -> None:
    account = new_account()
    run_id = running_run(jobs, account)
    assert jobs.transition(run_id, {RunState.RUNNING}, RunState.FAILED, error_message="boom")
    other = SqlNotificationStore(database, SECRETS, clock=clock)

    recorded = [*events.record_due_events(), *other.record_due_events()]
    recorded += [*other.record_due_events(), *events.record_due_events()]

    mine = [e for e in recorded if e.account == account]
    assert [(e.kind, e.run_id, e.state, e.message) for e in mine] == [
        (EventKind.FAILED, run_id, RunState.FAILED, "boom")
    ]
    assert [e.id for e in events.get_events(account)] == [mine[0].id]
    assert mine[0].delivery is Delivery.NONE


def test_a_run_is_delayed_once_after_its_notify_delay_after(
    jobs: SqlJobStore, events: SqlNotificationStore, clock: FakeClock
) -> None:
    account = new_account()
    run_id = running_run(jobs, account, delay=2)
    plain = running_run(jobs, account)

    clock.advance(119)
    assert [e for e in events.record_due_events() if e.account == account] == []
    clock.advance(2)
    [delayed] = [e for e in events.record_due_events() if e.account == account]
    clock.advance(600)
    assert [e for e in events.record_due_events() if e.account == account] == []

    assert (delayed.kind, delayed.run_id, delayed.notify_delay_after) == (
        EventKind.DELAYED,
        run_id,
        2,
    )
    assert plain not in {e.run_id for e in events.get_events(account)}
    # Newest first, and after an id.
    assert events.get_events(account, newest_first=True)[0].id == delayed.id
    assert events.get_events(account, after_id=delayed.id) == []


def test_a_delivery_is_claimed_once_and_retried_when_due(
    database: Database, jobs: SqlJobStore, events: SqlNotificationStore, clock: FakeClock
) -> None:
    account = new_account()
    events.put_webhook(account, "https://8.8.8.8/hook", SECRET)
    run_id = running_run(jobs, account)
    assert jobs.transition(run_id, {RunState.RUNNING}, RunState.ERROR, error_message="lost")
    [event] = [e for e in events.record_due_events() if e.account == account]
    assert event.delivery is Delivery.PENDING
    other = SqlNotificationStore(database, SECRETS, clock=clock)
    hold = timedelta(seconds=60)

    claims = [
        d
        for store in (events, other)
        for d in store.claim_deliveries(hold)
        if d.event.id == event.id
    ]

    assert len(claims) == 1
    assert (claims[0].url, claims[0].secret) == ("https://8.8.8.8/hook", SECRET)
    events.delivery_failed(event.id, "HTTP 500", timedelta(seconds=4))
    clock.advance(3)
    assert [d for d in other.claim_deliveries(hold) if d.event.id == event.id] == []
    clock.advance(2)
    [again] = [d for d in other.claim_deliveries(hold) if d.event.id == event.id]
    assert again.event.attempts == 1
    other.delivered(event.id)
    [done] = events.get_events(account)
    assert (done.delivery, done.attempts) == (Delivery.DELIVERED, 2)


def test_a_webhook_secret_is_encrypted_and_deleting_drops_pending_deliveries(
    database: Database, jobs: SqlJobStore, events: SqlNotificationStore
) -> None:
    account = new_account()
    with pytest.raises(InvalidInput):
        events.put_webhook(account, "https://8.8.8.8/", "short")
    events.put_webhook(account, "https://8.8.8.8/a", SECRET)
    events.put_webhook(account, "https://8.8.8.8/b", SECRET)
    assert events.get_webhook(account).url == "https://8.8.8.8/b"
    with database.read() as conn:
        stored = conn.exec_driver_sql(
            f"SELECT secret_encrypted FROM webhooks WHERE account = '{account}'"
        ).scalar_one()
    assert SECRET not in stored
    run_id = running_run(jobs, account)
    jobs.transition(run_id, {RunState.RUNNING}, RunState.TIMEOUT)
    events.record_due_events()

    events.delete_webhook(account)

    assert [e.delivery for e in events.get_events(account)] == [Delivery.NONE]
    with pytest.raises(EntityNotFound):
        events.get_webhook(account)
    with pytest.raises(EntityNotFound):
        events.delete_webhook(account)
