"""One structured log line per call: method, status code, duration, request id."""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc

from control_plane.interceptors.handlers import Behaviour, wrap_unary_response
from control_plane.interceptors.request_id import ensure_request_id
from control_plane.logs import fields

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
        return wrap_unary_response(
            continuation(handler_call_details), lambda behaviour: self._logged(method, behaviour)
        )

    def _logged(self, method: str, behaviour: Behaviour) -> Behaviour:
        log = self._log

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            request_id = ensure_request_id(context)
            failed = True
            try:
                response = behaviour(request, context)
                failed = False
                return response
            finally:
                code = context.code() or (grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK)
                log.info(
                    "rpc",
                    extra=fields(
                        method=method,
                        code=code.name,
                        duration_ms=round((time.perf_counter() - started) * 1000, 3),
                        request_id=request_id,
                    ),
                )

        return call
