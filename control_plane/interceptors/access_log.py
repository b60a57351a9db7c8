"""One structured log line per call: method, status code, duration, request id."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import grpc

from sluice.control_plane.interceptors.handlers import Behaviour, StreamBehaviour, wrap_handler
from sluice.control_plane.interceptors.request_id import ensure_request_id
from sluice.control_plane.logs import fields

ACCESS_LOGGER = "sluice.access"


class AccessLogInterceptor(grpc.ServerInterceptor):
    """Outermost interceptor: assigns the request id and logs the outcome of every call."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(ACCESS_LOGGER)

    def intercept_service(
        self,
        continuation: Any,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        return wrap_handler(
            method,
            continuation(handler_call_details),
            lambda behaviour: self._logged(method, behaviour),
            lambda behaviour: self._logged_stream(method, behaviour),
        )

    def _logged(self, method: str, behaviour: Behaviour) -> Behaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            request_id = ensure_request_id(context)
            failed = True
            try:
                response = behaviour(request, context)
                failed = False
                return response
            finally:
                self._log_call(method, context, request_id, started, failed)

        return call

    def _logged_stream(self, method: str, behaviour: StreamBehaviour) -> StreamBehaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = time.perf_counter()
            request_id = ensure_request_id(context)
            failed = True
            try:
                yield from behaviour(request, context)
                failed = False
            finally:
                self._log_call(method, context, request_id, started, failed)

        return call

    def _log_call(
        self,
        method: str,
        context: grpc.ServicerContext,
        request_id: str,
        started: float,
        failed: bool,
    ) -> None:
        code = context.code() or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)
        self._log.info(
            "rpc",
            extra=fields(
                method=method,
                code=code.name,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                request_id=request_id,
            ),
        )
