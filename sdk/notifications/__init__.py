"""The notifications part of the SDK: run events (a run DELAYED past its notify_delay_after, or
ending FAILED, TIMEOUT or ERROR), listed or followed, and the account's webhook."""

from __future__ import annotations

import grpc

from sluice.jobs.v1 import notifications_pb2 as api
from sluice.jobs.v1 import notifications_pb2_grpc
from sluice.sdk._calls import ServiceCalls
from sluice.sdk._streams import StreamTail
from sluice.sdk.config import ClientOptions


def kind_name(value: int) -> str:
    """The name of a run event kind value (DELAYED, FAILED, TIMEOUT, ERROR)."""
    return api.RunEventKind.Name(value).removeprefix("RUN_EVENT_KIND_")  # type: ignore[arg-type]


class EventTail(StreamTail[api.RunEvent]):
    """The run events of a WatchRunEvents stream, one at a time, until cancelled."""


class NotificationsClient(ServiceCalls):
    """Run events and the account's webhook. Obtain one from `Client.notifications`.

    Example:
        >>> with client.notifications.watch_events() as events:  # doctest: +SKIP
        ...     for event in events:
        ...         print(kind_name(event.kind), event.job_name, event.run_id)
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = notifications_pb2_grpc.NotificationServiceStub(channel)

    def events(
        self, *, after_event_id: int = 0, max_results: int = 0, newest_first: bool = False
    ) -> list[api.RunEvent]:
        """The account's run events after after_event_id, oldest first, or with newest_first
        the newest ones (at most 1,000)."""
        request = api.GetRunEventsRequest(
            after_event_id=after_event_id, max_results=max_results, newest_first=newest_first
        )
        response: api.GetRunEventsResponse = self._call(self._stub.GetRunEvents, request)
        return list(response.events)

    def watch_events(self, *, after_event_id: int = 0, timeout_s: float | None = None) -> EventTail:
        """Follows the account's run events: those after after_event_id (0: from now on),
        then each new one; until cancelled or timeout_s (DeadlineExceeded is raised)."""
        call = self._stub.WatchRunEvents(
            api.WatchRunEventsRequest(after_event_id=after_event_id),
            timeout=timeout_s,
            metadata=self._options.metadata or None,
        )
        return EventTail(call, self._address, "events")

    def put_webhook(self, url: str, secret: str) -> api.Webhook:
        """Posts every run event of the account to url, signed with secret (HMAC-SHA256 in
        the X-Sluice-Signature header); replaces the webhook the account had."""
        request = api.PutWebhookRequest(url=url, secret=secret)
        response: api.PutWebhookResponse = self._call(self._stub.PutWebhook, request)
        return response.webhook

    def get_webhook(self) -> api.Webhook:
        """The account's webhook (without its secret); EntityNotFound if it has none."""
        response: api.GetWebhookResponse = self._call(
            self._stub.GetWebhook, api.GetWebhookRequest()
        )
        return response.webhook

    def delete_webhook(self) -> None:
        """Deletes the account's webhook; EntityNotFound if it has none."""
        self._call(self._stub.DeleteWebhook, api.DeleteWebhookRequest())
