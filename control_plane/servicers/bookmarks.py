"""The JobBookmarkService servicer: convert, call the bookmark store, respond.

Beyond that it checks what policies cannot say: a job run's own token commits a bookmark for
its own run only (a run must not advance another run's bookmark).
"""

from __future__ import annotations

from typing import TypeAlias

import grpc

from sluice.common.errors import AccessDenied
from sluice.control_plane.jobs.bookmarks.store import BookmarkStore, JobBookmark
from sluice.control_plane.security.calls import current_call
from sluice.jobs.v1 import bookmarks_pb2 as api
from sluice.jobs.v1 import bookmarks_pb2_grpc

Ctx: TypeAlias = grpc.ServicerContext

BOOKMARK_SERVICE = api.DESCRIPTOR.services_by_name["JobBookmarkService"].full_name


class JobBookmarkServicer(bookmarks_pb2_grpc.JobBookmarkServiceServicer):
    """Serves sluice.jobs.v1.JobBookmarkService from a BookmarkStore.

    Args:
        store: Where bookmarks are kept.
        account: The account every call acts as on a server without authentication.
    """

    def __init__(self, store: BookmarkStore, *, account: str) -> None:
        if not account:
            raise ValueError("account must not be empty")
        self._store = store
        self._account_id = account

    def _account(self) -> str:
        info = current_call()
        if info is not None and info.account:
            return info.account
        return self._account_id

    def GetJobBookmark(
        self, request: api.GetJobBookmarkRequest, context: Ctx
    ) -> api.GetJobBookmarkResponse:
        entry = self._store.get(self._account(), request.job_name)
        return api.GetJobBookmarkResponse(job_bookmark_entry=_entry(entry))

    def ResetJobBookmark(
        self, request: api.ResetJobBookmarkRequest, context: Ctx
    ) -> api.ResetJobBookmarkResponse:
        entry = self._store.reset(self._account(), request.job_name)
        return api.ResetJobBookmarkResponse(job_bookmark_entry=_entry(entry))

    def CommitJobBookmark(
        self, request: api.CommitJobBookmarkRequest, context: Ctx
    ) -> api.CommitJobBookmarkResponse:
        info = current_call()
        principal = info.principal if info is not None else None
        if principal is not None and principal.run_id and principal.run_id != request.run_id:
            raise AccessDenied(
                f"job run {principal.run_id} may commit a bookmark for its own run only"
            )
        self._store.commit(self._account(), request.job_name, request.run_id, request.job_bookmark)
        return api.CommitJobBookmarkResponse()


def _entry(bookmark: JobBookmark) -> api.JobBookmarkEntry:
    return api.JobBookmarkEntry(
        job_name=bookmark.job_name,
        version=bookmark.version,
        run=bookmark.run,
        attempt=bookmark.attempt,
        previous_run_id=bookmark.previous_run_id,
        run_id=bookmark.run_id,
        job_bookmark=bookmark.job_bookmark,
    )
