"""awsglue.job: Job.init and Job.commit, with Glue's job bookmarks.

With `--job-bookmark-option job-bookmark-enable`, init reads the job's bookmark
(GetJobBookmark) and each source with a transformation_ctx reads only files it lists as new;
commit hands the new state to the server (CommitJobBookmark), which makes it the job's bookmark
once the run has SUCCEEDED: a run that fails or is stopped, even after committing, never
advances it. `job-bookmark-pause` reads only new files but records nothing; `-disable` (the
default) reads everything.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from awsglue.bookmarks import Bookmarks
from awsglue.context import GlueContext
from awsglue.utils import BOOKMARK_CHOICES, BOOKMARK_DISABLE, BOOKMARK_ENABLE, BOOKMARK_OPTION

from sluice.sdk.args import parse_arguments
from sluice.sdk.errors import EntityNotFound


class Job:
    """A run of a Glue job, as its script sees it.

    Args:
        glue_context: The script's GlueContext; its sources consult the bookmark.
    """

    def __init__(self, glue_context: GlueContext) -> None:
        self._context = glue_context
        self._name = ""
        self._run_id = ""
        self._initialized = False
        self._committed = False

    @staticmethod
    def job_bookmark_options() -> list[str]:
        return ["--" + BOOKMARK_OPTION, *BOOKMARK_CHOICES]

    @staticmethod
    def id_params() -> list[str]:
        return ["--JOB_ID", "--JOB_RUN_ID"]

    def isInitialized(self) -> bool:
        return self._initialized

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        """Starts the job's run: reads the bookmark option (args, else sys.argv) and, unless
        bookmarks are disabled, the job's bookmark."""
        if self._initialized:
            raise RuntimeError("the job is initialized already")
        given = parse_arguments(sys.argv[1:])
        args = args or {}
        option = args.get("job_bookmark_option") or given.get(BOOKMARK_OPTION) or BOOKMARK_DISABLE
        if option not in BOOKMARK_CHOICES:
            raise ValueError(
                f"--{BOOKMARK_OPTION} {option!r} is not one of {', '.join(BOOKMARK_CHOICES)}"
            )
        self._name = job_name
        self._run_id = str(args.get("JOB_RUN_ID") or given.get("JOB_RUN_ID") or "")
        document = ""
        if option != BOOKMARK_DISABLE:
            try:
                document = self._context.client.jobs.get_job_bookmark(job_name).job_bookmark
            except EntityNotFound:
                # The job's first bookmarked run: nothing processed yet.
                document = ""
        self._context.bookmarks = Bookmarks.from_json(option, document)
        self._initialized = True

    def commit(self) -> None:
        """Ends the run's part: with bookmarks enabled, hands the new bookmark to the server
        (it advances once this run succeeds). Committing again does nothing."""
        if not self._initialized:
            raise RuntimeError("Job.init must be called before Job.commit")
        if self._committed:
            return
        bookmarks = self._context.bookmarks
        if bookmarks.option == BOOKMARK_ENABLE:
            if not self._run_id:
                raise RuntimeError("a bookmarked run needs its --JOB_RUN_ID")
            self._context.client.jobs.commit_job_bookmark(
                self._name, self._run_id, bookmarks.document()
            )
        self._committed = True

    def __repr__(self) -> str:
        return f"Job(name={self._name!r}, run_id={self._run_id!r})"


__all__ = ["Job"]
