"""The console's notifications page: the account's run events (runs still running after their
notify_delay_after minutes, or ended FAILED, TIMEOUT or ERROR), newest first, and followed
live as server-sent events from NotificationService.WatchRunEvents. Calls go through the
console's own gRPC plumbing with the signed-in principal's token, as every page's do."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sluice.jobs.v1 import notifications_pb2 as api
from sluice.jobs.v1 import notifications_pb2_grpc

if TYPE_CHECKING:
    from sluice.control_plane.console.app import Console

PAGE_SIZE = 200


def kind_name(value: int) -> str:
    return api.RunEventKind.Name(value).removeprefix("RUN_EVENT_KIND_")  # type: ignore[arg-type]


def state_name(value: int) -> str:
    from sluice.jobs.v1 import types_pb2

    return types_pb2.JobRunState.Name(value).removeprefix("JOB_RUN_STATE_")  # type: ignore[arg-type]


def event_row(event: api.RunEvent) -> dict[str, Any]:
    """What a row of the page shows of an event (also the live events' data)."""
    return {
        "id": event.id,
        "time": event.created_on.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
        if event.HasField("created_on")
        else "",
        "kind": kind_name(event.kind),
        "job": event.job_name,
        "run": event.run_id,
        "state": state_name(event.job_run_state),
        "message": event.message,
    }


def notification_routes(console: Console) -> list[Route]:
    """The routes of the page (/notifications) and of its live events (/notifications/follow)."""
    # Imported here: the console's app module imports this one.
    from sluice.control_plane.console import app as console_app

    def stub() -> notifications_pb2_grpc.NotificationServiceStub:
        if console._channel is None:
            raise RuntimeError("the console's lifespan has not started")
        return notifications_pb2_grpc.NotificationServiceStub(console._channel)

    async def page(request: Request) -> Response:
        session = console._session(request)
        if session is None:
            return console_app._redirect("/signin")
        try:
            answer = await console._call(
                request,
                session,
                stub().GetRunEvents,
                api.GetRunEventsRequest(max_results=PAGE_SIZE, newest_first=True),
            )
        except console_app.ApiError as exc:
            return console._error_page(request, session, exc)
        rows = [event_row(event) for event in answer.events]
        newest = rows[0]["id"] if rows else 0
        return console._page(request, session, "notifications.html", events=rows, newest=newest)

    async def follow(request: Request) -> Response:
        session = console._session(request)
        if session is None:
            return Response(status_code=401)
        try:
            after = max(0, int(request.query_params.get("after", "0")))
        except ValueError:
            after = 0
        call = stub().WatchRunEvents(
            api.WatchRunEventsRequest(after_event_id=after),
            metadata=console._metadata(request, session.token),
        )

        async def events() -> AsyncIterator[str]:
            try:
                async for answer in call:
                    for event in answer.events:
                        yield console_app._sse("runevent", event_row(event))
            except grpc.aio.AioRpcError as exc:
                error = console_app._api_error(exc)
                yield console_app._sse("failure", {"error": error.kind, "message": error.message})
            finally:
                call.cancel()

        return console_app._event_stream(events())

    routes: list[tuple[str, Callable[[Request], Any]]] = [
        ("/notifications", page),
        ("/notifications/follow", follow),
    ]
    return [Route(path, endpoint) for path, endpoint in routes]
