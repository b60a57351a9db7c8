"""Run logs of the SQL job store: numbered per run, read by seq."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update

from sluice.common.errors import EntityNotFound
from sluice.common.paging import Page, PageRequest
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.model import LogEntry, LogLine, LogStream
from sluice.control_plane.jobs.rows import JOB_RUN_LOGS, JOB_RUNS
from sluice.control_plane.jobs.sql_base import SqlStoreBase
from sluice.control_plane.jobs.sql_runs import checked_run_id

# CloudWatch's limit on one event; longer lines are cut.
MAX_LOG_MESSAGE = 262_144


class LogOps(SqlStoreBase):
    def append_logs(self, run_id: str, lines: Sequence[LogLine], cursor: str) -> None:
        count = len(lines)
        with self._db.write() as conn:
            # Taking the numbers with an update locks the run row: concurrent appends queue.
            changed = conn.execute(
                update(JOB_RUNS)
                .where(JOB_RUNS.c.run_id == run_id)
                .values(log_seq=JOB_RUNS.c.log_seq + count, log_cursor=cursor)
            ).rowcount
            if not changed:
                raise EntityNotFound(f"Job run {run_id} not found")
            if not count:
                return
            row = conn.execute(
                select(JOB_RUNS.c.id, JOB_RUNS.c.log_seq).where(JOB_RUNS.c.run_id == run_id)
            ).one()
            first = row.log_seq - count + 1
            conn.execute(
                insert(JOB_RUN_LOGS),
                [
                    {
                        "run_pk": row.id,
                        "seq": first + i,
                        "stream": str(line.stream),
                        "timestamp": line.timestamp,
                        "message": line.message[:MAX_LOG_MESSAGE],
                    }
                    for i, line in enumerate(lines)
                ],
            )

    def get_run_logs(
        self,
        account: str,
        job_name: str,
        run_id: str,
        page: PageRequest,
        *,
        stream: LogStream | None = None,
        after_seq: int = 0,
    ) -> Page[LogEntry]:
        acc = checks.account(account)
        name = checks.job_name(job_name)
        rid = checked_run_id(run_id)
        stream_value = "" if stream is None else str(LogStream(stream))
        query = self._tokens.page_query(
            page, (int, str), "GetJobRunLogs", acc, name, rid, stream_value
        )
        after = after_seq if query.after is None else int(query.after)
        with self._db.read() as conn:
            run = self._run_row(conn, acc, name, rid)
            stmt = select(JOB_RUN_LOGS).where(
                JOB_RUN_LOGS.c.run_pk == run.id, JOB_RUN_LOGS.c.seq > after
            )
            if stream_value:
                stmt = stmt.where(JOB_RUN_LOGS.c.stream == stream_value)
            rows = conn.execute(stmt.order_by(JOB_RUN_LOGS.c.seq).limit(query.limit + 1)).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.seq)
        entries = tuple(
            LogEntry(
                seq=row.seq,
                stream=LogStream(row.stream),
                timestamp=row.timestamp,
                message=row.message,
            )
            for row in kept
        )
        return Page(items=entries, next_token=token)
