"""The tables of the job bookmark store (control_plane/jobs/migrations creates them).

Both are keyed by the job's id and go with it when the job is deleted: a new job of the same
name starts without a bookmark.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, PrimaryKeyConstraint, String, Text
from sqlmodel import Field, SQLModel

from sluice.catalog.core.store.rows import UtcDateTime


class SqlJobBookmark(SQLModel, table=True):
    """A job's bookmark: what its last successful committing run left."""

    __tablename__ = "job_bookmarks"
    __table_args__ = (PrimaryKeyConstraint("job_id", name="pk_job_bookmarks"),)

    job_id: int = Field(
        sa_column=Column(Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    )
    version: int = Field(sa_column=Column(Integer, nullable=False))
    run: int = Field(sa_column=Column(Integer, nullable=False))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    previous_run_id: str = Field(sa_column=Column(String(80), nullable=False))
    run_id: str = Field(sa_column=Column(String(80), nullable=False))
    document: str = Field(sa_column=Column(Text, nullable=False))
    updated_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlJobBookmarkCommit(SQLModel, table=True):
    """A run's committed bookmark, pending until the run has succeeded."""

    __tablename__ = "job_bookmark_commits"
    __table_args__ = (PrimaryKeyConstraint("job_id", "run_id", name="pk_job_bookmark_commits"),)

    job_id: int = Field(
        sa_column=Column(Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    )
    run_id: str = Field(sa_column=Column(String(80), nullable=False))
    # Which commit is newest: a counter, as clocks of two servers may disagree.
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    document: str = Field(sa_column=Column(Text, nullable=False))
    committed_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


JOB_BOOKMARKS = SqlJobBookmark.__table__
JOB_BOOKMARK_COMMITS = SqlJobBookmarkCommit.__table__
