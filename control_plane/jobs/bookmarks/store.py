"""The job bookmark store: the operations, independent of how they are stored.

A run's commit is pending until the run has SUCCEEDED; reading the bookmark first makes the
newest commit of a succeeded run the job's bookmark and drops the commits of runs that ended
otherwise, so a failed, stopped or timed-out run never advances it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

# A bookmark document's limit: far above what a job's file lists need, well under a message.
MAX_BOOKMARK_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class JobBookmark:
    """A job's bookmark, as Glue's JobBookmarkEntry has it."""

    job_name: str
    version: int
    run: int
    attempt: int
    previous_run_id: str
    run_id: str
    job_bookmark: str


class BookmarkStore(ABC):
    @abstractmethod
    def get(self, account: str, job_name: str) -> JobBookmark:
        """The job's bookmark, once the pending commits of finished runs are settled.

        EntityNotFound if there is no such job, or it has no bookmark yet (as in Glue).
        """

    @abstractmethod
    def reset(self, account: str, job_name: str) -> JobBookmark:
        """Empties the job's bookmark and drops every pending commit; EntityNotFound for a
        missing job."""

    @abstractmethod
    def commit(self, account: str, job_name: str, run_id: str, document: str) -> None:
        """Records run_id's new bookmark, pending until the run succeeds (a second commit of
        the same run replaces the first). EntityNotFound if the job or run is missing;
        FailedPrecondition if the run has ended; InvalidInput if the document is too large."""
