"""Followers never starve calls: a cap on the long-lived response streams of the server.

Every Sluice server-streaming call (TailJobRunLogs, FollowAuditEvents, WatchJobRun,
WatchRunEvents) holds one of the server's worker threads for as long as its client follows, which
may be days. This interceptor lets at most `max_streams` of them run at once, leaving the other
worker threads to unary calls, and at most `max_per_principal` for one caller, so one client
cannot take every follower slot. A stream beyond either cap is refused at once with
ResourceNumberLimitExceededException (RESOURCE_EXHAUSTED); it never waits for a thread (a
WatchJobRun refused so makes the SDK's wait_for_run poll GetJobRun instead).

It sits inside the auth interceptor, so the caller is known; without authentication (the
development mode) callers are told apart by their address.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import grpc

from sluice.common.errors import ResourceNumberLimitExceeded
from sluice.control_plane.interceptors.audit import client_of
from sluice.control_plane.interceptors.handlers import StreamBehaviour, wrap_handler
from sluice.control_plane.security.calls import current_call


class StreamLimits:
    """Counts the streams open, in total and per caller; thread-safe.

    Args:
        max_streams: Streams open at once on the server; 0 refuses every stream.
        max_per_principal: Streams open at once for one caller.
    """

    def __init__(self, max_streams: int, max_per_principal: int) -> None:
        if max_streams < 0 or max_per_principal < 1:
            raise ValueError("max_streams must be >= 0 and max_per_principal >= 1")
        self.max_streams = max_streams
        self.max_per_principal = max_per_principal
        self._lock = threading.Lock()
        self._total = 0
        self._by_caller: dict[str, int] = {}

    def acquire(self, caller: str) -> None:
        """Takes a slot for caller; raises ResourceNumberLimitExceeded when a cap is reached."""
        with self._lock:
            held = self._by_caller.get(caller, 0)
            if held >= self.max_per_principal:
                raise ResourceNumberLimitExceeded(
                    f"{caller} already has {held} streams open (logs, audit, runs), the most one "
                    f"caller may (max {self.max_per_principal}); close one and try again",
                    limit=str(self.max_per_principal),
                )
            if self._total >= self.max_streams:
                raise ResourceNumberLimitExceeded(
                    f"the server already serves {self._total} streams (logs, audit, runs), the "
                    f"most it serves at once (max {self.max_streams}); try again later",
                    limit=str(self.max_streams),
                )
            self._total += 1
            self._by_caller[caller] = held + 1

    def release(self, caller: str) -> None:
        """Gives back a slot taken by acquire."""
        with self._lock:
            self._total -= 1
            left = self._by_caller[caller] - 1
            if left:
                self._by_caller[caller] = left
            else:
                del self._by_caller[caller]

    def open_streams(self) -> int:
        """Streams open now."""
        with self._lock:
            return self._total


class StreamLimitInterceptor(grpc.ServerInterceptor):
    """Refuses a Sluice server-streaming call beyond the limits; see the module docstring."""

    def __init__(self, limits: StreamLimits) -> None:
        self._limits = limits

    @property
    def limits(self) -> StreamLimits:
        """The counters this interceptor keeps."""
        return self._limits

    def intercept_service(
        self,
        continuation: Any,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        # Unary calls pass untouched: no new handler for them on every call.
        if handler is None or handler.unary_stream is None:
            return handler
        return wrap_handler(
            handler_call_details.method, handler, lambda behaviour: behaviour, self._limited
        )

    def _limited(self, behaviour: StreamBehaviour) -> StreamBehaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            caller = _caller(context)
            self._limits.acquire(caller)
            try:
                yield from behaviour(request, context)
            finally:
                self._limits.release(caller)

        return call


def _caller(context: grpc.ServicerContext) -> str:
    """Whom a stream counts against: its principal, or its address without authentication (the
    audit trail's reading of the peer; clients on a unix socket carry no address of their own,
    so they count as one)."""
    info = current_call()
    if info is not None and info.principal is not None:
        return f"principal {info.principal.name} ({info.principal.id})"
    host, _port = client_of(context.peer())
    return f"client {host}"
