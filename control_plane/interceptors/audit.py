"""The audit interceptor: every Sluice call, whatever its outcome, is a span of the audit trail.

It sits outside the error and auth interceptors: it opens the call's CallInfo (which the auth
interceptor fills in), starts the call's span (continuing the caller's W3C traceparent), makes
the span current and installs the before-commit hook that writes the record of a call that
changes something in the transaction of its change. When the call ends it sets the span's
attributes from the CallInfo, its outcome and status, and ends it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import grpc
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy import Connection

from common.db import before_commit
from control_plane.audit.model import Attr, Outcome
from control_plane.audit.tracing import attach_span, call_attributes, detach_span, parent_context
from control_plane.interceptors.handlers import (
    SLUICE_METHOD_PREFIX,
    Behaviour,
    StreamBehaviour,
    wrap_handler,
)
from control_plane.interceptors.request_id import ensure_request_id
from control_plane.security.calls import CallInfo, call_scope

if TYPE_CHECKING:
    from control_plane.audit.trail import AuditTrail

DENIED_CODES = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
MAX_STATUS_MESSAGE = 1024


class AuditInterceptor(grpc.ServerInterceptor):
    """Makes the audit span (and so the audit record) of every `/sluice.` call.

    Args:
        trail: The trail whose tracer makes the spans and whose store keeps the records.
        logger: Where a failure to finish a call's record is reported.
    """

    def __init__(self, trail: AuditTrail, logger: logging.Logger | None = None) -> None:
        self._trail = trail
        self._log = logger or logging.getLogger("sluice.audit")
        # What every call of a method shares, worked out once per method.
        self._methods: dict[str, _Method] = {}
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
        shared = self._methods.get(method)
        if shared is None:
            shared = self._methods.setdefault(method, _Method(method))
        return wrap_handler(
            method,
            handler,
            lambda behaviour: self._audited(shared, behaviour),
            lambda behaviour: self._audited_stream(shared, behaviour),
        )

    def _begin(self, method: _Method, context: grpc.ServicerContext) -> _AuditedCall:
        peer = context.peer()
        client = self._peers.get(peer)
        if client is None:
            if len(self._peers) > _MAX_PEERS:
                self._peers.clear()
            client = self._peers[peer] = client_of(peer)
        return _AuditedCall(self._trail, method, context, client)

    def _audited(self, method: _Method, behaviour: Behaviour) -> Behaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            audited = self._begin(method, context)
            error: BaseException | None = None
            try:
                with audited.scope():
                    return behaviour(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._finish(audited, context, error)

        return call

    def _audited_stream(self, method: _Method, behaviour: StreamBehaviour) -> StreamBehaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            audited = self._begin(method, context)
            error: BaseException | None = None
            responses: Iterator[Any] | None = None
            try:
                # The call's context is set only while its code runs, never across a yield,
                # so nothing of it leaks into the thread between two responses.
                with audited.scope():
                    responses = iter(behaviour(request, context))
                while True:
                    with audited.scope():
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
                    with audited.scope():
                        responses.close()
                self._finish(audited, context, error)

        return call

    def _finish(
        self, audited: _AuditedCall, context: grpc.ServicerContext, error: BaseException | None
    ) -> None:
        try:
            audited.finish(context, error)
        except Exception:
            # The call's outcome stands; only its record is at risk, so say so loudly.
            self._log.exception("cannot finish the audit record of %s", audited.info.method)


# Peers remembered (their parsed address); a server has far fewer connections than this.
_MAX_PEERS = 4096


class _Method:
    """What every call of one method shares: its span name and rpc.* attributes."""

    __slots__ = ("method", "name", "service", "span_name")

    def __init__(self, method: str) -> None:
        self.method = method
        self.span_name = method[1:]
        self.service, _, self.name = self.span_name.partition("/")


class _AuditedCall:
    """One call in flight: its CallInfo, its span, and whether its record was written."""

    __slots__ = ("_start_attributes", "_trail", "info", "span", "written")

    def __init__(
        self,
        trail: AuditTrail,
        method: _Method,
        context: grpc.ServicerContext,
        client: tuple[str, int | None],
    ) -> None:
        self._trail = trail
        request_id = ensure_request_id(context)
        host, port = client
        self.info = CallInfo(method=method.method, request_id=request_id, client_address=host)
        attributes: dict[str, Any] = {
            Attr.RPC_SYSTEM: "grpc",
            Attr.RPC_SERVICE: method.service,
            Attr.RPC_METHOD: method.name,
            Attr.REQUEST_ID: request_id,
            Attr.CLIENT_ADDRESS: host,
        }
        if port is not None:
            attributes[Attr.CLIENT_PORT] = port
        self._start_attributes = attributes
        self.span: Span = trail.tracer.start_span(
            method.span_name,
            context=parent_context(context.invocation_metadata()),
            kind=SpanKind.SERVER,
            attributes=attributes,
        )
        self.written = False

    @contextmanager
    def scope(self) -> Iterator[None]:
        """The call's CallInfo, before-commit hook and span, current in this thread."""
        token = attach_span(self.span)
        try:
            with call_scope(self.info), before_commit(self._hook):
                yield
        finally:
            detach_span(token)

    def _hook(self, conn: Connection) -> None:
        # By now the auth interceptor has said who is calling and what they act on.
        self.span.set_attributes(call_attributes(self.info))
        self._trail.prewrite(conn, self.span, again=self.written)  # type: ignore[arg-type]
        self.written = True

    def finish(self, context: grpc.ServicerContext, error: BaseException | None) -> None:
        """Sets the span's attributes, outcome and status from how the call ended; ends it."""
        code = _code(context, error)
        info = self.info
        if info.denied_reason or code in DENIED_CODES:
            outcome = Outcome.DENIED
        elif code is grpc.StatusCode.OK:
            outcome = Outcome.SUCCESS
        else:
            outcome = Outcome.FAILURE
        attributes = call_attributes(info)
        attributes[Attr.OUTCOME] = outcome.value
        attributes[Attr.GRPC_STATUS_CODE] = code.value[0]
        span = self.span
        span.set_attributes(attributes)
        if code is not grpc.StatusCode.OK:
            span.set_status(Status(StatusCode.ERROR, _details(context, code)))
        self._trail.end_span(span, {**self._start_attributes, **attributes})  # type: ignore[arg-type]


def _code(context: grpc.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if error is None:
        return grpc.StatusCode.OK
    # The client went away mid-stream: grpc closes the response generator.
    if isinstance(error, GeneratorExit):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


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
