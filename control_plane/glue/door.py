"""The Glue door's ASGI app: `POST /` with `X-Amz-Target: AWSGlue.<Operation>` and a JSON body,
answered by calling the same operation on the server's own gRPC API.

The door holds no secret and reads no store. It turns the body into the request proto
(shapes.py), hashes the canonical request of the client's SigV4 signature and forwards the
signature's parts with the call; the gRPC auth interceptor verifies them with the access key's
secret, authorises and audits the call as any other. gRPC errors come back in Glue's shape:
`{"__type": "EntityNotFoundException", "Message": ...}`, HTTP 400 (500 for internal errors).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sluice.common.errors import IncompleteSignature, InvalidInput
from sluice.control_plane.glue.operations import GlueOperation
from sluice.control_plane.glue.shapes import to_json, to_message
from sluice.control_plane.interceptors.auth import (
    DOOR_CLIENT,
    DOOR_KEY,
    DOOR_NAME,
    SIGV4_AUTHORIZATION,
    SIGV4_DATE,
    SIGV4_REQUEST_ERROR,
    SIGV4_REQUEST_SHA256,
)
from sluice.control_plane.interceptors.request_id import REQUEST_ID_KEY
from sluice.control_plane.security import sigv4

DOOR = "glue"
TARGET_PREFIX = "AWSGlue"
CONTENT_TYPE = "application/x-amz-json-1.1"
# Glue's statuses: every modelled error is a client error (400) but its internal one.
_STATUS_BY_TYPE: Mapping[str, int] = {
    "InternalServiceException": 500,
    "ServiceUnavailableException": 503,
    "MissingAuthenticationTokenException": 403,
    "RequestEntityTooLargeException": 413,
}
# Errors that gRPC itself raises (no ErrorInfo from the error interceptor).
_TYPE_BY_CODE: Mapping[grpc.StatusCode, str] = {
    grpc.StatusCode.UNAVAILABLE: "ServiceUnavailableException",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "ThrottlingException",
    grpc.StatusCode.DEADLINE_EXCEEDED: "OperationTimeoutException",
    grpc.StatusCode.INVALID_ARGUMENT: "InvalidInputException",
}
_STATUS_DETAILS = "grpc-status-details-bin"

log = logging.getLogger("sluice.glue")


class GlueDoor:
    """The ASGI app of the Glue door.

    Args:
        operations: The Glue operations served, by name (operations.glue_operations).
        target: gRPC address of this server's own API (a loopback or unix socket).
        door_key: The secret that tells the auth interceptor a call is this door's.
        timeout_s: Deadline of each forwarded call.
        max_body_bytes: Largest request body read (the server's gRPC message limit).
    """

    def __init__(
        self,
        operations: Mapping[str, GlueOperation],
        target: str,
        door_key: str,
        timeout_s: float = 60.0,
        max_body_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._operations = operations
        self._target = target
        self._door_key = door_key
        self._timeout_s = timeout_s
        self._max_body_bytes = max_body_bytes
        self._calls: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}
        self._channel: grpc.aio.Channel | None = None
        # A bare ASGI app: one route needs no router or middleware stack (Starlette's cost
        # about 0.07 ms of server CPU per call); uvicorn answers an exception with a 500.
        self.app = self._asgi

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] != "/":
            response = Response("Not Found", status_code=404, media_type="text/plain")
        elif scope["method"] != "POST":
            response = Response(
                "Method Not Allowed",
                status_code=405,
                media_type="text/plain",
                headers={"Allow": "POST"},
            )
        else:
            response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # The channel belongs to the server's event loop, so it is made in it.
                self._channel = grpc.aio.insecure_channel(self._target)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._channel is not None:
                    await self._channel.close()
                    self._channel = None
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _call(self, op: GlueOperation) -> grpc.aio.UnaryUnaryMultiCallable:
        call = self._calls.get(op.name)
        if call is None:
            if self._channel is None:
                raise RuntimeError("the Glue door's lifespan has not started")
            call = self._calls[op.name] = self._channel.unary_unary(
                op.method,
                request_serializer=op.request.SerializeToString,
                response_deserializer=op.response.FromString,
            )
        return call

    async def handle(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex
        target = request.headers.get("x-amz-target", "")
        prefix, _, name = target.partition(".")
        op = self._operations.get(name) if prefix == TARGET_PREFIX else None
        if op is None:
            return _error("UnknownOperationException", f"unknown operation {target!r}", request_id)
        received = bytearray()
        async for chunk in request.stream():
            received += chunk
            if len(received) > self._max_body_bytes:
                return _error(
                    "RequestEntityTooLargeException",
                    f"the request body is larger than {self._max_body_bytes} bytes",
                    request_id,
                )
        body = bytes(received)
        try:
            data = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return _error("SerializationException", "the body is not valid JSON", request_id)
        try:
            message = to_message(data, op.request())
        except InvalidInput as exc:
            return _error(exc.reason, exc.message, request_id)
        metadata = self._metadata(request, body, request_id)
        try:
            response = await self._call(op)(message, metadata=metadata, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as exc:
            return _rpc_error(exc, request_id)
        return Response(
            json.dumps(to_json(response, top=True), separators=(",", ":")),
            media_type=CONTENT_TYPE,
            headers={"x-amzn-RequestId": request_id},
        )

    def _metadata(self, request: Request, body: bytes, request_id: str) -> list[tuple[str, str]]:
        client = request.client.host if request.client is not None else ""
        metadata = [
            (DOOR_KEY, self._door_key),
            (DOOR_NAME, DOOR),
            (DOOR_CLIENT, client),
            (REQUEST_ID_KEY, request_id),
        ]
        authorization = request.headers.get("authorization")
        if authorization is None:
            return metadata
        metadata += [
            (SIGV4_AUTHORIZATION, _printable(authorization)),
            (SIGV4_DATE, _printable(request.headers.get("x-amz-date", ""))),
        ]
        # A refusal is the authenticator's to make, so that it is audited as any other.
        try:
            signed = sigv4.parse_authorization(authorization)
            digest = sigv4.canonical_request_sha256(
                request.method,
                request.url.path,
                request.url.query,
                dict(request.headers.items()),
                signed.signed_headers,
                body,
            )
        except IncompleteSignature as exc:
            metadata.append((SIGV4_REQUEST_ERROR, _printable(exc.message)))
        else:
            metadata.append((SIGV4_REQUEST_SHA256, digest))
        return metadata


def _printable(value: str) -> str:
    """value as gRPC metadata accepts it: printable ASCII (what is not becomes an escape, which
    no signature or date matches)."""
    if value.isascii() and value.isprintable():
        return value[:4096]
    text = value.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in text)[:4096]


def _error(kind: str, message: str, request_id: str) -> Response:
    return Response(
        json.dumps({"__type": kind, "Message": message}),
        status_code=_STATUS_BY_TYPE.get(kind, 400),
        media_type=CONTENT_TYPE,
        headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": kind},
    )


def _rpc_error(exc: grpc.aio.AioRpcError, request_id: str) -> Response:
    """A gRPC error in Glue's shape: the Glue name the domain error carried in its ErrorInfo."""
    kind = _reason(exc.trailing_metadata()) or _TYPE_BY_CODE.get(
        exc.code(), "InternalServiceException"
    )
    if kind == "UnauthenticatedException":
        # No credentials at all (a bad signature or key carries its own AWS name).
        kind = "MissingAuthenticationTokenException"
    message = exc.details() or ""
    if _STATUS_BY_TYPE.get(kind, 400) >= 500:
        log.warning("glue call failed", extra={"error": kind, "request_id": request_id})
    return _error(kind, message, request_id)


def _reason(trailing: Any) -> str:
    for key, value in trailing or ():
        if key != _STATUS_DETAILS or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except Exception:  # a malformed detail is no reason to fail the answer
            return ""
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return info.reason
    return ""
