"""Job store contract: jobs, scripts and the schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from sluice.common.db import Database
from sluice.common.errors import AlreadyExists, EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest
from sluice.control_plane.jobs.bookmarks.rows import JOB_BOOKMARK_COMMITS, JOB_BOOKMARKS
from sluice.control_plane.jobs.model import (
    CommandName,
    JobCommand,
    RunInput,
    RunState,
)
from sluice.control_plane.jobs.notifications.rows import RUN_EVENTS, WEBHOOKS
from sluice.control_plane.jobs.rows import (
    JOB_RUN_LOGS,
    JOB_RUNS,
    JOB_SCRIPTS,
    JOB_TAGS,
    JOBS,
    LEASES,
)
from sluice.control_plane.jobs.schema import VERSION_TABLE
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.jobs.triggers.rows import (
    TRIGGER_CONSUMED_CRAWLS,
    TRIGGER_CONSUMED_RUNS,
    TRIGGERS,
)
from sluice.control_plane.jobs.workflows.rows import (
    TRIGGER_WORKFLOW_FIRES,
    WORKFLOW_RUNS,
    WORKFLOWS,
)
from tests.contract.test_job_store_support import (
    BACKENDS,
    FakeClock,
    job_input,
    new_account,
    new_store,
    open_database,
)

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("jobs")) as db:
        yield db


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database: Database, clock: FakeClock) -> SqlJobStore:
    return new_store(database, clock)


@pytest.fixture
def account() -> str:
    return new_account()


# Schema


def test_migrations_create_exactly_the_tables_the_store_uses(database: Database) -> None:
    metadata = MetaData()
    tables = (JOBS, JOB_TAGS, JOB_RUNS, JOB_RUN_LOGS, JOB_SCRIPTS, LEASES)
    tables += (
        TRIGGERS,
        TRIGGER_CONSUMED_RUNS,
        TRIGGER_CONSUMED_CRAWLS,
        JOB_BOOKMARKS,
        JOB_BOOKMARK_COMMITS,
        WORKFLOWS,
        WORKFLOW_RUNS,
        TRIGGER_WORKFLOW_FIRES,
        RUN_EVENTS,
        WEBHOOKS,
    )
    for table in tables:
        table.to_metadata(metadata)
    with database.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        diff = compare_metadata(context, metadata)
    assert diff == []


# Jobs


def test_create_job_resolves_glue_defaults(
    store: SqlJobStore, account: str, clock: FakeClock
) -> None:
    created = store.create_job(account, job_input(tags={"team": "data"}))

    assert created.name == "etl"
    assert created.account == account
    assert created.timeout == 2880
    assert created.max_concurrent_runs == 1
    assert created.worker_type == "G.1X"
    assert created.number_of_workers == 2
    assert created.command.python_version == "3"
    assert created.created_on == clock()
    assert created.tags == {"team": "data"}
    assert store.get_job(account, "etl") == created


def test_create_job_keeps_every_field(store: SqlJobStore, account: str) -> None:
    created = store.create_job(
        account,
        job_input(
            "nightly",
            description="loads the night's files",
            command=JobCommand(CommandName.PYTHONSHELL, "file:///opt/jobs/nightly.py", "3.11"),
            default_arguments={"--day": "today", "--mode": "full"},
            non_overridable_arguments={"--env": "prod"},
            max_retries=3,
            timeout=60,
            max_concurrent_runs=4,
            worker_type="G.2X",
            number_of_workers=5,
            connections=("Warehouse",),
        ),
    )

    got = store.get_job(account, "nightly")
    assert got == created
    assert got.command == JobCommand(CommandName.PYTHONSHELL, "file:///opt/jobs/nightly.py", "3.11")
    assert got.default_arguments == {"--day": "today", "--mode": "full"}
    assert got.non_overridable_arguments == {"--env": "prod"}
    assert (got.max_retries, got.timeout, got.max_concurrent_runs) == (3, 60, 4)
    assert (got.worker_type, got.number_of_workers) == ("G.2X", 5)
    assert got.connections == ("warehouse",)


def test_create_job_twice_is_already_exists(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    with pytest.raises(AlreadyExists):
        store.create_job(account, job_input())


def test_jobs_are_scoped_by_account(store: SqlJobStore, account: str) -> None:
    other = new_account()
    store.create_job(account, job_input(description="mine"))
    store.create_job(other, job_input(description="theirs"))

    assert store.get_job(account, "etl").description == "mine"
    assert store.get_job(other, "etl").description == "theirs"
    with pytest.raises(EntityNotFound):
        store.get_job(new_account(), "etl")


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "bad name"},
        {"role": ""},
        {"command": JobCommand(CommandName.GLUEETL, "s3://bucket/etl.py")},
        {"command": JobCommand(CommandName.GLUEETL, "file://relative/etl.py")},
        {"command": JobCommand("spark", "sluice://scripts/etl.py")},  # type: ignore[arg-type]
        {"default_arguments": {"day": "today"}},
        {"non_overridable_arguments": {"-x": "1"}},
        {"worker_type": "G.8X"},
        {"number_of_workers": 1},
        {"max_retries": -1},
        {"timeout": -5},
        {"max_concurrent_runs": -1},
    ],
)
def test_create_job_rejects_invalid_input(
    store: SqlJobStore, account: str, changes: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        store.create_job(account, job_input(**changes))


def test_get_jobs_pages_by_name(store: SqlJobStore, account: str) -> None:
    for name in ("e", "c", "a", "d", "b"):
        store.create_job(account, job_input(name))

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = store.get_jobs(account, PageRequest(max_results=2, next_token=token))
        seen.extend(job.name for job in page.items)
        pages += 1
        token = page.next_token
        if not token:
            break

    assert seen == ["a", "b", "c", "d", "e"]
    assert pages == 3


def test_page_token_of_one_account_is_refused_for_another(store: SqlJobStore, account: str) -> None:
    for name in ("a", "b"):
        store.create_job(account, job_input(name))
    token = store.get_jobs(account, PageRequest(max_results=1)).next_token

    with pytest.raises(InvalidInput):
        store.get_jobs(new_account(), PageRequest(max_results=1, next_token=token))


def test_list_job_names_filters_by_every_tag(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input("a", tags={"team": "data", "tier": "1"}))
    store.create_job(account, job_input("b", tags={"team": "data"}))
    store.create_job(account, job_input("c", tags={"team": "web", "tier": "1"}))

    def names(tags: dict[str, str] | None) -> list[str]:
        return list(store.list_job_names(account, PageRequest(), tags).items)

    assert names(None) == ["a", "b", "c"]
    assert names({"team": "data"}) == ["a", "b"]
    assert names({"team": "data", "tier": "1"}) == ["a"]
    assert names({"team": "none"}) == []


def test_update_job_replaces_definition_and_keeps_tags(
    store: SqlJobStore, account: str, clock: FakeClock
) -> None:
    created = store.create_job(
        account, job_input(default_arguments={"--a": "1"}, tags={"team": "data"})
    )
    clock.advance(60)

    updated = store.update_job(
        account, job_input(description="v2", max_retries=2, worker_type="Standard")
    )

    assert updated.description == "v2"
    assert updated.max_retries == 2
    assert updated.worker_type == "Standard"
    assert updated.default_arguments == {}
    assert updated.tags == {"team": "data"}
    assert updated.created_on == created.created_on
    assert updated.last_modified_on == clock()


def test_update_job_refuses_tags_and_missing_jobs(store: SqlJobStore, account: str) -> None:
    store.create_job(account, job_input())
    with pytest.raises(InvalidInput):
        store.update_job(account, job_input(tags={"team": "x"}))
    with pytest.raises(EntityNotFound):
        store.update_job(account, job_input("missing"))


def test_delete_job_of_missing_job_is_a_no_op(store: SqlJobStore, account: str) -> None:
    store.delete_job(account, "missing")


def test_delete_job_stops_active_runs_and_forgets_finished_ones(
    store: SqlJobStore, account: str
) -> None:
    store.create_job(account, job_input(max_concurrent_runs=5))
    finished = store.create_run(account, "etl", RunInput())
    assert store.transition(finished.id, {RunState.STARTING}, RunState.ERROR)
    active = store.create_run(account, "etl", RunInput())
    assert store.transition(active.id, {RunState.STARTING}, RunState.RUNNING)

    store.delete_job(account, "etl")

    with pytest.raises(EntityNotFound):
        store.get_job(account, "etl")
    orphan = next(r for r in store.list_active_runs() if r.id == active.id)
    assert orphan.state is RunState.STOPPING
    assert orphan.job_name == "etl"
    # A new job of the same name starts with no runs and a free slot.
    store.create_job(account, job_input(max_concurrent_runs=1))
    assert store.get_runs(account, "etl", PageRequest()).items == ()
    store.create_run(account, "etl", RunInput())

    assert store.purge_orphan_runs() == 0
    assert store.transition(active.id, {RunState.STOPPING}, RunState.STOPPED)
    assert store.purge_orphan_runs() == 1
    assert all(r.id != active.id for r in store.list_active_runs())


# Scripts


def test_put_script_stores_and_replaces(store: SqlJobStore, account: str) -> None:
    location = store.put_script(account, "etl.py", b"print('v1')\n")
    assert location == "sluice://scripts/etl.py"
    assert store.get_script(account, "etl.py") == b"print('v1')\n"

    store.put_script(account, "etl.py", b"print('v2')\n")
    assert store.get_script(account, "etl.py") == b"print('v2')\n"
    with pytest.raises(EntityNotFound):
        store.get_script(new_account(), "etl.py")


def test_put_script_enforces_limits(database: Database, clock: FakeClock, account: str) -> None:
    store = new_store(database, clock, max_script_bytes=16)
    store.put_script(account, "ok.py", b"x" * 16)
    with pytest.raises(InvalidInput):
        store.put_script(account, "big.py", b"x" * 17)
    with pytest.raises(InvalidInput):
        store.put_script(account, "bin.py", b"\xff\xfe")
    with pytest.raises(InvalidInput):
        store.put_script(account, "../etc/passwd", b"x")
    with pytest.raises(EntityNotFound):
        store.get_script(account, "big.py")
