"""The NotificationService servicer: an account's run events (listed and followed) and its
webhook. WatchRunEvents polls the events table (one indexed read per interval), so a follower
on any replica sees events whichever replica recorded them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeAlias

import grpc

from sluice.control_plane.convert.common import timestamp
from sluice.control_plane.convert.jobs import run_state_to_proto
from sluice.control_plane.jobs.notifications.store import (
    EventKind,
    RunEvent,
    SqlNotificationStore,
    Webhook,
)
from sluice.control_plane.jobs.notifications.webhooks import AddressRule
from sluice.control_plane.security.calls import current_call
from sluice.jobs.v1 import notifications_pb2 as api
from sluice.jobs.v1 import notifications_pb2_grpc

Ctx: TypeAlias = grpc.ServicerContext

_KINDS = {
    EventKind.DELAYED: api.RUN_EVENT_KIND_DELAYED,
    EventKind.FAILED: api.RUN_EVENT_KIND_FAILED,
    EventKind.TIMEOUT: api.RUN_EVENT_KIND_TIMEOUT,
    EventKind.ERROR: api.RUN_EVENT_KIND_ERROR,
}
WATCH_PAGE = 100


def run_event_to_proto(event: RunEvent) -> api.RunEvent:
    return api.RunEvent(
        id=event.id,
        kind=_KINDS[event.kind],
        job_name=event.job_name,
        run_id=event.run_id,
        job_run_state=run_state_to_proto(event.state),
        message=event.message,
        created_on=timestamp(event.created_on),
        notify_delay_after=event.notify_delay_after,
    )


def _webhook(webhook: Webhook) -> api.Webhook:
    return api.Webhook(url=webhook.url, last_modified_on=timestamp(webhook.last_modified_on))


class NotificationServicer(notifications_pb2_grpc.NotificationServiceServicer):
    """Serves sluice.jobs.v1.NotificationService.

    Args:
        store: Run events and webhooks.
        rule: The addresses webhooks may call.
        account: The account of every call on a server without authentication.
        watch_poll_interval_s: How often WatchRunEvents looks for new events.
        on_webhook_set: Called after a webhook was set (to deliver pending events soon).
    """

    def __init__(
        self,
        store: SqlNotificationStore,
        rule: AddressRule,
        *,
        account: str,
        watch_poll_interval_s: float = 0.5,
        on_webhook_set: Callable[[], None] = lambda: None,
    ) -> None:
        if watch_poll_interval_s <= 0:
            raise ValueError("watch_poll_interval_s must be positive")
        self._store = store
        self._rule = rule
        self._account_id = account
        self._interval_s = watch_poll_interval_s
        self._on_webhook_set = on_webhook_set

    def _account(self) -> str:
        info = current_call()
        if info is not None and info.account:
            return info.account
        return self._account_id

    def GetRunEvents(
        self, request: api.GetRunEventsRequest, context: Ctx
    ) -> api.GetRunEventsResponse:
        events = self._store.get_events(
            self._account(),
            request.after_event_id,
            request.max_results,
            newest_first=request.newest_first,
        )
        return api.GetRunEventsResponse(events=[run_event_to_proto(e) for e in events])

    def WatchRunEvents(
        self, request: api.WatchRunEventsRequest, context: Ctx
    ) -> Iterator[api.WatchRunEventsResponse]:
        account = self._account()
        after = request.after_event_id or self._store.last_event_id(account)
        gone = threading.Event()
        context.add_callback(gone.set)
        # Headers at once: the client knows it is following before the first event.
        context.send_initial_metadata(())
        while context.is_active():
            events = self._store.get_events(account, after, WATCH_PAGE)
            if events:
                after = events[-1].id
                yield api.WatchRunEventsResponse(events=[run_event_to_proto(e) for e in events])
                if len(events) == WATCH_PAGE:
                    continue
            gone.wait(self._interval_s)

    def PutWebhook(self, request: api.PutWebhookRequest, context: Ctx) -> api.PutWebhookResponse:
        self._rule.check(request.url)
        webhook = self._store.put_webhook(self._account(), request.url, request.secret)
        self._on_webhook_set()
        return api.PutWebhookResponse(webhook=_webhook(webhook))

    def GetWebhook(self, request: api.GetWebhookRequest, context: Ctx) -> api.GetWebhookResponse:
        return api.GetWebhookResponse(webhook=_webhook(self._store.get_webhook(self._account())))

    def DeleteWebhook(
        self, request: api.DeleteWebhookRequest, context: Ctx
    ) -> api.DeleteWebhookResponse:
        self._store.delete_webhook(self._account())
        return api.DeleteWebhookResponse()
