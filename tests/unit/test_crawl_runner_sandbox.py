"""The crawl runner with an executor (crawls as runs in the crawlers' sandboxes), on SQLite and
the jobs' executor double: the run's request (isolation tuple from the crawler's connection,
scoped token, generated script), progress and result copied from its stdout, waiting while no
environment is free, failures, and stops before and after the launch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sluice.common.db import Database
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.crawlers.model import Crawler, CrawlerState, CrawlState
from sluice.control_plane.crawlers.runner import CrawlRunner
from sluice.control_plane.crawlers.schema import upgrade_schema
from sluice.control_plane.crawlers.sql_store import SqlCrawlerStore
from sluice.control_plane.jobs.executor import CapacityUnavailable, LaunchError
from sluice.control_plane.jobs.model import CommandName
from tests.unit.test_jobs_support import FakeClock, FakeExecutor, eventually

pytestmark = pytest.mark.unit

ACCOUNT = "111122223333"
DEFINITION = {
    "role": "crawler",
    "database_name": "raw",
    "targets": {"s3_targets": [{"path": "s3://b/x", "connection_name": "vpc"}]},
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlCrawlerStore]:
    db = Database(f"sqlite:///{tmp_path / 'crawlers.db'}")
    upgrade_schema(db)
    yield SqlCrawlerStore(db, PageTokenCodec(b"k" * 32))
    db.dispose()


@pytest.fixture
def executor() -> FakeExecutor:
    return FakeExecutor(FakeClock())


@pytest.fixture
def runner(store: SqlCrawlerStore, executor: FakeExecutor) -> Iterator[CrawlRunner]:
    tokens: list[tuple[str, str, str]] = []

    def issue(account: str, crawl_id: str, role: str, _until: datetime) -> str:
        tokens.append((account, crawl_id, role))
        return f"token-{crawl_id}"

    def network(account: str, crawler: Crawler) -> tuple[str, str]:
        assert crawler.definition["targets"]["s3_targets"][0]["connection_name"] == "vpc"
        return "subnet-1", "sg-1"

    store.create_crawler(ACCOUNT, "c", DEFINITION, {}, None)
    running = CrawlRunner(store, issue, executor=executor, network=network)
    running.start("127.0.0.1:50051")
    yield running
    running.stop()


def _ended(store: SqlCrawlerStore, crawl_id: str) -> bool:
    return store.get_crawl(crawl_id).state is not CrawlState.RUNNING


def test_a_crawl_is_a_run_in_the_crawlers_sandbox(
    store: SqlCrawlerStore, executor: FakeExecutor, runner: CrawlRunner
) -> None:
    crawl = runner.start_crawl(ACCOUNT, "c")
    eventually(lambda: executor.knows(crawl.crawl_id), "the crawl's run launched")
    [request] = executor.launched
    assert request.run_id == crawl.crawl_id
    assert request.command is CommandName.PYTHONSHELL and request.worker.num_executors == 0
    isolation = request.isolation
    assert (isolation.account, isolation.role) == (ACCOUNT, "crawler")
    assert (isolation.subnet_id, isolation.security_group_id) == ("subnet-1", "sg-1")
    assert request.run_env == {
        "SLUICE_ADDRESS": "127.0.0.1:50051",
        "SLUICE_TOKEN": f"token-{crawl.crawl_id}",
    }
    assert "from sluice.agents.crawler.sandbox import main" in request.script_text
    assert '\\"database\\": \\"raw\\"' in request.script_text
    executor.emit(crawl.crawl_id, "not json", json.dumps({"progress": {"done": 3, "total": 10}}))
    eventually(lambda: store.get_crawl(crawl.crawl_id).files_done == 3, "the progress copied")
    assert store.get_crawl(crawl.crawl_id).files_total == 10
    summary = {"tables_created": 1, "files": 10}
    executor.finish(
        crawl.crawl_id,
        last_lines=(json.dumps({"result": {"summary": summary, "seen": {"s3://b/x": ["a"]}}}),),
    )
    eventually(lambda: _ended(store, crawl.crawl_id), "the crawl ended")
    ended = store.get_crawl(crawl.crawl_id)
    assert ended.state is CrawlState.COMPLETED and ended.summary == summary
    assert store.get_crawler(ACCOUNT, "c").state is CrawlerState.READY
    assert store.get_crawler(ACCOUNT, "c").seen == {"s3://b/x": ["a"]}
    assert crawl.crawl_id in executor.forgotten


def test_a_crawl_waits_for_an_environment_then_fails_with_its_runs_reason(
    store: SqlCrawlerStore, executor: FakeExecutor, runner: CrawlRunner
) -> None:
    executor.launch_errors = [CapacityUnavailable("full"), CapacityUnavailable("full")]
    crawl = runner.start_crawl(ACCOUNT, "c")
    eventually(lambda: executor.knows(crawl.crawl_id), "launched on the third try")
    assert len(executor.launched) == 3
    assert store.get_crawl(crawl.crawl_id).state is CrawlState.RUNNING
    executor.finish(crawl.crawl_id, ok=False, error="Traceback ...\nRuntimeError: boom")
    eventually(lambda: _ended(store, crawl.crawl_id), "the crawl ended")
    ended = store.get_crawl(crawl.crawl_id)
    assert ended.state is CrawlState.FAILED and ended.error_message == "RuntimeError: boom"


def test_a_crawl_whose_run_cannot_start_fails(
    store: SqlCrawlerStore, executor: FakeExecutor, runner: CrawlRunner
) -> None:
    executor.launch_errors = [LaunchError("no such sandbox")]
    crawl = runner.start_crawl(ACCOUNT, "c")
    eventually(lambda: _ended(store, crawl.crawl_id), "the crawl ended")
    ended = store.get_crawl(crawl.crawl_id)
    assert ended.state is CrawlState.FAILED
    assert ended.error_message == "cannot start: no such sandbox"


def test_stop_a_crawl_in_its_sandbox(
    store: SqlCrawlerStore, executor: FakeExecutor, runner: CrawlRunner
) -> None:
    crawl = runner.start_crawl(ACCOUNT, "c")
    eventually(lambda: executor.knows(crawl.crawl_id), "the crawl's run launched")
    runner.stop_crawl(ACCOUNT, "c")
    assert executor.stopped == [crawl.crawl_id]
    eventually(lambda: _ended(store, crawl.crawl_id), "the crawl ended")
    assert store.get_crawl(crawl.crawl_id).state is CrawlState.STOPPED
    assert store.get_crawler(ACCOUNT, "c").state is CrawlerState.READY


def test_stop_a_crawl_still_waiting_for_an_environment(
    store: SqlCrawlerStore, executor: FakeExecutor, runner: CrawlRunner
) -> None:
    executor.launch_errors = [CapacityUnavailable("full")] * 1000
    crawl = runner.start_crawl(ACCOUNT, "c")
    eventually(lambda: len(executor.launched) >= 1, "a launch tried")
    runner.stop_crawl(ACCOUNT, "c")
    eventually(lambda: _ended(store, crawl.crawl_id), "the crawl ended")
    assert store.get_crawl(crawl.crawl_id).state is CrawlState.STOPPED
    # Never launched: nothing to stop in a sandbox.
    assert executor.stopped == []


def test_a_crawl_is_a_span_whose_traceparent_its_run_gets(
    store: SqlCrawlerStore, executor: FakeExecutor
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    running = CrawlRunner(
        store,
        lambda _a, crawl_id, _r, _u: f"token-{crawl_id}",
        executor=executor,
        tracer=provider.get_tracer("test"),
    )
    store.create_crawler(ACCOUNT, "c", DEFINITION, {}, None)
    running.start("127.0.0.1:50051")
    try:
        crawl = running.start_crawl(ACCOUNT, "c")
        eventually(lambda: executor.knows(crawl.crawl_id), "the crawl's run launched")
        [request] = executor.launched
        executor.finish(crawl.crawl_id, ok=False, error="boom")
        eventually(lambda: _ended(store, crawl.crawl_id), "the crawl ended")
        eventually(lambda: exporter.get_finished_spans(), "the crawl's span ended")
    finally:
        running.stop()
    [span] = exporter.get_finished_spans()
    assert span.name == "crawl.run"
    context = span.get_span_context()
    assert request.run_env["TRACEPARENT"].startswith(
        f"00-{context.trace_id:032x}-{context.span_id:016x}-"
    )
    assert span.attributes["sluice.crawl.id"] == crawl.crawl_id
    assert span.attributes["sluice.crawl.state"] == "FAILED"
    assert span.attributes["sluice.resource"] == f"sluice:jobs:{ACCOUNT}:crawler/c"
    assert not span.status.is_ok


def test_a_crawl_stopped_through_another_server_ends_stopped(
    store: SqlCrawlerStore, executor: FakeExecutor, runner: CrawlRunner
) -> None:
    crawl = runner.start_crawl(ACCOUNT, "c")
    eventually(lambda: executor.knows(crawl.crawl_id), "the crawl's run launched")
    # Another replica served StopCrawler: the crawl's token is refused at once, and its first
    # write fails before this server has seen the stop.
    store.stop_crawl(ACCOUNT, "c")
    assert not store.crawl_is_active(crawl.crawl_id)
    executor.finish(
        crawl.crawl_id,
        last_lines=(json.dumps({"result": {"error": "unauthenticated: the token is refused"}}),),
    )
    eventually(lambda: _ended(store, crawl.crawl_id), "the crawl ended")
    assert store.get_crawl(crawl.crawl_id).state is CrawlState.STOPPED
    assert store.get_crawler(ACCOUNT, "c").state is CrawlerState.READY
