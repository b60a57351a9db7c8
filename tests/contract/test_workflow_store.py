"""Workflow store contract on SQLite and PostgreSQL: definitions, a run's graph of triggers
firing once per run on that run's job runs only, completion, stop, properties, and the
max_concurrent_runs slot under a race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sluice.common.db import Database
from sluice.common.errors import (
    AlreadyExists,
    ConcurrentRunsExceeded,
    EntityNotFound,
    IllegalWorkflowState,
    InvalidInput,
)
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.crawlers.model import CrawlState as CrawlStoreState
from sluice.control_plane.crawlers.schema import upgrade_schema as upgrade_crawlers_schema
from sluice.control_plane.crawlers.sql_store import SqlCrawlerStore
from sluice.control_plane.jobs.leases import Fence, LeaseLost
from sluice.control_plane.jobs.model import RunInput, RunState
from sluice.control_plane.jobs.sql_leases import SqlLeaseStore
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.jobs.triggers.firer import FirerConfig, TriggerFirer
from sluice.control_plane.jobs.triggers.model import (
    Action,
    Condition,
    CrawlState,
    EventBatching,
    Logical,
    Predicate,
    TriggerInput,
    TriggerType,
)
from sluice.control_plane.jobs.triggers.sql_store import SqlTriggerStore
from sluice.control_plane.jobs.workflows.model import RunStatus, WorkflowInput
from sluice.control_plane.jobs.workflows.sql_store import SqlWorkflowStore
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
    with open_database(request.param, tmp_path_factory.mktemp("workflows")) as db:
        upgrade_crawlers_schema(db)
        yield db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 5, 2, 11, 59, 30, tzinfo=UTC))


@pytest.fixture
def jobs(database: Database, clock: FakeClock) -> SqlJobStore:
    return new_store(database, clock)


@pytest.fixture
def triggers(database: Database, clock: FakeClock) -> SqlTriggerStore:
    return SqlTriggerStore(database, PageTokenCodec(PAGE_TOKEN_KEY), clock=clock)


@pytest.fixture
def workflows(database: Database, clock: FakeClock, triggers: SqlTriggerStore) -> SqlWorkflowStore:
    return SqlWorkflowStore(database, PageTokenCodec(PAGE_TOKEN_KEY), triggers, clock=clock)


@pytest.fixture
def account(jobs: SqlJobStore) -> str:
    acc = new_account()
    for name in ("a", "b", "c"):
        jobs.create_job(acc, job_input(name, max_concurrent_runs=50))
    return acc


def firer(triggers: SqlTriggerStore, workflows: SqlWorkflowStore, clock: FakeClock) -> TriggerFirer:
    return TriggerFirer(
        triggers, no_network, clock=clock, config=FirerConfig(), workflows=workflows.advance
    )


def start(name: str = "start", job: str = "a", workflow: str = "flow") -> TriggerInput:
    return TriggerInput(
        name=name,
        type=TriggerType.ON_DEMAND,
        actions=(Action(job, role=ROLE),),
        workflow_name=workflow,
    )


def after(
    name: str, watched: str, started: str, state: RunState = RunState.SUCCEEDED
) -> TriggerInput:
    return TriggerInput(
        name=name,
        type=TriggerType.CONDITIONAL,
        predicate=Predicate(Logical.AND, (Condition(watched, state),)),
        actions=(Action(started, role=ROLE),),
        workflow_name="flow",
    )


def chain(workflows: SqlWorkflowStore, triggers: SqlTriggerStore, account: str, **kw: int) -> None:
    """flow: start -> a; a SUCCEEDED -> b."""
    workflows.create_workflow(account, WorkflowInput("flow", **kw))  # type: ignore[arg-type]
    triggers.create_trigger(account, start())
    triggers.create_trigger(account, after("then-b", "a", "b"))


def runs_of(jobs: SqlJobStore, account: str, job: str) -> list:
    return list(jobs.get_runs(account, job, PageRequest(max_results=200)).items)


def end(jobs: SqlJobStore, run_id: str, state: RunState) -> None:
    assert jobs.transition(run_id, {RunState.STARTING}, RunState.RUNNING)
    assert jobs.transition(run_id, {RunState.RUNNING}, state)


def test_definitions(workflows: SqlWorkflowStore, triggers: SqlTriggerStore, account: str) -> None:
    created = workflows.create_workflow(
        account,
        WorkflowInput("flow", "nightly", {"day": "1"}, max_concurrent_runs=2, tags={"t": "1"}),
    )
    assert created.default_run_properties == {"day": "1"}
    assert workflows.get_workflow(account, "flow") == created
    with pytest.raises(AlreadyExists):
        workflows.create_workflow(account, WorkflowInput("flow"))
    workflows.create_workflow(account, WorkflowInput("other"))
    assert list(workflows.list_workflow_names(account, PageRequest()).items) == ["flow", "other"]
    page = workflows.list_workflow_names(account, PageRequest(max_results=1))
    assert list(page.items) == ["flow"] and page.next_token
    updated = workflows.update_workflow(account, WorkflowInput("flow", "daily"))
    assert updated.description == "daily" and updated.max_concurrent_runs == 0
    assert updated.tags == {"t": "1"}
    triggers.create_trigger(account, start())
    workflows.delete_workflow(account, "flow")
    with pytest.raises(EntityNotFound):
        workflows.get_workflow(account, "flow")
    with pytest.raises(EntityNotFound):
        triggers.get_trigger(account, "start")
    workflows.delete_workflow(account, "flow")  # no error, as in Glue
    with pytest.raises(EntityNotFound):
        workflows.get_workflow(new_account(), "other")


def test_a_workflows_triggers_are_checked(
    workflows: SqlWorkflowStore, triggers: SqlTriggerStore, account: str
) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        triggers.create_trigger(account, start())
    chain(workflows, triggers, account)
    with pytest.raises(InvalidInput, match="more than one start trigger"):
        triggers.create_trigger(account, start("start2", "c"))
    triggers.create_trigger(account, after("then-c", "b", "c"))
    with pytest.raises(InvalidInput, match=r"cycle.*job/a") as caught:
        triggers.create_trigger(account, after("back", "c", "a"))
    assert "trigger/back" in caught.value.message
    with pytest.raises(EntityNotFound):
        triggers.get_trigger(account, "back")
    with pytest.raises(InvalidInput, match="more than one start trigger"):
        triggers.create_trigger(
            account,
            TriggerInput(
                "sched",
                TriggerType.SCHEDULED,
                (Action("a", role=ROLE),),
                schedule="cron(0 12 * * ? *)",
                workflow_name="flow",
            ),
        )
    with pytest.raises(InvalidInput, match="StartWorkflowRun"):
        triggers.fire_on_demand(account, "start", no_network)


def test_a_run_fires_its_graph_once_on_its_own_runs_and_completes(
    workflows: SqlWorkflowStore,
    triggers: SqlTriggerStore,
    jobs: SqlJobStore,
    clock: FakeClock,
    account: str,
) -> None:
    chain(workflows, triggers, account)
    fire = firer(triggers, workflows, clock)
    run_id, fired = workflows.start_run(account, "flow", {"p": "1"}, no_network)
    assert run_id.startswith("wr_") and len(fired.runs) == 1
    (a_run,) = runs_of(jobs, account, "a")
    assert a_run.arguments["--WORKFLOW_NAME"] == "flow"
    assert a_run.arguments["--WORKFLOW_RUN_ID"] == run_id
    # b's own run outside the workflow, and a's outside it, count for nothing.
    other = jobs.create_run(account, "a", RunInput())
    end(jobs, other.id, RunState.SUCCEEDED)
    fire.run_once()
    assert runs_of(jobs, account, "b") == []
    run = workflows.get_run(account, "flow", run_id)
    assert run.status is RunStatus.RUNNING and run.statistics.running == 1
    end(jobs, a_run.id, RunState.SUCCEEDED)
    fire.run_once()
    fire.run_once()
    (b_run,) = runs_of(jobs, account, "b")
    assert b_run.arguments["--WORKFLOW_RUN_ID"] == run_id
    assert workflows.get_run(account, "flow", run_id).status is RunStatus.RUNNING
    end(jobs, b_run.id, RunState.FAILED)
    fire.run_once()
    run = workflows.get_run(account, "flow", run_id)
    assert run.status is RunStatus.COMPLETED and run.completed_on == clock()
    assert (run.statistics.total, run.statistics.succeeded, run.statistics.failed) == (2, 1, 1)
    assert [r.job_name for r in run.job_runs] == ["a", "b"]
    assert run.properties == {"p": "1"}
    fire.run_once()
    assert len(runs_of(jobs, account, "b")) == 1
    assert workflows.get_workflow(account, "flow").last_run.run_id == run_id  # type: ignore[union-attr]
    with pytest.raises(IllegalWorkflowState):
        workflows.put_run_properties(account, "flow", run_id, {"q": "2"})


def test_runs_are_apart_and_capped(
    workflows: SqlWorkflowStore,
    triggers: SqlTriggerStore,
    jobs: SqlJobStore,
    clock: FakeClock,
    account: str,
) -> None:
    chain(workflows, triggers, account, max_concurrent_runs=2)
    fire = firer(triggers, workflows, clock)
    first, _ = workflows.start_run(account, "flow", {}, no_network)
    second, _ = workflows.start_run(account, "flow", {}, no_network)
    with pytest.raises(ConcurrentRunsExceeded):
        workflows.start_run(account, "flow", {}, no_network)
    a_first = next(
        r for r in runs_of(jobs, account, "a") if r.arguments["--WORKFLOW_RUN_ID"] == first
    )
    end(jobs, a_first.id, RunState.SUCCEEDED)
    fire.run_once()
    (b_run,) = runs_of(jobs, account, "b")
    assert b_run.arguments["--WORKFLOW_RUN_ID"] == first
    # Properties merge while running.
    workflows.put_run_properties(account, "flow", second, {"k": "v"})
    workflows.put_run_properties(account, "flow", second, {"k2": "v2"})
    assert workflows.get_run_properties(account, "flow", second) == {"k": "v", "k2": "v2"}
    # Stopping the second: STOPPING until its job run ends, then STOPPED; a slot frees.
    (active,) = workflows.stop_run(account, "flow", second)
    assert active[:2] == ("job", "a")
    with pytest.raises(IllegalWorkflowState):
        workflows.stop_run(account, "flow", second)
    fire.run_once()
    assert workflows.get_run(account, "flow", second).status is RunStatus.STOPPING
    jobs.request_stop(account, "a", active[2])
    assert jobs.transition(active[2], {RunState.STOPPING}, RunState.STOPPED)
    fire.run_once()
    assert workflows.get_run(account, "flow", second).status is RunStatus.STOPPED
    third, _ = workflows.start_run(account, "flow", {}, no_network)
    runs = workflows.get_runs(account, "flow", PageRequest())
    assert [r.run_id for r in runs.items] == [third, second, first]


def test_the_slot_is_claimed_once_under_a_race(
    workflows: SqlWorkflowStore, triggers: SqlTriggerStore, account: str
) -> None:
    chain(workflows, triggers, account, max_concurrent_runs=1)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def go() -> None:
        barrier.wait()
        try:
            workflows.start_run(account, "flow", {}, no_network)
            outcomes.append("started")
        except ConcurrentRunsExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=go) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 3 + ["started"]


def test_a_run_keeps_its_graph_as_of_its_start(
    workflows: SqlWorkflowStore,
    triggers: SqlTriggerStore,
    jobs: SqlJobStore,
    clock: FakeClock,
    account: str,
) -> None:
    chain(workflows, triggers, account)
    fire = firer(triggers, workflows, clock)
    first, _ = workflows.start_run(account, "flow", {}, no_network)
    (a_run,) = runs_of(jobs, account, "a")
    end(jobs, a_run.id, RunState.SUCCEEDED)
    fire.run_once()
    (b_run,) = runs_of(jobs, account, "b")
    end(jobs, b_run.id, RunState.FAILED)
    fire.run_once()
    # Edited after the run: then-b now starts c, and then-c follows b.
    clock.advance(60)
    triggers.update_trigger(account, after("then-b", "a", "c"))
    triggers.create_trigger(account, after("then-c", "b", "c"))
    run = workflows.get_run(account, "flow", first)
    assert run.status is RunStatus.COMPLETED and run.graph is not None
    assert [t.name for t in run.graph] == ["start", "then-b"]
    then_b = run.graph[1]
    assert [a.job_name for a in then_b.actions] == ["b"]
    assert then_b.predicate is not None and then_b.predicate.conditions[0].job_name == "a"
    assert then_b.last_modified_on < clock() and then_b.last_modified_on.tzinfo is not None
    assert [r.job_name for r in run.job_runs] == ["a", "b"]
    # A later run's graph is the workflow's as it started; without job runs no graph is read.
    second, _ = workflows.start_run(account, "flow", {}, no_network)
    triggers.delete_trigger(account, "then-c")
    (newest, older) = workflows.get_runs(account, "flow", PageRequest(), job_runs=True).items
    assert newest.run_id == second and older.run_id == first
    assert newest.graph is not None and [t.name for t in newest.graph] == [
        "start",
        "then-b",
        "then-c",
    ]
    assert [a.job_name for a in newest.graph[1].actions] == ["c"]
    assert older.graph == run.graph
    assert all(r.graph is None for r in workflows.get_runs(account, "flow", PageRequest()).items)
    # A resumed run's graph is the workflow's when it was resumed.
    resumed, _, _ = workflows.resume_run(account, "flow", first, ["job/c"], no_network)
    graph = workflows.get_run(account, "flow", resumed).graph
    assert graph is not None and [t.name for t in graph] == ["start", "then-b"]
    assert [a.job_name for a in graph[1].actions] == ["c"]


def test_a_workflow_without_a_start_trigger_does_not_run(
    workflows: SqlWorkflowStore, account: str
) -> None:
    workflows.create_workflow(account, WorkflowInput("flow"))
    with pytest.raises(InvalidInput, match="no start trigger"):
        workflows.start_run(account, "flow", {}, no_network)
    with pytest.raises(EntityNotFound):
        workflows.start_run(account, "missing", {}, no_network)


def test_a_resumed_run_reruns_the_nodes_given_and_what_follows(
    workflows: SqlWorkflowStore,
    triggers: SqlTriggerStore,
    jobs: SqlJobStore,
    clock: FakeClock,
    account: str,
) -> None:
    chain(workflows, triggers, account)
    # then-c waits for a (run once, in the first run) and b (run again when resumed).
    triggers.create_trigger(
        account,
        TriggerInput(
            name="then-c",
            type=TriggerType.CONDITIONAL,
            predicate=Predicate(
                Logical.AND,
                (Condition("a", RunState.SUCCEEDED), Condition("b", RunState.SUCCEEDED)),
            ),
            actions=(Action("c", role=ROLE),),
            workflow_name="flow",
        ),
    )
    fire = firer(triggers, workflows, clock)
    first, _ = workflows.start_run(account, "flow", {"p": "1"}, no_network)
    with pytest.raises(IllegalWorkflowState):
        workflows.resume_run(account, "flow", first, ["job/b"], no_network)
    (a_run,) = runs_of(jobs, account, "a")
    end(jobs, a_run.id, RunState.SUCCEEDED)
    fire.run_once()
    (b_run,) = runs_of(jobs, account, "b")
    end(jobs, b_run.id, RunState.FAILED)
    fire.run_once()
    assert workflows.get_run(account, "flow", first).status is RunStatus.COMPLETED
    assert runs_of(jobs, account, "c") == []
    with pytest.raises(InvalidInput, match="not a job the workflow starts"):
        workflows.resume_run(account, "flow", first, ["trigger/then-b"], no_network)
    second, nodes, fired = workflows.resume_run(account, "flow", first, ["job/b"], no_network)
    assert nodes == ["job/b"] and [job for job, _ in fired.runs] == ["b"]
    resumed = workflows.get_run(account, "flow", second)
    assert resumed.previous_run_id == first and resumed.properties == {"p": "1"}
    b_again = next(r for r in runs_of(jobs, account, "b") if r.id != b_run.id)
    assert b_again.arguments["--WORKFLOW_RUN_ID"] == second
    fire.run_once()
    assert len(runs_of(jobs, account, "a")) == 1  # a is not run again
    end(jobs, b_again.id, RunState.SUCCEEDED)
    fire.run_once()
    (c_run,) = runs_of(jobs, account, "c")
    assert c_run.arguments["--WORKFLOW_RUN_ID"] == second
    assert len(runs_of(jobs, account, "b")) == 2  # then-b is not fired again on a's old run
    end(jobs, c_run.id, RunState.SUCCEEDED)
    fire.run_once()
    done = workflows.get_run(account, "flow", second)
    assert done.status is RunStatus.COMPLETED
    assert (done.statistics.total, done.statistics.succeeded) == (2, 2)


def test_racing_passes_fire_once_and_a_stale_fence_fires_nothing(
    workflows: SqlWorkflowStore,
    triggers: SqlTriggerStore,
    jobs: SqlJobStore,
    database: Database,
    clock: FakeClock,
    account: str,
) -> None:
    chain(workflows, triggers, account)
    run_id, _ = workflows.start_run(account, "flow", {}, no_network)
    (a_run,) = runs_of(jobs, account, "a")
    end(jobs, a_run.id, RunState.SUCCEEDED)
    leases = SqlLeaseStore(database, clock=clock)
    lease_name = f"test.{account}"
    old = leases.acquire(lease_name, "one", 15)
    assert old is not None
    clock.advance(31)
    assert leases.release(old)
    assert leases.acquire(lease_name, "two", 15) is not None
    with pytest.raises(LeaseLost):
        workflows.advance(no_network, Fence(lease_name, old.token))
    assert runs_of(jobs, account, "b") == []
    barrier = threading.Barrier(4)

    def go() -> None:
        barrier.wait()
        workflows.advance(no_network, None)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (b_run,) = runs_of(jobs, account, "b")
    assert b_run.arguments["--WORKFLOW_RUN_ID"] == run_id
    assert workflows.get_run(account, "flow", run_id).status is RunStatus.RUNNING


def test_a_scheduled_or_event_start_trigger_starts_runs(
    workflows: SqlWorkflowStore,
    triggers: SqlTriggerStore,
    jobs: SqlJobStore,
    clock: FakeClock,
    account: str,
) -> None:
    workflows.create_workflow(account, WorkflowInput("flow", max_concurrent_runs=1))
    triggers.create_trigger(
        account,
        TriggerInput(
            "noon",
            TriggerType.SCHEDULED,
            (Action("a", role=ROLE),),
            schedule="cron(0 12 * * ? *)",
            workflow_name="flow",
            start_on_creation=True,
        ),
    )
    triggers.create_trigger(account, after("then-b", "a", "b"))
    fire = firer(triggers, workflows, clock)
    clock.advance(60)  # 12:00:30: noon is due
    fire.run_once()
    (run,) = workflows.get_runs(account, "flow", PageRequest()).items
    (a_run,) = runs_of(jobs, account, "a")
    assert a_run.arguments["--WORKFLOW_RUN_ID"] == run.run_id
    assert a_run.trigger_name == "noon"
    # The next noon finds the workflow at its cap: skipped, no second run.
    clock.advance(24 * 3600)
    fire.run_once()
    assert len(workflows.get_runs(account, "flow", PageRequest()).items) == 1
    end(jobs, a_run.id, RunState.SUCCEEDED)
    fire.run_once()
    (b_run,) = runs_of(jobs, account, "b")
    end(jobs, b_run.id, RunState.SUCCEEDED)
    fire.run_once()
    assert workflows.get_run(account, "flow", run.run_id).status is RunStatus.COMPLETED
    # An EVENT start trigger: a full batch begins a run.
    workflows.create_workflow(account, WorkflowInput("events"))
    triggers.create_trigger(
        account,
        TriggerInput(
            "on-files",
            TriggerType.EVENT,
            (Action("c", role=ROLE),),
            event_batching=EventBatching(1),
            workflow_name="events",
            start_on_creation=True,
        ),
    )
    _, result = triggers.notify_event(account, "on-files", no_network)
    ((job, _),) = result.runs
    (event_run,) = workflows.get_runs(account, "events", PageRequest()).items
    (c_run,) = runs_of(jobs, account, "c")
    assert job == "c" and c_run.arguments["--WORKFLOW_RUN_ID"] == event_run.run_id


def test_crawlers_in_a_workflow(
    workflows: SqlWorkflowStore,
    triggers: SqlTriggerStore,
    jobs: SqlJobStore,
    database: Database,
    clock: FakeClock,
    account: str,
) -> None:
    crawlers = SqlCrawlerStore(database, PageTokenCodec(PAGE_TOKEN_KEY))
    crawlers.create_crawler(
        account, "cr", {"role": ROLE, "database_name": "db", "targets": {}}, {}, None
    )
    workflows.create_workflow(account, WorkflowInput("flow"))
    # start -> crawler cr; cr SUCCEEDED -> job b.
    triggers.create_trigger(
        account,
        TriggerInput(
            "start",
            TriggerType.ON_DEMAND,
            (Action(crawler_name="cr", role=ROLE),),
            workflow_name="flow",
        ),
    )
    triggers.create_trigger(
        account,
        TriggerInput(
            "after-crawl",
            TriggerType.CONDITIONAL,
            (Action("b", role=ROLE),),
            predicate=Predicate(
                Logical.AND, (Condition("", crawler_name="cr", crawl_state=CrawlState.SUCCEEDED),)
            ),
            workflow_name="flow",
        ),
    )
    with pytest.raises(InvalidInput, match=r"cycle.*crawler/cr"):
        triggers.create_trigger(
            account,
            TriggerInput(
                "back",
                TriggerType.CONDITIONAL,
                (Action(crawler_name="cr", role=ROLE),),
                predicate=Predicate(Logical.AND, (Condition("b", RunState.SUCCEEDED),)),
                workflow_name="flow",
            ),
        )
    fire = firer(triggers, workflows, clock)
    run_id, fired = workflows.start_run(account, "flow", {}, no_network)
    ((_, crawl_id),) = fired.crawls
    fire.run_once()
    run = workflows.get_run(account, "flow", run_id)
    assert run.status is RunStatus.RUNNING and run.statistics.running == 1
    crawlers.finish_crawl(crawl_id, CrawlStoreState.COMPLETED, {})
    fire.run_once()
    (b_run,) = runs_of(jobs, account, "b")
    assert b_run.arguments["--WORKFLOW_RUN_ID"] == run_id
    end(jobs, b_run.id, RunState.SUCCEEDED)
    fire.run_once()
    run = workflows.get_run(account, "flow", run_id)
    assert run.status is RunStatus.COMPLETED
    assert (run.statistics.total, run.statistics.succeeded) == (2, 2)
    assert [(c.crawler_name, c.state) for c in run.crawls] == [("cr", "SUCCEEDED")]
