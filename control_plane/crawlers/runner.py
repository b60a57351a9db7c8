"""Runs crawls, and fires scheduled crawlers (Glue's cron, the triggers' GlueCron) on the
scheduler lease's holder. A crawl holds only the crawler role's scoped token and reaches the
catalog through the public API, wherever it runs:

- with an executor (the jobs' RunExecutor: `--crawls-in sandbox`, the default with a warm
  pool), as a run of the job agents (sluice.agents.crawler.sandbox): in an environment of the
  crawler's account sandbox bound to its isolation tuple (account, role, the subnet and security
  group of its first connection), as the sandbox's OS user, listing and reading with Ray tasks;
  stopping it destroys that environment;
- without one, in a worker process of this server (sluice.agents.crawler.worker), as the
  server's OS user (file:// targets only under --crawl-root).

Each server marks its running crawls alive every second; the scheduler lease's holder fails
those silent for ORPHANED_AFTER_S (their server died), never those another live replica runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from sluice.agents.crawler import sandbox
from sluice.agents.crawler.engine import LocalAccess
from sluice.common.errors import SluiceError
from sluice.control_plane.audit.tracing import traceparent
from sluice.control_plane.crawlers.model import Crawl, Crawler, CrawlerRunning, CrawlState
from sluice.control_plane.crawlers.sql_store import SqlCrawlerStore
from sluice.control_plane.jobs import workers
from sluice.control_plane.jobs.executor import (
    CapacityUnavailable,
    ExecutionState,
    LaunchError,
    LaunchRequest,
    RunExecutor,
)
from sluice.control_plane.jobs.model import CommandName, IsolationTuple, LogStream
from sluice.control_plane.jobs.triggers.cron import GlueCron
from sluice.control_plane.logs import fields

log = logging.getLogger("sluice.crawlers")

WORKER_COMMAND = (sys.executable, "-m", "sluice.agents.crawler.worker")
# A crawl's token outlives it by no more than this; the token is refused once the crawl ends.
MAX_CRAWL_HOURS = 24
_PROGRESS_EVERY_S = 0.5
_TICK_S = 1.0
# A running crawl whose server has not said it is alive for this long is failed: its server died.
ORPHANED_AFTER_S = 15.0

# How often a crawl in a sandbox is polled, and its launch retried while no environment is free.
_POLL_S = 0.5
_LAUNCH_RETRY_S = 2.0
# A crawl whose agent cannot be asked about it for this long fails.
_AGENT_SILENT_S = 120.0

IssueToken = Callable[[str, str, str, datetime], str]
# (account, crawler) -> the subnet and security group of its crawls (its first connection's).
CrawlNetwork = Callable[[str, Crawler], tuple[str, str]]


def next_fire(schedule: str, after: datetime | None = None) -> datetime | None:
    """When a Glue cron schedule fires next; InvalidInput if it is not valid."""
    if not schedule:
        return None
    return GlueCron.parse(schedule).next_after(after or datetime.now(UTC))


@dataclass
class _Running:
    crawl_id: str
    # The worker process; None for a crawl run in a sandbox (see _InSandbox).
    process: subprocess.Popen[str] | None
    stop_asked: bool = False
    # The crawl's span (crawl.run), ended with the crawl.
    span: Span | None = None


@dataclass
class _InSandbox(_Running):
    request: LaunchRequest | None = None
    launched: bool = False
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class CrawlRunner:
    """Starts, follows and stops this server's crawls.

    Args:
        store: The crawler store.
        issue_token: Makes a token for (account, crawl id, role, expiry).
        leader: Whether this server holds the scheduler lease (fires schedules, recovers).
        tls_ca: A PEM file workers trust for the server's certificate, if it serves TLS.
        local: Where file:// targets may be read.
        own_database: host:port/database of the server's own PostgreSQL, never crawled.
        executor: Runs crawls in the crawlers' sandboxes (the jobs' executor); None: in worker
            processes of this server.
        network: The subnet and security group of a crawler's crawls (with an executor).
        tracer: Records each crawl as a span (crawl.run) under the call that started it (a
            root span for scheduled and triggered crawls); the crawl's environment receives its
            W3C TRACEPARENT, so the crawl's own catalog calls join the same trace.
    """

    def __init__(
        self,
        store: SqlCrawlerStore,
        issue_token: IssueToken,
        *,
        leader: Callable[[], bool] = lambda: True,
        tls_ca: str | None = None,
        local: LocalAccess | None = None,
        own_database: str = "",
        executor: RunExecutor | None = None,
        network: CrawlNetwork | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._tracer = tracer or trace.NoOpTracer()
        self._executor = executor
        self._network = network or (lambda _account, _crawler: ("", ""))
        self._own_database = own_database
        self._store = store
        self._local = local or LocalAccess()
        self._issue_token = issue_token
        self._leader = leader
        self._tls_ca = tls_ca
        self._address = ""
        # This server process's name on its crawls.
        self._owner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, api_address: str) -> None:
        self._address = api_address
        self._thread = threading.Thread(
            target=self._loop, name="sluice-crawl-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._closed.set()
        self._wake.set()
        with self._lock:
            running = list(self._running.values())
        for item in running:
            self._terminate(item.crawl_id)
        for item in running:
            if isinstance(item, _InSandbox) and item.thread is not None:
                # Its run is stopped: the thread records the crawl STOPPED.
                item.thread.join(10)
            if item.process is None:
                continue
            try:
                item.process.wait(10)
            except subprocess.TimeoutExpired:
                item.process.kill()
        if self._thread is not None:
            self._thread.join(5)

    def wake(self) -> None:
        self._wake.set()

    def crawl_is_active(self, crawl_id: str) -> bool:
        return self._store.crawl_is_active(crawl_id)

    def start_crawl(self, account: str, name: str) -> Crawl:
        """READY -> RUNNING and a worker for it (CrawlerRunning if it runs already)."""
        crawler, crawl = self._store.start_crawl(account, name, self._owner)
        try:
            self._launch(crawler, crawl)
        except (OSError, SluiceError) as exc:
            self._store.finish_crawl(crawl.crawl_id, CrawlState.FAILED, {}, f"cannot start: {exc}")
            raise
        return crawl

    def stop_crawl(self, account: str, name: str) -> None:
        crawler = self._store.stop_crawl(account, name)
        self._terminate(crawler.current_crawl)

    def _terminate(self, crawl_id: str) -> None:
        with self._lock:
            item = self._running.get(crawl_id)
            if item is None or item.stop_asked:
                return
            item.stop_asked = True
        if item.process is not None:
            item.process.terminate()
        elif isinstance(item, _InSandbox):
            if item.launched and self._executor is not None:
                try:
                    self._executor.stop(crawl_id)
                except SluiceError as exc:
                    log.warning("crawl %s: cannot stop its run: %s", crawl_id, exc.message)
            item.wake.set()

    def _recover(self) -> None:
        """Fails the crawls whose server died (silent for ORPHANED_AFTER_S)."""
        silent_since = datetime.now(UTC) - timedelta(seconds=ORPHANED_AFTER_S)
        for crawl in self._store.orphaned_crawls(silent_since, self._owner):
            self._store.finish_crawl(
                crawl.crawl_id, CrawlState.FAILED, {}, "the server running the crawl stopped"
            )

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(_TICK_S)
            self._wake.clear()
            if self._closed.is_set():
                return
            try:
                with self._lock:
                    ours = list(self._running)
                self._store.heartbeat(ours)
                self._take_pending()
                if self._leader():
                    self._recover()
                    self._fire_due()
                self._honour_stops()
            except SluiceError as exc:
                log.warning("crawl scheduler: %s", exc.message)
            except Exception:
                log.exception("crawl scheduler tick failed")

    def _take_pending(self) -> None:
        """Runs the crawls triggers' fires began (the crawler is RUNNING already, its crawl
        waits for a server: whichever takes it first)."""
        for crawler, crawl in self._store.claim_pending(self._owner):
            try:
                self._launch(crawler, crawl)
                log.info("triggered crawl started", extra=fields(crawler=crawler.name))
            except (OSError, SluiceError) as exc:
                self._store.finish_crawl(
                    crawl.crawl_id, CrawlState.FAILED, {}, f"cannot start: {exc}"
                )

    def _honour_stops(self) -> None:
        # A StopCrawler served by another replica: the crawler is STOPPING, its worker here.
        with self._lock:
            ids = [i for i, item in self._running.items() if not item.stop_asked]
        for crawl_id in ids:
            if self._store.crawl_stop_requested(crawl_id):
                self._terminate(crawl_id)

    def _fire_due(self) -> None:
        now = datetime.now(UTC)
        for crawler in self._store.due_crawlers(now):
            try:
                following = next_fire(crawler.schedule, now)
            except SluiceError:
                following = None
            if not self._store.advance_schedule(crawler, following):
                continue
            try:
                self.start_crawl(crawler.account, crawler.name)
                log.info("scheduled crawl started", extra=fields(crawler=crawler.name))
            except CrawlerRunning:
                log.info("scheduled crawl skipped: running", extra=fields(crawler=crawler.name))

    def _spec(self, crawler: Crawler) -> dict[str, Any]:
        d = crawler.definition
        return {
            "crawler": crawler.name,
            "database": d.get("database_name", ""),
            "table_prefix": d.get("table_prefix", ""),
            "targets": d.get("targets", {}),
            "update_behavior": d.get("schema_change_policy", {}).get("update_behavior", ""),
            "delete_behavior": d.get("schema_change_policy", {}).get("delete_behavior", ""),
            "recrawl_behavior": d.get("recrawl_policy", {}).get("recrawl_behavior", ""),
            "configuration": d.get("configuration", ""),
            "seen": crawler.seen,
            "classifiers": self._classifiers(crawler),
            "local": {"roots": list(self._local.roots), "protected": list(self._local.protected)},
            "protected_databases": [self._own_database] if self._own_database else [],
        }

    def _classifiers(self, crawler: Crawler) -> list[dict[str, Any]]:
        """The crawler's custom classifiers in its order (gone ones left out)."""
        out = []
        for name in crawler.definition.get("classifiers", []):
            try:
                found = self._store.get_classifier(crawler.account, name)
            except SluiceError:
                continue
            out.append({"name": found.name, "kind": found.kind, **found.definition})
        return out

    def _launch(self, crawler: Crawler, crawl: Crawl) -> None:
        # A child of the span current in this thread: StartCrawler's, when a call started it.
        span = self._tracer.start_span(
            "crawl.run",
            attributes={
                "sluice.account": crawler.account,
                "enduser.role": crawler.role,
                "sluice.resource": f"sluice:jobs:{crawler.account}:crawler/{crawler.name}",
                "sluice.action": "sluice:RunCrawl",
                "sluice.crawl.id": crawl.crawl_id,
            },
        )
        try:
            self._launch_traced(crawler, crawl, span)
        except BaseException as exc:
            _end_span(span, CrawlState.FAILED, f"cannot start: {exc}")
            raise

    def _launch_traced(self, crawler: Crawler, crawl: Crawl, span: Span) -> None:
        deadline = datetime.now(UTC) + timedelta(hours=MAX_CRAWL_HOURS)
        if self._executor is not None:
            self._launch_in_sandbox(crawler, crawl, deadline, span)
            return
        token = self._issue_token(crawler.account, crawl.crawl_id, crawler.role, deadline)
        env = {
            **_trace_env(span),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "SLUICE_ADDRESS": self._address,
            "SLUICE_TOKEN": token,
            "SLUICE_CONFIG": os.devnull,
        }
        if self._tls_ca:
            env["SLUICE_TLS_CA"] = self._tls_ca
        process = subprocess.Popen(
            WORKER_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd="/",
        )
        item = _Running(crawl.crawl_id, process, span=span)
        with self._lock:
            self._running[crawl.crawl_id] = item
        threading.Thread(
            target=self._follow,
            args=(item, json.dumps(self._spec(crawler))),
            name=f"sluice-crawl-{crawl.crawl_id}",
            daemon=True,
        ).start()

    def _launch_in_sandbox(
        self, crawler: Crawler, crawl: Crawl, deadline: datetime, span: Span
    ) -> None:
        """The crawl as a run in the crawler's sandbox (followed by a thread of its own)."""
        subnet, security_group = self._network(crawler.account, crawler)
        token = self._issue_token(crawler.account, crawl.crawl_id, crawler.role, deadline)
        run_env = {
            "SLUICE_ADDRESS": self._address,
            "SLUICE_TOKEN": token,
            **_trace_env(span),
        }
        if self._tls_ca:
            run_env["SLUICE_TLS_CA"] = self._tls_ca
        request = LaunchRequest(
            run_id=crawl.crawl_id,
            job_name=f"crawler-{crawler.name}",
            attempt=0,
            command=CommandName.PYTHONSHELL,
            isolation=IsolationTuple(
                account=crawler.account,
                role=crawler.role,
                subnet_id=subnet,
                security_group_id=security_group,
            ),
            worker=workers.worker_spec(CommandName.PYTHONSHELL, "Standard", 0),
            script_location="crawl.py",
            script_text=sandbox.script(self._spec(crawler)),
            arguments={},
            timeout_s=MAX_CRAWL_HOURS * 3600.0,
            run_env=run_env,
        )
        item = _InSandbox(crawl.crawl_id, None, span=span, request=request)
        item.thread = threading.Thread(
            target=self._follow_in_sandbox,
            args=(item,),
            name=f"sluice-crawl-{crawl.crawl_id}",
            daemon=True,
        )
        with self._lock:
            self._running[crawl.crawl_id] = item
        item.thread.start()

    def _follow_in_sandbox(self, item: _InSandbox) -> None:
        try:
            outcome = self._run_in_sandbox(item)
        except Exception as exc:
            log.exception("crawl %s failed in its sandbox", item.crawl_id)
            outcome = (None, f"the crawl's run failed: {exc}")
        finally:
            with self._lock:
                self._running.pop(item.crawl_id, None)
        result, error = outcome
        if self._executor is not None and item.launched:
            with contextlib.suppress(SluiceError):
                self._executor.forget(item.crawl_id)
        self._finish(item, result, error)

    def _run_in_sandbox(self, item: _InSandbox) -> tuple[dict[str, Any] | None, str]:
        """Launches the crawl's run (again while no environment is free), copies its progress
        until it ends; (its result line, why it failed)."""
        executor, request = self._executor, item.request
        assert executor is not None and request is not None
        while not item.launched:
            if item.stop_asked:
                return None, ""
            try:
                executor.launch(request)
                item.launched = True
            except CapacityUnavailable:
                item.wake.wait(_LAUNCH_RETRY_S)
            except LaunchError as exc:
                return None, f"cannot start: {exc.message}"
        if item.stop_asked:
            # Asked while it launched: _terminate did not know the run yet.
            with contextlib.suppress(SluiceError):
                executor.stop(item.crawl_id)
        cursor = ""
        result: dict[str, Any] | None = None
        last_progress = 0.0
        heard = time.monotonic()
        while True:
            try:
                progress = executor.poll(item.crawl_id)
                batch = executor.read_logs(item.crawl_id, cursor)
            except SluiceError as exc:
                if time.monotonic() - heard > _AGENT_SILENT_S:
                    return None, f"the crawl's agent does not answer: {exc.message}"
                item.wake.wait(_POLL_S)
                continue
            heard = time.monotonic()
            cursor = batch.cursor
            latest: dict[str, Any] | None = None
            for line in batch.lines:
                if line.stream is not LogStream.STDOUT:
                    continue
                try:
                    message = json.loads(line.message)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                if isinstance(message.get("progress"), dict):
                    latest = message["progress"]
                elif "result" in message:
                    result = message["result"]
            if latest is not None and time.monotonic() - last_progress >= _PROGRESS_EVERY_S:
                last_progress = time.monotonic()
                done, total = int(latest.get("done", 0)), int(latest.get("total", 0))
                self._store.crawl_progress(item.crawl_id, done, total)
            if progress is None:
                return result, "the crawl's environment was lost"
            if progress.state is not ExecutionState.RUNNING:
                return result, progress.error_message
            item.wake.wait(_POLL_S)
            item.wake.clear()

    def _follow(self, item: _Running, spec: str) -> None:
        process = item.process
        assert process is not None
        stderr: list[str] = []
        reader = threading.Thread(target=lambda: stderr.extend(process.stderr or []), daemon=True)
        reader.start()
        result: dict[str, Any] | None = None
        try:
            stdin, stdout = process.stdin, process.stdout
            if stdin is None or stdout is None:
                raise OSError("the worker's pipes are missing")
            stdin.write(spec)
            stdin.close()
            last = 0.0
            for line in stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if "progress" in message:
                    now = time.monotonic()
                    if now - last >= _PROGRESS_EVERY_S:
                        last = now
                        p = message["progress"]
                        self._store.crawl_progress(item.crawl_id, int(p["done"]), int(p["total"]))
                elif "result" in message:
                    result = message["result"]
            process.wait()
            reader.join(5)
        except (OSError, SluiceError) as exc:
            log.warning("crawl %s: %s", item.crawl_id, exc)
        finally:
            with self._lock:
                self._running.pop(item.crawl_id, None)
        self._finish(item, result, "".join(stderr))

    def _finish(self, item: _Running, result: dict[str, Any] | None, stderr: str) -> None:
        state, reason = CrawlState.COMPLETED, ""
        try:
            if not item.stop_asked and result is not None and "error" in result:
                # Asked to stop through another server: its token was refused from then on.
                item.stop_asked = self._store.crawl_stop_requested(item.crawl_id)
            if item.stop_asked:
                state = CrawlState.STOPPED
                summary = (result or {}).get("summary", {})
                self._store.finish_crawl(item.crawl_id, CrawlState.STOPPED, summary)
                return
            if result is None or "error" in result:
                state = CrawlState.FAILED
                reason = (
                    (result or {}).get("error") or _last_line(stderr) or "the crawl's worker died"
                )
                self._store.finish_crawl(item.crawl_id, CrawlState.FAILED, {}, reason)
                return
            self._store.finish_crawl(
                item.crawl_id,
                CrawlState.COMPLETED,
                result.get("summary", {}),
                seen=result.get("seen"),
            )
        finally:
            if item.span is not None:
                _end_span(item.span, state, reason)


def _trace_env(span: Span) -> dict[str, str]:
    """TRACEPARENT of the crawl's span for its environment; none when nothing is traced."""
    value = traceparent(span.get_span_context())
    return {"TRACEPARENT": value} if value else {}


def _end_span(span: Span, state: CrawlState, reason: str) -> None:
    """Ends a crawl's span with how the crawl ended."""
    span.set_attribute("sluice.crawl.state", str(state))
    span.set_attribute("sluice.outcome", "success" if state is CrawlState.COMPLETED else "failure")
    if state is CrawlState.FAILED:
        span.set_status(Status(StatusCode.ERROR, reason[:512]))
    span.end()


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""
