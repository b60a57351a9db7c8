"""Retention of finished runs in the SQL job store: runs and their logs, in bounded batches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from sluice.control_plane.jobs.model import TERMINAL_STATES
from sluice.control_plane.jobs.retention import RunRetention, RunsPruned
from sluice.control_plane.jobs.rows import JOB_RUN_LOGS, JOB_RUNS
from sluice.control_plane.jobs.sql_base import SqlStoreBase, state_values

R = JOB_RUNS
L = JOB_RUN_LOGS


class RetentionOps(SqlStoreBase, RunRetention):
    def prune_runs(self, ended_before: datetime, limit: int) -> RunsPruned:
        if limit < 1:
            raise ValueError("limit must be positive")
        ended = state_values(TERMINAL_STATES)
        deleted_runs: list[str] = []
        budget = limit
        with self._db.write() as conn:
            runs = conn.execute(
                select(R.c.id, R.c.run_id)
                .where(R.c.state.in_(ended), R.c.completed_on < ended_before)
                .order_by(R.c.id)
                .limit(limit)
            ).all()
            for run in runs:
                if budget == 0:
                    break
                # The seq of the budget-th line: a run with more lines loses only that many.
                last = conn.execute(
                    select(L.c.seq)
                    .where(L.c.run_pk == run.id)
                    .order_by(L.c.seq)
                    .offset(budget - 1)
                    .limit(1)
                ).scalar()
                lines = delete(L).where(L.c.run_pk == run.id)
                if last is not None:
                    budget -= conn.execute(lines.where(L.c.seq <= last)).rowcount
                    continue
                budget -= conn.execute(lines).rowcount
                # Terminal states are final, so the condition still holds; checked all the same.
                gone = conn.execute(
                    delete(R).where(
                        R.c.id == run.id, R.c.state.in_(ended), R.c.completed_on < ended_before
                    )
                ).rowcount
                if gone:
                    deleted_runs.append(run.run_id)
        return RunsPruned(run_ids=tuple(deleted_runs), log_lines=limit - budget)
