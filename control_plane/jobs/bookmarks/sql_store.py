"""The SQL job bookmark store: SQLite or PostgreSQL through the same code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from sluice.common.db import Database
from sluice.common.errors import EntityNotFound, FailedPrecondition, InvalidInput
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.bookmarks.rows import JOB_BOOKMARK_COMMITS, JOB_BOOKMARKS
from sluice.control_plane.jobs.bookmarks.store import MAX_BOOKMARK_BYTES, BookmarkStore, JobBookmark
from sluice.control_plane.jobs.model import TERMINAL_STATES, RunState
from sluice.control_plane.jobs.rows import JOB_RUNS, JOBS


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqlBookmarkStore(BookmarkStore):
    """BookmarkStore over a common.db.Database whose jobs schema is upgraded.

    Args:
        db: The database.
        clock: The time recorded with each change.
    """

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._db = db
        self._clock = clock

    def get(self, account: str, job_name: str) -> JobBookmark:
        acc, name = checks.account(account), checks.job_name(job_name)
        with self._db.write() as conn:
            job_id = _job_id(conn, acc, name)
            self._settle(conn, job_id)
            row = conn.execute(
                select(JOB_BOOKMARKS).where(JOB_BOOKMARKS.c.job_id == job_id)
            ).first()
        if row is None:
            raise EntityNotFound(f"Continuation for job {name} not found")
        return _bookmark(name, row)

    def reset(self, account: str, job_name: str) -> JobBookmark:
        acc, name = checks.account(account), checks.job_name(job_name)
        with self._db.write() as conn:
            job_id = _job_id(conn, acc, name)
            conn.execute(
                delete(JOB_BOOKMARK_COMMITS).where(JOB_BOOKMARK_COMMITS.c.job_id == job_id)
            )
            current = conn.execute(
                select(JOB_BOOKMARKS).where(JOB_BOOKMARKS.c.job_id == job_id)
            ).first()
            values = {
                "run": 0,
                "attempt": 0,
                "previous_run_id": current.run_id if current is not None else "",
                "run_id": "",
                "document": "",
                "updated_on": self._clock(),
            }
            if current is None:
                conn.execute(insert(JOB_BOOKMARKS).values(job_id=job_id, version=1, **values))
            else:
                conn.execute(
                    update(JOB_BOOKMARKS)
                    .where(JOB_BOOKMARKS.c.job_id == job_id)
                    .values(version=JOB_BOOKMARKS.c.version + 1, **values)
                )
            row = conn.execute(select(JOB_BOOKMARKS).where(JOB_BOOKMARKS.c.job_id == job_id)).one()
        return _bookmark(name, row)

    def commit(self, account: str, job_name: str, run_id: str, document: str) -> None:
        acc, name = checks.account(account), checks.job_name(job_name)
        if len(document.encode("utf-8")) > MAX_BOOKMARK_BYTES:
            raise InvalidInput(f"job_bookmark is larger than {MAX_BOOKMARK_BYTES} bytes")
        with self._db.write() as conn:
            job_id = _job_id(conn, acc, name)
            state = conn.execute(
                select(JOB_RUNS.c.state).where(
                    JOB_RUNS.c.job_id == job_id, JOB_RUNS.c.run_id == run_id
                )
            ).scalar()
            if state is None:
                raise EntityNotFound(f"Job run {run_id} of job {name} not found")
            if RunState(state) in TERMINAL_STATES:
                raise FailedPrecondition(
                    f"Job run {run_id} has ended ({state}): its bookmark can no longer change"
                )
            seq = conn.execute(
                select(func.coalesce(func.max(JOB_BOOKMARK_COMMITS.c.seq), 0)).where(
                    JOB_BOOKMARK_COMMITS.c.job_id == job_id
                )
            ).scalar_one()
            conn.execute(
                delete(JOB_BOOKMARK_COMMITS).where(
                    JOB_BOOKMARK_COMMITS.c.job_id == job_id, JOB_BOOKMARK_COMMITS.c.run_id == run_id
                )
            )
            conn.execute(
                insert(JOB_BOOKMARK_COMMITS).values(
                    job_id=job_id,
                    run_id=run_id,
                    seq=seq + 1,
                    document=document,
                    committed_on=self._clock(),
                )
            )

    def _settle(self, conn: Connection, job_id: int) -> None:
        """The newest commit of a succeeded run becomes the bookmark; commits of runs that
        have ended (or are gone) are dropped; those of active runs stay pending."""
        pending = conn.execute(
            select(
                JOB_BOOKMARK_COMMITS.c.run_id,
                JOB_BOOKMARK_COMMITS.c.seq,
                JOB_BOOKMARK_COMMITS.c.document,
                JOB_RUNS.c.state,
                JOB_RUNS.c.attempt,
            )
            .select_from(
                JOB_BOOKMARK_COMMITS.outerjoin(
                    JOB_RUNS, JOB_RUNS.c.run_id == JOB_BOOKMARK_COMMITS.c.run_id
                )
            )
            .where(JOB_BOOKMARK_COMMITS.c.job_id == job_id)
            .order_by(JOB_BOOKMARK_COMMITS.c.seq)
        ).all()
        ended = [p for p in pending if p.state is None or RunState(p.state) in TERMINAL_STATES]
        if not ended:
            return
        # Deleted first: of two servers settling at once, the second finds them gone (its
        # delete waits for the first's transaction) and changes nothing.
        deleted = conn.execute(
            delete(JOB_BOOKMARK_COMMITS).where(
                JOB_BOOKMARK_COMMITS.c.job_id == job_id,
                JOB_BOOKMARK_COMMITS.c.run_id.in_([p.run_id for p in ended]),
            )
        ).rowcount
        succeeded = [p for p in ended if p.state == RunState.SUCCEEDED]
        if succeeded and deleted == len(ended):
            newest = succeeded[-1]
            current = conn.execute(
                select(JOB_BOOKMARKS).where(JOB_BOOKMARKS.c.job_id == job_id)
            ).first()
            values = {
                "attempt": newest.attempt or 0,
                "run_id": newest.run_id,
                "document": newest.document,
                "updated_on": self._clock(),
            }
            if current is None:
                conn.execute(
                    insert(JOB_BOOKMARKS).values(
                        job_id=job_id, version=1, run=1, previous_run_id="", **values
                    )
                )
            else:
                conn.execute(
                    update(JOB_BOOKMARKS)
                    .where(JOB_BOOKMARKS.c.job_id == job_id)
                    .values(
                        version=JOB_BOOKMARKS.c.version + 1,
                        run=JOB_BOOKMARKS.c.run + 1,
                        previous_run_id=current.run_id,
                        **values,
                    )
                )


def _job_id(conn: Connection, account: str, name: str) -> int:
    job_id = conn.execute(
        select(JOBS.c.id).where(JOBS.c.account == account, JOBS.c.name == name)
    ).scalar()
    if job_id is None:
        raise EntityNotFound(f"Job {name} not found")
    return int(job_id)


def _bookmark(job_name: str, row: object) -> JobBookmark:
    return JobBookmark(
        job_name=job_name,
        version=row.version,  # type: ignore[attr-defined]
        run=row.run,  # type: ignore[attr-defined]
        attempt=row.attempt,  # type: ignore[attr-defined]
        previous_run_id=row.previous_run_id,  # type: ignore[attr-defined]
        run_id=row.run_id,  # type: ignore[attr-defined]
        job_bookmark=row.document,  # type: ignore[attr-defined]
    )
