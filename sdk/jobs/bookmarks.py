"""Job bookmarks: what a job's runs have processed, for runs that read only new input."""

from __future__ import annotations

from sluice.jobs.v1 import bookmarks_pb2
from sluice.sdk.jobs._base import JobsBase


class BookmarksMixin(JobsBase):
    """Bookmark calls of JobsClient."""

    def get_job_bookmark(self, job_name: str) -> bookmarks_pb2.JobBookmarkEntry:
        """The job's bookmark (as the last successful committing run left it).

        Raises:
            EntityNotFound: There is no such job, or it has no bookmark yet.
        """
        response: bookmarks_pb2.GetJobBookmarkResponse = self._call(
            self._bookmarks.GetJobBookmark, bookmarks_pb2.GetJobBookmarkRequest(job_name=job_name)
        )
        return response.job_bookmark_entry

    def reset_job_bookmark(self, job_name: str) -> bookmarks_pb2.JobBookmarkEntry:
        """Empties the job's bookmark: its next bookmarked run reads all of its input.

        Raises:
            EntityNotFound: There is no such job.
        """
        response: bookmarks_pb2.ResetJobBookmarkResponse = self._call(
            self._bookmarks.ResetJobBookmark,
            bookmarks_pb2.ResetJobBookmarkRequest(job_name=job_name),
        )
        return response.job_bookmark_entry

    def commit_job_bookmark(self, job_name: str, run_id: str, job_bookmark: str) -> None:
        """A run's new bookmark (what awsglue's Job.commit sends): it becomes the job's once
        the run has succeeded.

        Raises:
            EntityNotFound: There is no such job or run.
            FailedPrecondition: The run has ended.
        """
        self._call(
            self._bookmarks.CommitJobBookmark,
            bookmarks_pb2.CommitJobBookmarkRequest(
                job_name=job_name, run_id=run_id, job_bookmark=job_bookmark
            ),
        )
