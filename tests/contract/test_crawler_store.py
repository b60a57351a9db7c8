"""Crawler store contract on SQLite and PostgreSQL: crawlers, their state machine (one crawl at
a time, even when two callers race), crawls, schedules, classifiers and paging."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from sluice.common.db import Database
from sluice.common.errors import AlreadyExists, EntityNotFound, InvalidInput
from sluice.common.paging import PageRequest, PageTokenCodec
from sluice.control_plane.crawlers.model import (
    CrawlerNotRunning,
    CrawlerRunning,
    CrawlerState,
    CrawlerStopping,
    CrawlState,
    ScheduleState,
)
from sluice.control_plane.crawlers.schema import upgrade_schema
from sluice.control_plane.crawlers.sql_store import SqlCrawlerStore
from tests.contract.test_job_store_support import BACKENDS, PAGE_TOKEN_KEY, POSTGRES_URL

pytestmark = pytest.mark.contract

DEFINITION = {
    "role": "crawler",
    "database_name": "raw",
    "targets": {"s3_targets": [{"path": "/d"}]},
}


@contextmanager
def _database(kind: str, tmp: Path) -> Iterator[Database]:
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp / 'crawlers.db'}")
        try:
            upgrade_schema(db)
            upgrade_schema(db)  # idempotent
            yield db
        finally:
            db.dispose()
        return
    schema = f"crawlers_contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    db = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", pool_size=10)
    try:
        upgrade_schema(db)
        yield db
    finally:
        db.dispose()
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlCrawlerStore]:
    with _database(request.param, tmp_path_factory.mktemp("crawlers")) as db:
        yield SqlCrawlerStore(db, PageTokenCodec(PAGE_TOKEN_KEY))


@pytest.fixture
def account() -> str:
    return f"acct-{uuid.uuid4().hex[:12]}"


def test_create_get_update_delete(store: SqlCrawlerStore, account: str) -> None:
    made = store.create_crawler(account, "c1", DEFINITION, {"team": "a"}, None)
    assert (made.state, made.version, made.schedule_state) == (
        CrawlerState.READY,
        1,
        ScheduleState.NOT_SCHEDULED,
    )
    with pytest.raises(AlreadyExists):
        store.create_crawler(account, "c1", DEFINITION, {}, None)
    with pytest.raises(EntityNotFound):
        store.get_crawler("other-account", "c1")
    with pytest.raises(InvalidInput):
        store.get_crawler(account, "a/b")
    due = datetime(2030, 1, 1, tzinfo=UTC)
    updated = store.update_crawler(
        account, "c1", {**DEFINITION, "schedule": "cron(0 0 1 1 ? *)"}, due
    )
    assert updated.version == 2 and updated.schedule_state == ScheduleState.SCHEDULED
    assert updated.next_fire_at == due
    store.delete_crawler(account, "c1")
    with pytest.raises(EntityNotFound):
        store.get_crawler(account, "c1")


def test_one_crawl_at_a_time_even_when_racing(store: SqlCrawlerStore, account: str) -> None:
    store.create_crawler(account, "c", DEFINITION, {}, None)
    won: list[str] = []
    lost: list[Exception] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            won.append(store.start_crawl(account, "c")[1].crawl_id)
        except CrawlerRunning as exc:
            lost.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 3
    crawl_id = won[0]
    assert store.crawl_is_active(crawl_id) and not store.crawl_stop_requested(crawl_id)
    with pytest.raises(CrawlerRunning):
        store.update_crawler(account, "c", DEFINITION, None)
    with pytest.raises(CrawlerRunning):
        store.delete_crawler(account, "c")
    store.crawl_progress(crawl_id, 5, 10)
    assert (store.get_crawl(crawl_id).files_done, store.get_crawl(crawl_id).files_total) == (5, 10)
    assert store.stop_crawl(account, "c").state == CrawlerState.STOPPING
    # From the stop on, the crawl's token is refused: it changes nothing more.
    assert store.get_crawl(crawl_id).state == CrawlState.RUNNING
    assert not store.crawl_is_active(crawl_id) and store.crawl_stop_requested(crawl_id)
    with pytest.raises(CrawlerStopping):
        store.stop_crawl(account, "c")
    store.finish_crawl(crawl_id, CrawlState.STOPPED, {"files": 5}, seen={"/d": ["x"]})
    crawler = store.get_crawler(account, "c")
    assert crawler.state == CrawlerState.READY and crawler.seen == {"/d": ["x"]}
    assert crawler.last_crawl is not None and crawler.last_crawl.state == CrawlState.STOPPED
    assert not store.crawl_is_active(crawl_id)
    with pytest.raises(CrawlerNotRunning):
        store.stop_crawl(account, "c")
    # A second finish of the same crawl changes nothing.
    store.finish_crawl(crawl_id, CrawlState.FAILED, {}, "late")
    assert store.get_crawl(crawl_id).state == CrawlState.STOPPED


def test_crawls_are_listed_newest_first_in_pages(store: SqlCrawlerStore, account: str) -> None:
    store.create_crawler(account, "c", DEFINITION, {}, None)
    ids = []
    for _ in range(5):
        _, crawl = store.start_crawl(account, "c")
        store.finish_crawl(crawl.crawl_id, CrawlState.COMPLETED, {"n": 1})
        ids.append(crawl.crawl_id)
    first = store.list_crawls(account, "c", PageRequest(max_results=3))
    assert [c.crawl_id for c in first.items] == ids[::-1][:3] and first.next_token
    second = store.list_crawls(
        account, "c", PageRequest(max_results=3, next_token=first.next_token)
    )
    assert [c.crawl_id for c in second.items] == ids[::-1][3:] and not second.next_token
    with pytest.raises(InvalidInput):
        store.list_crawls(account, "other", PageRequest(next_token=first.next_token))


def test_listing_by_tags_in_pages(store: SqlCrawlerStore, account: str) -> None:
    for i in range(7):
        store.create_crawler(account, f"c{i}", DEFINITION, {"even": str(i % 2 == 0)}, None)
    names: list[str] = []
    token = ""
    while True:
        page = store.get_crawlers(
            account, PageRequest(max_results=2, next_token=token), {"even": "True"}
        )
        names += [c.name for c in page.items]
        token = page.next_token
        if not token:
            break
    assert names == ["c0", "c2", "c4", "c6"]


def test_a_due_schedule_is_taken_once(store: SqlCrawlerStore, account: str) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    store.create_crawler(account, "s", {**DEFINITION, "schedule": "cron(0 0 1 1 ? *)"}, {}, past)
    [due] = [c for c in store.due_crawlers(datetime.now(UTC)) if c.account == account]
    later = datetime.now(UTC) + timedelta(days=1)
    assert store.advance_schedule(due, later)
    assert not store.advance_schedule(due, later)  # another replica took it first
    assert not [c for c in store.due_crawlers(datetime.now(UTC)) if c.account == account]
    stopped = store.set_schedule(account, "s", False, None)
    assert stopped.schedule_state == ScheduleState.NOT_SCHEDULED and stopped.next_fire_at is None


def test_classifiers(store: SqlCrawlerStore, account: str) -> None:
    store.create_classifier(account, "csv1", "csv", {"delimiter": ";"})
    with pytest.raises(AlreadyExists):
        store.create_classifier(account, "csv1", "csv", {})
    with pytest.raises(InvalidInput):
        store.update_classifier(account, "csv1", "json", {})
    updated = store.update_classifier(account, "csv1", "csv", {"delimiter": "|"})
    assert (updated.definition, updated.version) == ({"delimiter": "|"}, 2)
    store.create_classifier(account, "g", "grok", {"grok_pattern": "%{WORD:w}"})
    assert [c.name for c in store.get_classifiers(account, PageRequest()).items] == ["csv1", "g"]
    store.delete_classifier(account, "csv1")
    with pytest.raises(EntityNotFound):
        store.delete_classifier(account, "csv1")


def test_crawls_of_a_silent_server_are_orphaned(store: SqlCrawlerStore, account: str) -> None:
    store.create_crawler(account, "a", DEFINITION, {}, None)
    store.create_crawler(account, "b", DEFINITION, {}, None)
    _, dead = store.start_crawl(account, "a", "server-1")
    _, alive = store.start_crawl(account, "b", "server-2")
    later = datetime.now(UTC) + timedelta(seconds=1)
    store.heartbeat([alive.crawl_id])
    found = {c.crawl_id for c in store.orphaned_crawls(later, "server-3")}
    assert dead.crawl_id in found  # silent since before `later`
    assert {
        c.crawl_id for c in store.orphaned_crawls(datetime.now(UTC) - timedelta(minutes=1), "x")
    }.isdisjoint({dead.crawl_id, alive.crawl_id})
    assert dead.crawl_id not in {c.crawl_id for c in store.orphaned_crawls(later, "server-1")}
