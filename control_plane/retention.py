"""Retention: nothing the server keeps grows without bound.

One background thread prunes, every interval, what is older than the server's retention
settings, in bounded batches (each a transaction of its own, so pruning never holds the
database for long), with a bounded number of batches per kind and tick (the rest waits for the
next tick):

- job runs that ended more than `run_days` ago, with their log lines and run directories
  (Glue keeps job run history for 90 days);
- audit records of calls started more than `audit_days` ago (CloudTrail's event history is 90
  days), except those an OTLP exporter has not delivered;
- table versions beyond each table's newest `table_versions_kept` (Glue's quota of versions
  per table is 100,000), and, with `table_version_days`, versions made more than that many days
  ago; a table's current version is always kept.

0 days keeps that kind forever. Rows are pruned by the server holding the scheduler lease
(`leader`), so servers sharing a database do not repeat the work (were two to prune, every
delete is conditional: a row is deleted once). Run directories are on each server's own disk:
every server sweeps its own.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sluice.agents.runs import check_run_id
from sluice.catalog.core.store.base import CatalogStore
from sluice.common.errors import InvalidInput
from sluice.control_plane.audit.trail import AuditTrail
from sluice.control_plane.jobs.retention import RunRetention
from sluice.control_plane.jobs.sql_base import utc_now
from sluice.control_plane.logs import fields

log = logging.getLogger("sluice.retention")
T = TypeVar("T")

DEFAULT_RUN_DAYS = 90
DEFAULT_AUDIT_DAYS = 90
DEFAULT_TABLE_VERSIONS_KEPT = 100_000
DEFAULT_INTERVAL_S = 3600.0
DEFAULT_BATCH = 1000
DEFAULT_MAX_BATCHES = 100
# The first tick waits this long after start (at most one interval): starting stays fast.
FIRST_TICK_S = 60.0


@dataclass(frozen=True)
class RetentionPolicy:
    """How long things are kept, and how pruning paces itself.

    Attributes:
        run_days: Days a job run is kept after it ends, with its logs and run directory.
        audit_days: Days an audit record is kept.
        table_version_days: Days a table version (not the current one) is kept; 0: by count only.
        table_versions_kept: The newest versions kept of each table.
        interval_s: Time between two ticks of pruning.
        batch: Rows deleted per transaction.
        max_batches: Transactions per kind and tick.
    """

    run_days: int = DEFAULT_RUN_DAYS
    audit_days: int = DEFAULT_AUDIT_DAYS
    table_version_days: int = 0
    table_versions_kept: int = DEFAULT_TABLE_VERSIONS_KEPT
    interval_s: float = DEFAULT_INTERVAL_S
    batch: int = DEFAULT_BATCH
    max_batches: int = DEFAULT_MAX_BATCHES

    def __post_init__(self) -> None:
        if min(self.run_days, self.audit_days, self.table_version_days) < 0:
            raise ValueError("retention days must not be negative")
        if min(self.table_versions_kept, self.batch, self.max_batches) < 1:
            raise ValueError("table_versions_kept, batch and max_batches must be positive")
        if self.interval_s <= 0:
            raise ValueError("interval_s must be positive")


@dataclass(frozen=True)
class PruneReport:
    """What one tick deleted."""

    runs: int = 0
    log_lines: int = 0
    run_dirs: int = 0
    audit_records: int = 0
    table_versions: int = 0

    @property
    def anything(self) -> bool:
        return any(
            (self.runs, self.log_lines, self.run_dirs, self.audit_records, self.table_versions)
        )


class RunDirs:
    """The working directories of runs (<runs_dir>/RUN_ID: script, logs, status).

    Args:
        runs_dirs: Where they are: one directory, or the directories of every sandbox as they
            are now (a sandbox keeps a run's files in its work area and its final status in
            its private dir).
        is_active: Whether a run has not ended yet; its directory is never removed.
    """

    def __init__(
        self, runs_dirs: Path | Callable[[], Iterable[Path]], is_active: Callable[[str], bool]
    ) -> None:
        self._dirs = runs_dirs
        self._is_active = is_active

    def remove(self, run_id: str) -> bool:
        """Removes the directories of a run that has ended; whether there was one."""
        try:
            check_run_id(run_id)
        except InvalidInput:
            return False
        removed = False
        for runs_fd in self._open_runs_dirs():
            try:
                info = os.stat(run_id, dir_fd=runs_fd, follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(run_id, dir_fd=runs_fd, ignore_errors=True)
                    removed = True
            except OSError:
                continue
            finally:
                os.close(runs_fd)
        return removed

    def sweep(self, before: datetime, limit: int) -> int:
        """Removes up to limit directories untouched since before whose runs are not active
        (those of runs pruned from the store, or never in it); returns how many."""
        removed = 0
        cutoff = before.timestamp()
        for runs_fd in self._open_runs_dirs():
            try:
                for name in _subdirs(runs_fd):
                    if removed >= limit:
                        break
                    if _last_change(runs_fd, name) >= cutoff or self._is_active(name):
                        continue
                    shutil.rmtree(name, dir_fd=runs_fd, ignore_errors=True)
                    removed += 1
            finally:
                os.close(runs_fd)
        return removed

    def _open_runs_dirs(self) -> Iterator[int]:
        """Each runs dir opened without following links: a sandbox's user owns its work area
        and could otherwise point the server's removals anywhere."""
        dirs = [self._dirs] if isinstance(self._dirs, Path) else list(self._dirs())
        for runs_dir in dirs:
            try:
                yield _open_dir(str(runs_dir))
            except OSError:
                continue


def _open_dir(path: str, dir_fd: int | None = None) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)


def _subdirs(dir_fd: int) -> list[str]:
    with os.scandir(dir_fd) as entries:
        return [e.name for e in entries if e.is_dir(follow_symlinks=False)]


def _last_change(parent_fd: int, name: str) -> float:
    """The newest modification time of a directory and the files in it."""
    try:
        fd = _open_dir(name, dir_fd=parent_fd)
    except OSError:
        return float("inf")
    try:
        newest = os.fstat(fd).st_mtime
        with os.scandir(fd) as files:
            for file in files:
                newest = max(newest, file.stat(follow_symlinks=False).st_mtime)
    except OSError:
        pass
    finally:
        os.close(fd)
    return newest


class Pruner:
    """Prunes by a RetentionPolicy from a thread of its own; start() once, stop() at shutdown.

    Args:
        policy: What to keep.
        runs: The job store's retention of runs.
        audit: The audit trail.
        catalog: The catalog store.
        run_dirs: The runs' working directories; None when this server keeps none.
        leader: Whether this server prunes the database now; None: always.
        clock: The current time.
    """

    def __init__(
        self,
        policy: RetentionPolicy,
        *,
        runs: RunRetention,
        audit: AuditTrail,
        catalog: CatalogStore,
        run_dirs: RunDirs | None = None,
        leader: Callable[[], bool] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._policy = policy
        self._runs = runs
        self._audit = audit
        self._catalog = catalog
        self._run_dirs = run_dirs
        self._leader = leader
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Starts the pruning thread; its first tick comes a minute (or an interval) later."""
        if self._thread is not None:
            raise RuntimeError("the pruner is already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sluice-pruner", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops the thread after the batch in progress."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)

    def _run(self) -> None:
        wait = min(FIRST_TICK_S, self._policy.interval_s)
        while not self._stopping.wait(wait):
            self.prune_once()
            wait = self._policy.interval_s

    def prune_once(self) -> PruneReport:
        """One tick: every kind pruned, up to max_batches batches each."""
        now = self._clock()
        policy = self._policy
        runs = log_lines = run_dirs = audit = versions = 0
        rows = self._leader is None or self._leader()
        if policy.run_days:
            cutoff = now - _days(policy.run_days)
            if rows:
                runs, log_lines, run_dirs = self._guarded(
                    "job runs", (0, 0, 0), lambda: self._prune_runs(cutoff)
                )
            if self._run_dirs is not None and not self._stopping.is_set():
                dirs = self._run_dirs
                run_dirs += self._guarded(
                    "run directories", 0, lambda: dirs.sweep(cutoff, policy.batch)
                )
        if rows and policy.audit_days:
            audited = now - _days(policy.audit_days)
            audit = self._guarded(
                "audit records",
                0,
                lambda: self._batches(lambda: self._audit.prune(audited, policy.batch)),
            )
        if rows:
            aged = now - _days(policy.table_version_days) if policy.table_version_days else None
            versions = self._guarded(
                "table versions",
                0,
                lambda: self._batches(
                    lambda: self._catalog.prune_table_versions(
                        policy.table_versions_kept, policy.batch, created_before=aged
                    )
                ),
            )
        report = PruneReport(runs, log_lines, run_dirs, audit, versions)
        if report.anything:
            log.info(
                "pruned",
                extra=fields(
                    job_runs=runs,
                    log_lines=log_lines,
                    run_dirs=run_dirs,
                    audit_records=audit,
                    table_versions=versions,
                ),
            )
        return report

    def _prune_runs(self, cutoff: datetime) -> tuple[int, int, int]:
        """Runs and their logs, then the directories of those runs (when on this server)."""
        runs = lines = dirs = 0
        for _ in range(self._policy.max_batches):
            if self._stopping.is_set():
                break
            pruned = self._runs.prune_runs(cutoff, self._policy.batch)
            runs += len(pruned.run_ids)
            lines += pruned.log_lines
            if self._run_dirs is not None:
                dirs += sum(self._run_dirs.remove(run_id) for run_id in pruned.run_ids)
            if not pruned.anything:
                break
        return runs, lines, dirs

    def _batches(self, prune: Callable[[], int]) -> int:
        """Calls prune until a batch comes back short, at most max_batches times."""
        total = 0
        for _ in range(self._policy.max_batches):
            if self._stopping.is_set():
                break
            done = prune()
            total += done
            if done < self._policy.batch:
                break
        return total

    def _guarded(self, what: str, nothing: T, prune: Callable[[], T]) -> T:
        try:
            return prune()
        except Exception:
            # One kind's trouble (a busy database) must not stop the others or the thread.
            log.exception("pruning %s failed; trying again at the next tick", what)
            return nothing


def _days(days: int) -> timedelta:
    return timedelta(days=days)
