"""The background pruner: each kind pruned by its policy, in bounded batches per tick; run
directories of pruned or unknown ended runs removed, never those of active runs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from sluice.catalog.core.store.base import CatalogStore
from sluice.control_plane.audit.trail import AuditTrail
from sluice.control_plane.jobs.retention import RunsPruned
from sluice.control_plane.retention import Pruner, RetentionPolicy, RunDirs

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeRuns:
    """Ended runs, each with some log lines; prune_runs as the SQL store does it."""

    runs: dict[str, int] = field(default_factory=dict)
    cutoffs: list[datetime] = field(default_factory=list)

    def prune_runs(self, ended_before: datetime, limit: int) -> RunsPruned:
        self.cutoffs.append(ended_before)
        gone: list[str] = []
        budget = limit
        for run_id in list(self.runs)[:limit]:
            lines = min(self.runs[run_id], budget)
            self.runs[run_id] -= lines
            budget -= lines
            if self.runs[run_id]:
                break
            del self.runs[run_id]
            gone.append(run_id)
        return RunsPruned(tuple(gone), limit - budget)


@dataclass
class FakeRows:
    """Rows pruned `limit` at a time; calls and their arguments are kept."""

    left: int
    calls: list[tuple[object, ...]] = field(default_factory=list)
    broken: bool = False

    def prune(self, before: datetime, limit: int) -> int:
        return self._take(limit, before)

    def prune_table_versions(
        self, keep: int, limit: int, created_before: datetime | None = None
    ) -> int:
        return self._take(limit, keep, created_before)

    def _take(self, limit: int, *args: object) -> int:
        self.calls.append((limit, *args))
        if self.broken:
            raise OSError("database is locked")
        taken = min(self.left, limit)
        self.left -= taken
        return taken


def pruner(
    policy: RetentionPolicy,
    runs: FakeRuns,
    audit: FakeRows,
    versions: FakeRows,
    run_dirs: RunDirs | None = None,
) -> Pruner:
    return Pruner(
        policy,
        runs=runs,
        audit=cast(AuditTrail, audit),
        catalog=cast(CatalogStore, versions),
        run_dirs=run_dirs,
        clock=lambda: NOW,
    )


def run_dir(root: Path, run_id: str, age_days: float) -> Path:
    path = root / run_id
    path.mkdir(parents=True)
    (path / "stdout.log").write_text("hello\n")
    when = (NOW - timedelta(days=age_days)).timestamp()
    for item in (path / "stdout.log", path):
        os.utime(item, (when, when))
    return path


def test_each_kind_is_pruned_by_its_policy_in_bounded_batches() -> None:
    runs = FakeRuns({"jr_1": 3, "jr_2": 0, "jr_3": 1})
    audit, versions = FakeRows(left=25), FakeRows(left=7)
    policy = RetentionPolicy(
        run_days=90,
        audit_days=30,
        table_version_days=365,
        table_versions_kept=10,
        batch=2,
        max_batches=5,
    )

    report = pruner(policy, runs, audit, versions).prune_once()

    assert runs.cutoffs[0] == NOW - timedelta(days=90)
    assert (report.runs, report.log_lines, runs.runs) == (3, 4, {})
    # At most max_batches batches of `batch` rows a tick; the rest waits for the next tick.
    assert (report.audit_records, audit.left) == (10, 15)
    assert audit.calls == [(2, NOW - timedelta(days=30))] * 5
    # A short batch means nothing is left: no further call.
    assert (report.table_versions, len(versions.calls)) == (7, 4)
    assert versions.calls[0] == (2, 10, NOW - timedelta(days=365))


def test_zero_days_keeps_forever_and_versions_go_by_count_alone() -> None:
    runs, audit, versions = FakeRuns({"jr_1": 1}), FakeRows(left=5), FakeRows(left=1)
    policy = RetentionPolicy(run_days=0, audit_days=0, table_version_days=0)

    report = pruner(policy, runs, audit, versions).prune_once()

    assert (report.runs, report.audit_records, runs.cutoffs, audit.calls) == (0, 0, [], [])
    assert versions.calls == [(policy.batch, policy.table_versions_kept, None)]


def test_one_kind_failing_does_not_stop_the_others() -> None:
    runs, audit, versions = FakeRuns({"jr_1": 1}), FakeRows(left=1, broken=True), FakeRows(left=1)

    report = pruner(RetentionPolicy(), runs, audit, versions).prune_once()

    assert (report.runs, report.audit_records, report.table_versions) == (1, 0, 1)


def test_run_dirs_of_pruned_and_of_old_unknown_runs_go_never_of_active_ones(
    tmp_path: Path,
) -> None:
    pruned = run_dir(tmp_path, "jr_pruned", age_days=1)
    orphan = run_dir(tmp_path, "jr_orphan", age_days=100)
    active = run_dir(tmp_path, "jr_active", age_days=100)
    recent = run_dir(tmp_path, "jr_recent", age_days=10)
    dirs = RunDirs(tmp_path, is_active=lambda run_id: run_id == "jr_active")

    report = pruner(
        RetentionPolicy(), FakeRuns({"jr_pruned": 2}), FakeRows(0), FakeRows(0), dirs
    ).prune_once()

    assert report.run_dirs == 2
    assert not pruned.exists() and not orphan.exists()
    assert active.is_dir() and recent.is_dir()


def test_a_run_dir_written_to_lately_is_kept(tmp_path: Path) -> None:
    path = run_dir(tmp_path, "jr_old", age_days=100)
    (path / "stdout.log").write_text("a late line\n")  # modified now

    a_day_ago = datetime.now(UTC) - timedelta(days=1)
    assert RunDirs(tmp_path, lambda _: False).sweep(a_day_ago, 10) == 0
    assert path.is_dir()


def test_only_the_leader_prunes_rows_but_every_server_sweeps_its_run_dirs(
    tmp_path: Path,
) -> None:
    orphan = run_dir(tmp_path, "jr_orphan", age_days=100)
    runs, audit, versions = FakeRuns({"jr_1": 1}), FakeRows(left=1), FakeRows(left=1)
    follower = Pruner(
        RetentionPolicy(),
        runs=runs,
        audit=cast(AuditTrail, audit),
        catalog=cast(CatalogStore, versions),
        run_dirs=RunDirs(tmp_path, lambda _: False),
        leader=lambda: False,
        clock=lambda: NOW,
    )

    report = follower.prune_once()

    assert (report.runs, report.audit_records, report.table_versions) == (0, 0, 0)
    assert (runs.cutoffs, audit.calls, versions.calls) == ([], [], [])
    assert report.run_dirs == 1 and not orphan.exists()


def test_run_dirs_of_every_sandbox_are_swept_and_a_linked_runs_dir_is_not_followed(
    tmp_path: Path,
) -> None:
    private, work, elsewhere = tmp_path / "private", tmp_path / "work", tmp_path / "elsewhere"
    status = run_dir(private, "jr_old", age_days=100)
    files = run_dir(work, "jr_old", age_days=100)
    victim = run_dir(elsewhere, "jr_victim", age_days=100)
    # A sandbox's user owns its work area: its runs dir may be made a link to anywhere.
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "runs").symlink_to(elsewhere)
    dirs = RunDirs(lambda: [private, work, hostile / "runs"], lambda _: False)

    a_day_ago = datetime.now(UTC) - timedelta(days=1)
    assert dirs.sweep(a_day_ago, 10) == 2
    assert not status.exists() and not files.exists()
    assert victim.is_dir()
    assert not dirs.remove("jr_victim")
    assert victim.is_dir()
