"""The SQL job store: SQLite or PostgreSQL through the same code."""

from __future__ import annotations

from sluice.control_plane.jobs.sql_jobs import JobOps
from sluice.control_plane.jobs.sql_logs import LogOps
from sluice.control_plane.jobs.sql_retention import RetentionOps
from sluice.control_plane.jobs.sql_runs import RunOps
from sluice.control_plane.jobs.sql_scripts import ScriptOps
from sluice.control_plane.jobs.store import JobStore


class SqlJobStore(JobOps, RunOps, LogOps, ScriptOps, RetentionOps, JobStore):
    """JobStore over a common.db.Database whose schema control_plane.jobs.schema has upgraded.

    SqlJobStore(db, page_tokens, *, clock=utc_now, max_script_bytes=1 MiB)
    """
