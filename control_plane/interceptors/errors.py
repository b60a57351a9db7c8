"""The one error interceptor: every SluiceError becomes its gRPC status here, with a
google.rpc.ErrorInfo detail; anything else becomes INTERNAL without a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from sluice.common.errors import InternalError, SluiceError
from sluice.control_plane.interceptors.handlers import Behaviour, StreamBehaviour, wrap_handler
from sluice.control_plane.interceptors.request_id import ensure_request_id
from sluice.control_plane.logs import fields

ERROR_DOMAIN = "sluice"
Metadata = Sequence[tuple[str, str | bytes]]


@dataclass(frozen=True)
class CallStatus(grpc.Status):
    """A status to abort a call with: code, details and trailing metadata."""

    code: grpc.StatusCode
    details: str
    trailing_metadata: Metadata


def status_for(
    error: SluiceError, trailing_metadata: Metadata = (), message: str | None = None
) -> CallStatus:
    """The status a client receives for a domain error, keeping the call's trailing metadata.

    message replaces the error's own message when given.
    """
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=dict(error.metadata)
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(
        code=error.code.value[0],
        message=error.message if message is None else message,
        details=[detail],
    )
    rich = rpc_status.to_status(status)
    return CallStatus(
        code=rich.code,
        details=rich.details,
        trailing_metadata=(*trailing_metadata, *rich.trailing_metadata),
    )


class ErrorInterceptor(grpc.ServerInterceptor):
    """Turns exceptions escaping a handler into statuses. Handlers never build statuses."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(__name__)

    def intercept_service(
        self,
        continuation: Any,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        return wrap_handler(
            method,
            continuation(handler_call_details),
            lambda behaviour: self._guarded(method, behaviour),
            lambda behaviour: self._guarded_stream(method, behaviour),
        )

    def _guarded(self, method: str, behaviour: Behaviour) -> Behaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behaviour(request, context)
            except Exception as error:
                self._fail(method, error, context)

        return call

    def _guarded_stream(self, method: str, behaviour: StreamBehaviour) -> StreamBehaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from behaviour(request, context)
            except Exception as error:
                self._fail(method, error, context)

        return call

    def _fail(self, method: str, error: Exception, context: grpc.ServicerContext) -> None:
        if isinstance(error, SluiceError):
            self._abort(method, error, context)
        # The last resort: a bug. The traceback stays in the server log.
        if context.code() not in (None, grpc.StatusCode.OK):
            raise error  # the handler already set the call's status itself
        request_id = ensure_request_id(context)
        self._log.error(
            "unhandled error",
            exc_info=error,
            extra=fields(method=method, request_id=request_id),
        )
        internal = InternalError(f"internal error (request id {request_id})")
        context.abort_with_status(status_for(internal, _trailing(context)))

    def _abort(self, method: str, error: SluiceError, context: grpc.ServicerContext) -> None:
        message = None
        if error.code is grpc.StatusCode.INTERNAL:
            request_id = ensure_request_id(context)
            self._log.error(
                "internal error: %s",
                error.message,
                exc_info=error,
                extra=fields(method=method, request_id=request_id),
            )
            message = f"{error.message} (request id {request_id})"
        context.abort_with_status(status_for(error, _trailing(context), message))


def _trailing(context: grpc.ServicerContext) -> Metadata:
    return tuple(context.trailing_metadata() or ())
