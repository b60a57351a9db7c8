"""The audit interceptor: every Sluice call, whatever its outcome, is a span of the audit trail.

It sits outside the error and auth interceptors. For each call it opens the CallInfo (which the
auth interceptor fills in), picks the ids of the call's span (continuing the caller's W3C
traceparent), makes that span context current and installs the before-commit hook that writes
the record of a call that changes something in the transaction of its change. When the call
ends it hands what it learnt (end, status) to the trail, which makes the span and its record
(see control_plane/audit/calls.py for why the span is made then).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import grpc
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, set_span_in_context
from sqlalchemy import Connection

from sluice.common.db import before_commit
from sluice.control_plane.audit.calls import Call, MethodNames
from sluice.control_plane.audit.tracing import attach_span_context, detach_span, remote_parent
from sluice.control_plane.audit.writer import AuditBacklogged
from sluice.control_plane.interceptors.errors import status_for
from sluice.control_plane.interceptors.handlers import (
    SLUICE_METHOD_PREFIX,
    Behaviour,
    StreamBehaviour,
    wrap_handler,
)
from sluice.control_plane.interceptors.request_id import ensure_request_id
from sluice.control_plane.security.calls import CallInfo, call_scope

if TYPE_CHECKING:
    from sluice.control_plane.audit.trail import AuditTrail

MAX_STATUS_MESSAGE = 1024
# Peers remembered (their parsed address); a server has far fewer connections than this.
_MAX_PEERS = 4096


class AuditInterceptor(grpc.ServerInterceptor):
    """Makes the audit span (and so the audit record) of every `/sluice.` call.

    Args:
        trail: The trail whose tracer makes the spans and whose store keeps the records.
        logger: Where a failure to record a call is reported.
    """

    def __init__(self, trail: AuditTrail, logger: logging.Logger | None = None) -> None:
        self._trail = trail
        self._log = logger or logging.getLogger("sluice.audit")
        # What every call of a method shares, worked out once per method.
        self._methods: dict[str, MethodNames] = {}
        self._peers: dict[str, tuple[str, int | None]] = {}

    def intercept_service(
        self,
        continuation: Any,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        handler = continuation(handler_call_details)
        if not method.startswith(SLUICE_METHOD_PREFIX):
            return handler
        names = self._methods.get(method)
        if names is None:
            names = self._methods.setdefault(method, MethodNames(method))
        return wrap_handler(
            method,
            handler,
            lambda behaviour: self._audited(names, behaviour),
            lambda behaviour: self._audited_stream(names, behaviour),
        )

    def _begin(self, names: MethodNames, context: grpc.ServicerContext) -> _Audited:
        peer = context.peer()
        client = self._peers.get(peer)
        if client is None:
            if len(self._peers) > _MAX_PEERS:
                self._peers.clear()
            client = self._peers[peer] = client_of(peer)
        host, port = client
        info = CallInfo(
            method=names.method, request_id=ensure_request_id(context), client_address=host
        )
        parent = remote_parent(context.invocation_metadata())
        return _Audited(self._trail, self._trail.begin_call(names, info, parent, port))

    def _audited(self, names: MethodNames, behaviour: Behaviour) -> Behaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            audited = self._begin(names, context)
            error: BaseException | None = None
            try:
                with audited:
                    return behaviour(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._end(audited, context, error)

        return call

    def _audited_stream(self, names: MethodNames, behaviour: StreamBehaviour) -> StreamBehaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            audited = self._begin(names, context)
            error: BaseException | None = None
            responses: Iterator[Any] | None = None
            try:
                # The call's context is set only while its code runs, never across a yield,
                # so nothing of it leaks into the thread between two responses.
                with audited:
                    responses = iter(behaviour(request, context))
                while True:
                    with audited:
                        try:
                            response = next(responses)
                        except StopIteration:
                            break
                    yield response
            except BaseException as exc:
                error = exc
                raise
            finally:
                if responses is not None and hasattr(responses, "close"):
                    with audited:
                        responses.close()
                self._end(audited, context, error)

        return call

    def _end(
        self, audited: _Audited, context: grpc.ServicerContext, error: BaseException | None
    ) -> None:
        call = audited.call
        try:
            call.end_ns = time.time_ns()
            code = _code(context, error)
            call.code = code.value[0]
            if code is not grpc.StatusCode.OK:
                call.message = _details(context, code)
            self._trail.end_call(call)
        except AuditBacklogged as backlog:
            # No record, no success: the client is told to try again instead.
            self._log.error(
                "call %s (request id %s) refused: its audit record cannot be queued",
                call.method.method,
                call.info.request_id,
            )
            if context.is_active():
                context.abort_with_status(
                    status_for(backlog, tuple(context.trailing_metadata() or ()))
                )
        except Exception:
            # The call's outcome stands; only its record is at risk, so say so loudly.
            self._log.exception("cannot record the call %s in the audit trail", call.method.method)


class _Audited:
    """A call in flight; entering it makes its CallInfo, before-commit hook and span context
    current in this thread (a class rather than a generator: it is entered for every call)."""

    __slots__ = ("_call_scope", "_context", "_hook_scope", "_token", "_trail", "call")

    def __init__(self, trail: AuditTrail, call: Call) -> None:
        self._trail = trail
        self.call = call
        self._context = set_span_in_context(NonRecordingSpan(call.span_context()), Context())

    def __enter__(self) -> None:
        self._token = attach_span_context(self._context)
        self._call_scope = call_scope(self.call.info)
        self._call_scope.__enter__()
        self._hook_scope = before_commit(self._hook)
        self._hook_scope.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._hook_scope.__exit__(None, None, None)
            self._call_scope.__exit__(None, None, None)
        finally:
            detach_span(self._token)

    def _hook(self, conn: Connection) -> None:
        # By now the auth interceptor has said who is calling and what they act on.
        self._trail.prewrite(conn, self.call)


def _code(context: grpc.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    # The client went away: grpc closes a stream's generator, or the call is no longer active.
    if isinstance(error, GeneratorExit) or not context.is_active():
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.OK if error is None else grpc.StatusCode.UNKNOWN


def _details(context: grpc.ServicerContext, code: grpc.StatusCode) -> str:
    details: Any = context.details()
    if isinstance(details, bytes):
        details = details.decode("utf-8", "replace")
    text = details or code.name
    return text[:MAX_STATUS_MESSAGE]


def client_of(peer: str) -> tuple[str, int | None]:
    """The client's address and port from grpc's peer string (ipv4:1.2.3.4:5, ipv6:[::1]:5,
    unix:path); the whole string and no port for anything else."""
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        host, _, port = unquote(rest).rpartition(":")
        if host and port.isdigit():
            return host.strip("[]"), int(port)
    return peer, None
