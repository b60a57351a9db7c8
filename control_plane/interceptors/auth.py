"""The auth interceptor: who is calling (API token or client certificate), in which account,
and whether policies let them do what the RPC does. It runs inside the audit and error
interceptors, so refusals are both audited and turned into statuses.

A call is authorised on the normalised resource it acts on (see actions.py). Past that, a batch
call goes ahead with only the items the caller may act on (each denied item becomes a per-item
AccessDeniedException in the response), and a listing keeps only the items the caller may see.

Account isolation: a caller acts in its own account. Naming another account (catalog_id or
account in the request) is NOT_FOUND, exactly as for a resource that does not exist, so nothing
of another account can be inferred; only the operator may name any account.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from sluice.common.errors import (
    AccessDenied,
    EntityNotFound,
    IncompleteSignature,
    Unauthenticated,
)
from sluice.common.limits import check_batch
from sluice.control_plane.interceptors.handlers import Behaviour, StreamBehaviour, wrap_handler
from sluice.control_plane.security.actions import Operation, operation
from sluice.control_plane.security.calls import CallInfo, Principal, current_call
from sluice.control_plane.security.parameters import request_parameters

_BEARER = "bearer "
_ACCOUNT_FIELDS = ("catalog_id", "account")
# What a door (a thin translation of another protocol onto this API, see control_plane/glue)
# sends along with its calls: its key (proving it is the server's own door), its name, the
# address of its client, and the parts of the client's AWS Signature Version 4.
DOOR_KEY = "sluice-door-key"
DOOR_NAME = "sluice-door"
DOOR_CLIENT = "sluice-door-client"
SIGV4_AUTHORIZATION = "sluice-sigv4-authorization"
SIGV4_DATE = "sluice-sigv4-date"
SIGV4_REQUEST_SHA256 = "sluice-sigv4-request-sha256"
# Why the door could not make the canonical request (a signed header missing, ...).
SIGV4_REQUEST_ERROR = "sluice-sigv4-request-error"


class Guard(Protocol):
    """Authentication and policy decisions, as the interceptor needs them."""

    def authenticate(self, token: str) -> Principal: ...

    def authenticate_certificate(self, subject: str) -> Principal: ...

    def authenticate_sigv4(
        self, authorization: str, amz_date: str, canonical_request_sha256: str
    ) -> Principal: ...

    def is_allowed(self, principal: Principal, action: str, resource: str) -> bool: ...


class AuthInterceptor(grpc.ServerInterceptor):
    """Authenticates and authorises every Sluice RPC; grpc's own services (health,
    reflection) pass through unauthenticated, as load balancers and tools need them."""

    def __init__(self, guard: Guard, door_key: str = "") -> None:
        self._guard = guard
        # The secret of this server's doors; "" accepts no door's call.
        self._door_key = door_key.encode()

    def intercept_service(
        self, continuation: Any, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        handler = continuation(handler_call_details)
        if not method.startswith("/sluice."):
            return handler
        return wrap_handler(
            method,
            handler,
            lambda behaviour: self._checked(method, behaviour),
            lambda behaviour: self._checked_stream(method, behaviour),
        )

    def _checked(self, method: str, behaviour: Behaviour) -> Behaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            op, info = self._admit(method, request, context)
            if op.batch is not None:
                return self._batch(method, op, info, request, context, behaviour)
            response = behaviour(request, context)
            if op.listing is not None:
                op.keep_visible(info.account, request, response, _item_check(op, info))
            return response

        return call

    def _batch(
        self,
        method: str,
        op: Operation,
        info: CallInfo,
        request: Any,
        context: grpc.ServicerContext,
        behaviour: Behaviour,
    ) -> Any:
        """A batch call with only the items the caller may act on; each denied item is a
        per-item error of the response, as Glue reports any item it could not process."""
        size = op.batch_size(request)
        denied = op.take_denied(info.account, request, _item_check(op, info))
        if denied:
            # Denied items must not bring an over-long batch under the limit: it is refused
            # whole, as the servicer refuses it when nothing is denied.
            check_batch(op.action.partition(":")[2], size)
        if denied and not op.batch_size(request):
            # Nothing left to do: the response is only the errors.
            response = _response_class(method)()
        else:
            response = behaviour(request, context)
        principal = info.principal.name if info.principal is not None else ""
        op.report_denied(request, response, denied, principal)
        return response

    def _checked_stream(self, method: str, behaviour: StreamBehaviour) -> StreamBehaviour:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            self._admit(method, request, context)
            yield from behaviour(request, context)

        return call

    def _admit(
        self, method: str, request: Message, context: grpc.ServicerContext
    ) -> tuple[Operation, CallInfo]:
        info = current_call()
        if info is None:
            # Only in tests that leave the audit interceptor out: keep a record for this call.
            raise RuntimeError("the auth interceptor needs a CallInfo (the audit interceptor)")
        try:
            op = operation(method)
        except KeyError:
            info.denied_reason = "unknown method"
            raise AccessDenied(f"{method} is not an operation of this server") from None
        info.action, info.read_only = op.action, op.read_only
        principal = self._principal(context, info)
        info.principal = principal
        account = self._account(principal, request, info, op)
        info.account = account
        info.resource = op.resource(account, request)
        info.parameters = request_parameters(request)
        info.authorizer = lambda action, resource: self._guard.is_allowed(
            principal, action, resource
        )
        self._authorize(principal, op, info)
        return op, info

    def _principal(self, context: grpc.ServicerContext, info: CallInfo) -> Principal:
        token = ""
        door: dict[str, str] = {}
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str):
                if not value.lower().startswith(_BEARER):
                    info.denied_reason = "malformed authorization header"
                    raise Unauthenticated("the authorization header must be 'Bearer <token>'")
                token = value[len(_BEARER) :].strip()
            elif key.startswith("sluice-") and isinstance(value, str):
                door[key] = value
        try:
            if door:
                principal = self._door_principal(door, info)
                if principal is not None:
                    return principal
            if token:
                return self._guard.authenticate(token)
            subject = _certificate_subject(context)
            if subject:
                return self._guard.authenticate_certificate(subject)
        except Unauthenticated as exc:
            info.denied_reason = exc.message
            raise
        info.denied_reason = "no credentials"
        raise Unauthenticated(
            "no credentials: send 'authorization: Bearer <token>' (SLUICE_TOKEN) "
            "or a client certificate"
        )

    def _door_principal(self, door: dict[str, str], info: CallInfo) -> Principal | None:
        """The principal of a call a door makes for its client (None: the door passes no
        credentials of its own kind, the call's token or certificate decide)."""
        sigv4 = door.get(SIGV4_AUTHORIZATION)
        key = door.get(DOOR_KEY, "").encode()
        if not (self._door_key and key and hmac.compare_digest(key, self._door_key)):
            if sigv4 is not None or DOOR_NAME in door:
                # Only the server's own door has verified what it forwards (the request the
                # signature covers); anyone else could replay a signature over another body.
                raise Unauthenticated("door credentials are accepted only from this server's doors")
            return None
        info.door = door.get(DOOR_NAME, "")
        info.client_address = door.get(DOOR_CLIENT, info.client_address)
        if sigv4 is None:
            return None
        if SIGV4_REQUEST_ERROR in door:
            raise IncompleteSignature(door[SIGV4_REQUEST_ERROR])
        return self._guard.authenticate_sigv4(
            sigv4, door.get(SIGV4_DATE, ""), door.get(SIGV4_REQUEST_SHA256, "")
        )

    def _account(
        self, principal: Principal, request: Message, info: CallInfo, op: Operation
    ) -> str:
        for name in _ACCOUNT_FIELDS:
            if name not in request.DESCRIPTOR.fields_by_name:
                continue
            named = getattr(request, name)
            if not named:
                if principal.operator and op.service == "audit":
                    # The operator reads the whole trail, unauthenticated calls included.
                    return principal.account
                setattr(request, name, principal.account)
                return principal.account
            if named == principal.account or principal.operator:
                return str(named)
            info.denied_reason = "another account"
            # As for anything that does not exist: another account's existence is not revealed.
            raise EntityNotFound(f"Account {named} not found")
        return principal.account

    def _authorize(self, principal: Principal, op: Operation, info: CallInfo) -> None:
        if self._guard.is_allowed(principal, op.action, info.resource):
            return
        info.denied_reason = "not allowed by policy"
        raise AccessDenied(
            f"{principal.name} is not authorized to perform {op.action} on {info.resource}"
        )


def _item_check(op: Operation, info: CallInfo) -> Callable[[str], bool]:
    """Whether the caller may do the call's action on one item's resource."""
    authorizer = info.authorizer
    if authorizer is None:
        return lambda resource: False
    return lambda resource: authorizer(op.action, resource)


@functools.lru_cache(maxsize=256)
def _response_class(method: str) -> type[Message]:
    """The response message class of a gRPC method (`/sluice.jobs.v1.JobService/GetJob`)."""
    service, _, name = method.lstrip("/").rpartition("/")
    descriptor = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)
    return GetMessageClass(descriptor.output_type)


def _certificate_subject(context: grpc.ServicerContext) -> str:
    auth = context.auth_context() or {}
    names = auth.get("x509_common_name") or ()
    return names[0].decode() if names else ""
