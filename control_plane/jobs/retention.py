"""Retention of finished runs: the store operation the background pruner calls.

Kept apart from JobStore's run operations because only the pruner needs it; SqlJobStore
implements both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RunsPruned:
    """What one prune_runs call deleted: the runs (their ids) and log lines."""

    run_ids: tuple[str, ...]
    log_lines: int

    @property
    def anything(self) -> bool:
        """Whether the call deleted something (so another call may find more)."""
        return bool(self.run_ids) or self.log_lines > 0


class RunRetention(ABC):
    @abstractmethod
    def prune_runs(self, ended_before: datetime, limit: int) -> RunsPruned:
        """Deletes runs that ended (reached a terminal state) before ended_before, with their
        logs: at most limit log lines and limit runs, in one transaction, oldest runs first. A
        run goes once its last line has. Call again while it deletes anything. Active runs are
        never touched, however old."""
