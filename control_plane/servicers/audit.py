"""The AuditService servicer: resolve which account the caller may read, convert, query.

A principal reads its own account's events only. Asking for another account's gives an empty
result, exactly as an account with no events would, so the answer never tells whether that
account exists. The operator may name any account, or none to read every account's events.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TypeAlias

import grpc

from sluice.audit.v1 import audit_pb2 as api
from sluice.audit.v1 import audit_pb2_grpc
from sluice.common.paging import PageRequest
from sluice.control_plane.audit.model import AuditFilter
from sluice.control_plane.audit.store import AuditStore
from sluice.control_plane.convert.audit import audit_event_to_proto, audit_filter_from_proto
from sluice.control_plane.security.calls import caller

Ctx: TypeAlias = grpc.ServicerContext

# Events read from the store per query while following.
FOLLOW_BATCH = 100


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    """Serves sluice.audit.v1.AuditService from an AuditStore.

    Args:
        store: The audit trail.
        follow_poll_interval_s: How often FollowAuditEvents looks for new events.
    """

    def __init__(self, store: AuditStore, *, follow_poll_interval_s: float = 0.25) -> None:
        if follow_poll_interval_s <= 0:
            raise ValueError("follow_poll_interval_s must be positive")
        self._store = store
        self._poll_interval_s = follow_poll_interval_s

    def QueryAuditEvents(
        self, request: api.QueryAuditEventsRequest, context: Ctx
    ) -> api.QueryAuditEventsResponse:
        audit_filter = _visible_filter(request)
        if audit_filter is None:
            return api.QueryAuditEventsResponse()
        page = self._store.query(
            audit_filter,
            PageRequest(max_results=request.max_results, next_token=request.next_token),
        )
        return api.QueryAuditEventsResponse(
            events=[audit_event_to_proto(record) for record in page.items],
            next_token=page.next_token,
        )

    def FollowAuditEvents(
        self, request: api.FollowAuditEventsRequest, context: Ctx
    ) -> Iterator[api.FollowAuditEventsResponse]:
        """Events as they are sequenced, in seq order, until the client goes away."""
        audit_filter = _visible_filter(request)
        gone = threading.Event()
        context.add_callback(gone.set)
        if audit_filter is None:
            # Nothing this caller may see will ever come: wait as for a quiet account.
            context.send_initial_metadata(())
            while context.is_active():
                gone.wait(self._poll_interval_s)
            return
        start = audit_filter.start_time
        cursor = self._store.last_seq() if start is None else self._store.seq_before(start)
        # Tells the client the follow is in place: what is recorded from now on reaches it.
        context.send_initial_metadata(())
        while context.is_active():
            batch = self._store.after(cursor, audit_filter, FOLLOW_BATCH)
            cursor = batch.next_seq
            if batch.records:
                yield api.FollowAuditEventsResponse(
                    events=[audit_event_to_proto(record) for record in batch.records]
                )
                if len(batch.records) == FOLLOW_BATCH:
                    continue
            gone.wait(self._poll_interval_s)


def _visible_filter(
    request: api.QueryAuditEventsRequest | api.FollowAuditEventsRequest,
) -> AuditFilter | None:
    """The request's filter, scoped to what the caller may read; None when that is nothing.

    The request is validated first, whatever the account, so errors say nothing about it.
    """
    principal = caller()
    if principal.operator:
        return audit_filter_from_proto(request, request.account or None)
    audit_filter = audit_filter_from_proto(request, principal.account)
    if request.account and request.account != principal.account:
        return None
    return audit_filter
