"""Trigger store contract and the trigger scheduler's fires, on SQLite and PostgreSQL, with an
injected clock: each due time, batch of events or set of finished runs fires exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sluice.common.db import Database
from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.crawlers.model import CrawlState as CrawlStoreState
from sluice.control_plane.crawlers.schema import upgrade_schema as upgrade_crawlers_schema
from sluice.control_plane.crawlers.sql_store import SqlCrawlerStore
from sluice.control_plane.jobs.leases import Fence, LeaseLost
from sluice.control_plane.jobs.model import RunInput, RunState
from sluice.control_plane.jobs.rows import JOBS
from sluice.control_plane.jobs.sql_leases import SqlLeaseStore
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.jobs.triggers.firer import (
    CONDITIONAL_FIRES_PER_TRANSACTION,
    FirerConfig,
    TriggerFirer,
)
from sluice.control_plane.jobs.triggers.model import (
    Action,
    Condition,
    CrawlState,
    EventBatching,
    Logical,
    Predicate,
    TriggerInput,
    TriggerState,
    TriggerType,
)
from sluice.control_plane.jobs.triggers.sql_store import SqlTriggerStore
from sluice.control_plane.jobs.triggers.store import FireResult
from tests.contract.test_job_store_support import (
    BACKENDS,
    PAGE_TOKEN_KEY,
    FakeClock,
    job_input,
    new_account,
    new_store,
    open_database,
)

pytestmark = pytest.mark.contract

ROLE = "arn:sluice:role/etl"


def no_network(account: str, job_name: str) -> tuple[str, str]:
    return "", ""


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("triggers")) as db:
        yield db


@pytest.fixture
def clock() -> FakeClock:
    # Thursday 2024-05-02 11:59:30 UTC.
    return FakeClock(datetime(2024, 5, 2, 11, 59, 30, tzinfo=UTC))


@pytest.fixture
def jobs(database: Database, clock: FakeClock) -> SqlJobStore:
    return new_store(database, clock)


@pytest.fixture
def triggers(database: Database, clock: FakeClock) -> SqlTriggerStore:
    return SqlTriggerStore(database, PageTokenCodec(PAGE_TOKEN_KEY), clock=clock)


@pytest.fixture
def account(jobs: SqlJobStore) -> str:
    acc = new_account()
    for name in ("a", "b", "c"):
        jobs.create_job(acc, job_input(name, max_concurrent_runs=50))
    return acc


def firer(triggers: SqlTriggerStore, clock: FakeClock, **config: float) -> TriggerFirer:
    return TriggerFirer(triggers, no_network, clock=clock, config=FirerConfig(**config))


def scheduled(name: str = "nightly", schedule: str = "cron(0 12 * * ? *)") -> TriggerInput:
    return TriggerInput(
        name=name,
        type=TriggerType.SCHEDULED,
        schedule=schedule,
        actions=(Action("c", arguments={"--day": "x"}, role=ROLE),),
        start_on_creation=True,
    )


def conditional(logical: Logical, *conditions: tuple[str, RunState]) -> TriggerInput:
    return TriggerInput(
        name="after",
        type=TriggerType.CONDITIONAL,
        predicate=Predicate(logical, tuple(Condition(job, state) for job, state in conditions)),
        actions=(Action("c", role=ROLE),),
        start_on_creation=True,
    )


def mine(fires: list[FireResult], account: str) -> list[FireResult]:
    """The fires of one account's triggers (tests share a database)."""
    return [fire for fire in fires if fire.account == account]


def runs_of(jobs: SqlJobStore, account: str, job: str) -> list:
    return list(jobs.get_runs(account, job, PageRequest(max_results=200)).items)


def finish(jobs: SqlJobStore, account: str, job: str, state: RunState) -> None:
    run = jobs.create_run(account, job, RunInput())
    if state is not RunState.STOPPED:
        assert jobs.transition(run.id, {RunState.STARTING}, RunState.RUNNING)
        assert jobs.transition(run.id, {RunState.RUNNING}, state)
        return
    jobs.request_stop(account, job, run.id)
    assert jobs.transition(run.id, {RunState.STOPPING}, state)


def test_create_get_list_update_delete(triggers: SqlTriggerStore, account: str) -> None:
    created = triggers.create_trigger(account, scheduled())
    assert created.state is TriggerState.ACTIVATED
    assert created.next_fire_at == datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
    assert triggers.get_trigger(account, "nightly") == created
    triggers.create_trigger(
        account, replace(scheduled("other"), actions=(Action("a", role=ROLE),), tags={"t": "1"})
    )
    names = triggers.list_trigger_names(account, PageRequest())
    assert list(names.items) == ["nightly", "other"]
    assert list(triggers.list_trigger_names(account, PageRequest(), "a").items) == ["other"]
    assert list(triggers.list_trigger_names(account, PageRequest(), "", {"t": "1"}).items) == [
        "other"
    ]
    first = triggers.get_triggers(account, PageRequest(max_results=1))
    assert [t.name for t in first.items] == ["nightly"] and first.next_token
    rest = triggers.get_triggers(account, PageRequest(max_results=1, next_token=first.next_token))
    assert [t.name for t in rest.items] == ["other"] and not rest.next_token
    updated = triggers.update_trigger(
        account, replace(scheduled(), schedule="cron(30 13 * * ? *)", start_on_creation=False)
    )
    assert updated.next_fire_at == datetime(2024, 5, 2, 13, 30, tzinfo=UTC)
    assert triggers.deactivate(account, "nightly").next_fire_at is None
    triggers.delete_trigger(account, "nightly")
    with pytest.raises(EntityNotFound):
        triggers.get_trigger(account, "nightly")
    with pytest.raises(EntityNotFound):
        triggers.get_trigger(new_account(), "other")


@pytest.mark.parametrize(
    "bad",
    [
        replace(scheduled(), schedule="cron(0 12 * * * *)"),
        replace(scheduled(), schedule=""),
        replace(scheduled(), time_zone="Mars/Olympus"),
        TriggerInput("x", TriggerType.CONDITIONAL, actions=(Action("a"),)),
        conditional(Logical.AND, ("a", RunState.RUNNING)),
        TriggerInput("x", TriggerType.EVENT, actions=(Action("a"),)),
        replace(scheduled(), actions=()),
        replace(scheduled(), name="bad name"),
    ],
)
def test_invalid_triggers_are_refused(
    triggers: SqlTriggerStore, account: str, bad: TriggerInput
) -> None:
    with pytest.raises(InvalidInput):
        triggers.create_trigger(account, bad)
    assert not triggers.list_trigger_names(account, PageRequest()).items


def test_a_due_time_fires_once_even_when_raced(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    triggers.create_trigger(account, scheduled())
    clock.advance(31)  # 12:00:01
    firers = [firer(triggers, clock) for _ in range(4)]
    barrier = threading.Barrier(len(firers))
    results: list[int] = []

    def one(f: TriggerFirer) -> None:
        barrier.wait(timeout=30)
        results.append(len(mine(f.run_once(), account)))

    threads = [threading.Thread(target=one, args=(f,)) for f in firers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(results) == 1
    runs = runs_of(jobs, account, "c")
    assert len(runs) == 1
    assert runs[0].trigger_name == "nightly" and runs[0].arguments["--day"] == "x"
    assert triggers.get_trigger(account, "nightly").next_fire_at == datetime(
        2024, 5, 3, 12, 0, tzinfo=UTC
    )
    assert mine(firer(triggers, clock).run_once(), account) == []


def test_a_failing_batch_of_scheduled_fires_fires_one_at_a_time(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    for name in ("nightly", "noon"):
        triggers.create_trigger(account, scheduled(name))
    clock.advance(31)  # 12:00:01
    fire_many = triggers.fire_scheduled_many

    def failing_batches(fires: list, *args: object) -> list:
        if len(fires) > 1:
            raise RuntimeError("the batch's transaction failed")
        return fire_many(fires, *args)  # type: ignore[arg-type]

    triggers.fire_scheduled_many = failing_batches  # type: ignore[method-assign]
    try:
        fires = mine(firer(triggers, clock).run_once(), account)
    finally:
        del triggers.fire_scheduled_many

    assert sorted(result.trigger_name for result in fires) == ["nightly", "noon"]
    assert sorted(run.trigger_name for run in runs_of(jobs, account, "c")) == ["nightly", "noon"]


def test_missed_due_times_fire_once_within_the_grace(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    triggers.create_trigger(account, scheduled(schedule="cron(0/10 * * * ? *)"))
    clock.advance(30 + 35 * 60)  # 12:35: due times 12:00, 12:10, 12:20, 12:30 missed
    assert len(mine(firer(triggers, clock, misfire_grace_s=600).run_once(), account)) == 1
    assert len(runs_of(jobs, account, "c")) == 1
    assert triggers.get_trigger(account, "nightly").next_fire_at == datetime(
        2024, 5, 2, 12, 40, tzinfo=UTC
    )
    # Down for longer than the grace: skipped, not fired late.
    clock.advance(3600)
    fires = mine(firer(triggers, clock, misfire_grace_s=60).run_once(), account)
    assert [f.runs for f in fires] == [()]
    assert len(runs_of(jobs, account, "c")) == 1
    assert triggers.get_trigger(account, "nightly").next_fire_at == datetime(
        2024, 5, 2, 13, 40, tzinfo=UTC
    )


def test_triggers_read_ahead_fire_as_they_are_at_their_due_time(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    triggers.create_trigger(account, scheduled())
    other = replace(scheduled("other"), actions=(Action("b", role=ROLE),))
    triggers.create_trigger(account, other)
    one, two = firer(triggers, clock, prefetch_s=60), firer(triggers, clock, prefetch_s=60)
    # 11:59:30: both due at 12:00 are read ahead by both firers; nothing fires yet.
    assert mine(one.run_once(), account) == [] and mine(two.run_once(), account) == []
    # Changed after the read: nightly starts a (not c), other is stopped, late is new.
    triggers.update_trigger(account, replace(scheduled(), actions=(Action("a", role=ROLE),)))
    triggers.deactivate(account, "other")
    clock.advance(15)
    triggers.create_trigger(account, scheduled("late"))
    clock.advance(16)  # 12:00:01
    fires = mine(one.run_once(), account)
    assert sorted((f.trigger_name, [job for job, _ in f.runs]) for f in fires) == [
        ("late", ["c"]),
        ("nightly", ["a"]),
    ]
    assert mine(two.run_once(), account) == []  # fired once, whoever read them ahead
    assert [r.trigger_name for r in runs_of(jobs, account, "a")] == ["nightly"]
    assert [r.trigger_name for r in runs_of(jobs, account, "c")] == ["late"]
    assert runs_of(jobs, account, "b") == []
    assert mine(one.run_once(), account) == []


def test_runs_prepared_ahead_follow_their_jobs_changes(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    """Read ahead, a fire's networks are resolved and its runs' rows built; at the due time a
    job that changed meanwhile gets its run built again, one that did not gets the row built
    ahead, with the fire's time."""
    jobs.create_job(account, job_input("kept", default_arguments={"--k": "1"}))
    jobs.create_job(account, job_input("changed", default_arguments={"--k": "1"}))
    for name in ("kept", "changed"):
        triggers.create_trigger(
            account, replace(scheduled(f"on-{name}"), actions=(Action(name, role=ROLE),))
        )
    resolved: list[str] = []

    def network(acc: str, job_name: str) -> tuple[str, str]:
        resolved.append(job_name)
        return f"subnet-{job_name}", f"sg-{job_name}"

    one = TriggerFirer(triggers, network, clock=clock, config=FirerConfig(prefetch_s=60))
    assert mine(one.run_once(), account) == []  # 11:59:30: read ahead
    assert sorted(resolved) == ["changed", "kept"]
    jobs.update_job(
        account,
        job_input("changed", default_arguments={"--k": "2"}, timeout=7, worker_type="G.2X"),
    )
    clock.advance(31)  # 12:00:01
    fires = mine(one.run_once(), account)
    assert sorted(f.trigger_name for f in fires) == ["on-changed", "on-kept"]
    assert sorted(resolved) == ["changed", "kept"]  # not resolved again at the fire
    (kept,) = runs_of(jobs, account, "kept")
    (changed,) = runs_of(jobs, account, "changed")
    assert kept.arguments == {"--k": "1"} and changed.arguments == {"--k": "2"}
    assert (changed.timeout, changed.worker_type) == (7, "G.2X")
    for run, name in ((kept, "kept"), (changed, "changed")):
        assert run.started_on == clock() and run.last_modified_on == clock()
        isolation = run.isolation
        assert (isolation.subnet_id, isolation.security_group_id) == (
            f"subnet-{name}",
            f"sg-{name}",
        )
        assert run.trigger_name == f"on-{name}"
    assert len({kept.id, changed.id}) == 2


def test_fire_lanes_fire_every_due_trigger_once(
    triggers: SqlTriggerStore,
    jobs: SqlJobStore,
    database: Database,
    account: str,
    clock: FakeClock,
) -> None:
    """Fires split into lanes by their jobs (a fire on jobs of two lanes after them), made side
    by side in small batches: each due trigger fires once, each run counted against its job."""
    names = [f"j{i}" for i in range(6)]
    for name in names:
        jobs.create_job(account, job_input(name, max_concurrent_runs=100))
    expected: dict[str, int] = dict.fromkeys(names, 0)
    for i in range(40):
        first, second = names[i % 6], names[(i + 1) % 6]
        actions = (Action(first, role=ROLE),)
        if i % 5 == 0:  # starts two jobs, most likely of two lanes
            actions += (Action(second, role=ROLE),)
            expected[second] += 1
        expected[first] += 1
        triggers.create_trigger(account, replace(scheduled(f"t{i:02d}"), actions=actions))
    clock.advance(31)
    lanes = firer(triggers, clock, fire_lanes=3, fire_batch=4)
    try:
        fires = mine(lanes.run_once(), account)
    finally:
        lanes.stop()
    assert sorted(f.trigger_name for f in fires) == [f"t{i:02d}" for i in range(40)]
    with database.read() as conn:
        active = dict(
            conn.execute(
                select(JOBS.c.name, JOBS.c.active_runs).where(JOBS.c.account == account)
            ).all()
        )
    for name in names:
        assert len(runs_of(jobs, account, name)) == expected[name]
        assert active[name] == expected[name]
    assert mine(firer(triggers, clock, fire_lanes=3).run_once(), account) == []


def test_a_stale_fence_fires_nothing(
    triggers: SqlTriggerStore, jobs: SqlJobStore, database: Database, account: str, clock: FakeClock
) -> None:
    leases = SqlLeaseStore(database, clock=clock)
    lease_name = f"test.{account}"
    old = leases.acquire(lease_name, "one", 15)
    assert old is not None
    clock.advance(31)
    assert leases.release(old)
    assert leases.acquire(lease_name, "two", 15) is not None
    triggers.create_trigger(account, replace(scheduled(), start_on_creation=True))
    clock.advance(3600 * 24)
    trigger = triggers.due_scheduled(clock())[0]
    with pytest.raises(LeaseLost):
        triggers.fire_scheduled(
            trigger, trigger.next_fire_at, None, True, no_network, Fence(lease_name, old.token)
        )
    assert runs_of(jobs, account, "c") == []


def test_and_fires_once_per_satisfying_set(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    triggers.create_trigger(
        account, conditional(Logical.AND, ("a", RunState.SUCCEEDED), ("b", RunState.SUCCEEDED))
    )
    clock.advance(1)
    fire = firer(triggers, clock)
    finish(jobs, account, "a", RunState.SUCCEEDED)
    assert mine(fire.run_once(), account) == []
    finish(jobs, account, "b", RunState.FAILED)
    assert mine(fire.run_once(), account) == []
    finish(jobs, account, "b", RunState.SUCCEEDED)
    assert len(mine(fire.run_once(), account)) == 1
    assert mine(fire.run_once(), account) == []
    runs = runs_of(jobs, account, "c")
    assert [r.trigger_name for r in runs] == ["after"]
    # A new set: both again.
    finish(jobs, account, "a", RunState.SUCCEEDED)
    assert mine(fire.run_once(), account) == []
    finish(jobs, account, "b", RunState.SUCCEEDED)
    assert len(mine(fire.run_once(), account)) == 1
    assert len(runs_of(jobs, account, "c")) == 2


def test_any_fires_once_per_matching_run_and_ignores_runs_before_activation(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    finish(jobs, account, "a", RunState.FAILED)  # before the trigger: not counted
    clock.advance(1)
    triggers.create_trigger(
        account, conditional(Logical.ANY, ("a", RunState.FAILED), ("b", RunState.TIMEOUT))
    )
    clock.advance(1)
    finish(jobs, account, "a", RunState.SUCCEEDED)
    finish(jobs, account, "a", RunState.FAILED)
    finish(jobs, account, "b", RunState.TIMEOUT)
    assert len(mine(firer(triggers, clock).run_once(), account)) == 2
    assert mine(firer(triggers, clock).run_once(), account) == []
    assert len(runs_of(jobs, account, "c")) == 2


def test_many_ready_conditional_triggers_fire_in_batches_and_any_repeats(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    count = CONDITIONAL_FIRES_PER_TRANSACTION * 2 + 7
    jobs.create_job(account, job_input("many", max_concurrent_runs=1000))
    for i in range(count):
        jobs.create_job(account, job_input(f"w{i:03d}", max_concurrent_runs=5))
        trigger = conditional(Logical.ANY, (f"w{i:03d}", RunState.SUCCEEDED))
        triggers.create_trigger(
            account, replace(trigger, name=f"t{i:03d}", actions=(Action("many", role=ROLE),))
        )
    clock.advance(1)
    for i in range(count):
        finish(jobs, account, f"w{i:03d}", RunState.SUCCEEDED)
        if i % 2:
            finish(jobs, account, f"w{i:03d}", RunState.SUCCEEDED)  # two runs: two fires
    # One deleted after it was found ready: it fires nothing, the others in its batch do.
    fire = firer(triggers, clock)
    gone = triggers.get_trigger(account, "t005")
    original = triggers.ready_conditional

    def ready_then_delete(candidates: list) -> list:
        ready = original(candidates)
        if any(trigger.pk == gone.pk for trigger in ready):
            triggers.delete_trigger(account, "t005")
        return ready

    triggers.ready_conditional = ready_then_delete  # type: ignore[method-assign]
    try:
        fires = mine(fire.run_once(), account)
    finally:
        del triggers.ready_conditional

    expected = {f"t{i:03d}": 1 + i % 2 for i in range(count) if i != 5}
    counted: dict[str, int] = {}
    for result in fires:
        counted[result.trigger_name] = counted.get(result.trigger_name, 0) + 1
    assert counted == expected
    assert len(runs_of(jobs, account, "many")) == sum(expected.values())
    assert mine(fire.run_once(), account) == []


def test_a_failing_batch_of_conditional_fires_fires_one_at_a_time(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    for name, watched in (("x", "a"), ("y", "b")):
        trigger = conditional(Logical.AND, (watched, RunState.SUCCEEDED))
        triggers.create_trigger(account, replace(trigger, name=name))
    clock.advance(1)
    finish(jobs, account, "a", RunState.SUCCEEDED)
    finish(jobs, account, "b", RunState.SUCCEEDED)

    def broken(*_args: object) -> list:
        raise RuntimeError("the batch's transaction failed")

    triggers.fire_conditional_many = broken  # type: ignore[method-assign]
    try:
        fires = mine(firer(triggers, clock).run_once(), account)
    finally:
        del triggers.fire_conditional_many

    assert sorted(result.trigger_name for result in fires) == ["x", "y"]
    assert len(runs_of(jobs, account, "c")) == 2


def test_on_demand_and_events(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    triggers.create_trigger(
        account, TriggerInput("now", TriggerType.ON_DEMAND, actions=(Action("a", role=ROLE),))
    )
    result = triggers.fire_on_demand(account, "now", no_network)
    assert [job for job, _ in result.runs] == ["a"]
    triggers.create_trigger(
        account,
        TriggerInput(
            "ev",
            TriggerType.EVENT,
            actions=(Action("b", role=ROLE),),
            event_batching=EventBatching(batch_size=3, batch_window=60),
        ),
    )
    with pytest.raises(InvalidInput):
        triggers.notify_event(account, "ev", no_network)  # not activated
    triggers.activate(account, "ev")
    assert triggers.notify_event(account, "ev", no_network)[0] == 1
    assert triggers.notify_event(account, "ev", no_network)[0] == 2
    pending, fired = triggers.notify_event(account, "ev", no_network)
    assert pending == 0 and len(fired.runs) == 1
    assert triggers.notify_event(account, "ev", no_network)[0] == 1
    fire = firer(triggers, clock)
    clock.advance(59)
    assert mine(fire.run_once(), account) == []
    clock.advance(2)
    assert len(mine(fire.run_once(), account)) == 1
    assert mine(fire.run_once(), account) == []
    assert len(runs_of(jobs, account, "b")) == 2


def test_an_action_whose_job_changed_role_is_skipped(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str
) -> None:
    triggers.create_trigger(
        account, TriggerInput("now", TriggerType.ON_DEMAND, actions=(Action("a", role=ROLE),))
    )
    jobs.update_job(account, job_input("a", role="arn:sluice:role/other"))
    result = triggers.fire_on_demand(account, "now", no_network)
    assert result.runs == () and result.skipped[0][0] == "a"
    assert runs_of(jobs, account, "a") == []


def test_scheduled_in_a_time_zone(triggers: SqlTriggerStore, account: str) -> None:
    created = triggers.create_trigger(
        account, replace(scheduled(schedule="cron(0 9 * * ? *)"), time_zone="Europe/Paris")
    )
    assert created.next_fire_at == datetime(2024, 5, 3, 7, 0, tzinfo=UTC)
    assert created.next_fire_at - datetime(2024, 5, 2, 11, 59, 30, tzinfo=UTC) < timedelta(1)


def test_scheduled_fires_in_one_batch_respect_caps_and_roles(
    triggers: SqlTriggerStore, jobs: SqlJobStore, account: str, clock: FakeClock
) -> None:
    jobs.create_job(account, job_input("capped", max_concurrent_runs=2))
    jobs.create_job(account, job_input("moved"))
    for i in range(3):
        triggers.create_trigger(
            account, replace(scheduled(f"cap{i}"), actions=(Action("capped", role=ROLE),))
        )
    triggers.create_trigger(
        account,
        replace(scheduled("both"), actions=(Action("moved", role=ROLE), Action("c", role=ROLE))),
    )
    jobs.update_job(account, job_input("moved", role="arn:sluice:role/other"))
    clock.advance(31)
    fires = {f.trigger_name: f for f in mine(firer(triggers, clock).run_once(), account)}
    assert sorted(fires) == ["both", "cap0", "cap1", "cap2"]
    assert len(runs_of(jobs, account, "capped")) == 2
    assert sum(len(f.runs) for name, f in fires.items() if name.startswith("cap")) == 2
    assert [job for job, _ in fires["both"].runs] == ["c"]
    assert [job for job, _ in fires["both"].skipped] == ["moved"]
    assert runs_of(jobs, account, "moved") == []
    assert [r.trigger_name for r in runs_of(jobs, account, "c")] == ["both"]


@pytest.fixture
def crawler_store(database: Database) -> SqlCrawlerStore:
    upgrade_crawlers_schema(database)
    return SqlCrawlerStore(database, PageTokenCodec(PAGE_TOKEN_KEY))


CRAWLER = {"role": ROLE, "database_name": "db", "targets": {}}


def test_crawler_actions_and_crawl_conditions_fire_once(
    triggers: SqlTriggerStore,
    crawler_store: SqlCrawlerStore,
    account: str,
    clock: FakeClock,
    jobs: SqlJobStore,
) -> None:
    crawler_store.create_crawler(account, "cr", CRAWLER, {}, None)
    # A job's success starts the crawler (through the crawler store's start).
    triggers.create_trigger(
        account,
        replace(
            conditional(Logical.AND, ("a", RunState.SUCCEEDED)),
            name="crawl-after-a",
            actions=(Action(crawler_name="cr", role=ROLE),),
        ),
    )
    # The crawl's success starts job c; a failure of it would start job b.
    triggers.create_trigger(
        account,
        TriggerInput(
            name="after-crawl",
            type=TriggerType.CONDITIONAL,
            predicate=Predicate(
                Logical.AND, (Condition("", crawler_name="cr", crawl_state=CrawlState.SUCCEEDED),)
            ),
            actions=(Action("c", role=ROLE),),
            start_on_creation=True,
        ),
    )
    triggers.create_trigger(
        account,
        TriggerInput(
            name="crawl-failed",
            type=TriggerType.CONDITIONAL,
            predicate=Predicate(
                Logical.ANY, (Condition("", crawler_name="cr", crawl_state=CrawlState.FAILED),)
            ),
            actions=(Action("b", role=ROLE),),
            start_on_creation=True,
        ),
    )
    got = triggers.get_trigger(account, "after-crawl")
    assert got.predicate is not None and got.predicate.conditions[0].crawler_name == "cr"
    assert triggers.get_trigger(account, "crawl-after-a").actions[0].crawler_name == "cr"
    scheduler = firer(triggers, clock)
    finish(jobs, account, "a", RunState.SUCCEEDED)
    fired = mine(scheduler.run_once(), account)
    assert [(f.trigger_name, [c for c, _ in f.crawls]) for f in fired] == [
        ("crawl-after-a", ["cr"])
    ]
    assert crawler_store.get_crawler(account, "cr").state.value == "RUNNING"
    # A second success while the crawler runs: the action is skipped, not queued.
    finish(jobs, account, "a", RunState.SUCCEEDED)
    (again,) = mine(scheduler.run_once(), account)
    assert again.crawls == () and again.skipped[0][0] == "cr"
    # A server's runner takes the begun crawl, once.
    taken = [c for _, c in crawler_store.claim_pending("server-1") if c.account == account]
    assert [c.crawl_id for c in taken] == [fired[0].crawls[0][1]]
    assert not [c for _, c in crawler_store.claim_pending("server-2") if c.account == account]
    assert mine(scheduler.run_once(), account) == []
    crawler_store.finish_crawl(taken[0].crawl_id, CrawlStoreState.COMPLETED, {})
    (done,) = mine(scheduler.run_once(), account)
    assert done.trigger_name == "after-crawl" and [j for j, _ in done.runs] == ["c"]
    assert mine(scheduler.run_once(), account) == []
    # The crawler deleted (its crawls with it) and made again: its next crawl is new to the
    # triggers (on SQLite it may get the deleted crawl's row key).
    crawler_store.delete_crawler(account, "cr")
    crawler_store.create_crawler(account, "cr", CRAWLER, {}, None)
    _, crawl = crawler_store.start_crawl(account, "cr", "server-1")
    crawler_store.finish_crawl(crawl.crawl_id, CrawlStoreState.COMPLETED, {})
    (anew,) = mine(scheduler.run_once(), account)
    assert anew.trigger_name == "after-crawl"


def test_crawler_names_and_states_are_checked(triggers: SqlTriggerStore, account: str) -> None:
    bad = [
        Action(crawler_name="cr", arguments={"--x": "1"}, role=ROLE),
        Action("a", crawler_name="cr", role=ROLE),
        Action(crawler_name="a/b", role=ROLE),
    ]
    for action in bad:
        with pytest.raises(InvalidInput):
            triggers.create_trigger(account, replace(scheduled("bad"), actions=(action,)))
    with pytest.raises(InvalidInput):
        triggers.create_trigger(
            account,
            TriggerInput(
                name="bad",
                type=TriggerType.CONDITIONAL,
                predicate=Predicate(
                    Logical.AND,
                    (Condition("a", RunState.FAILED, "cr", CrawlState.SUCCEEDED),),
                ),
                actions=(Action("c", role=ROLE),),
            ),
        )
    assert list(triggers.list_trigger_names(account, PageRequest()).items) == []
