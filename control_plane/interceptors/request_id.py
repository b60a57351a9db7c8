"""The request id of a call: the client's x-request-id if it sent a sane one, else a new one.
It is returned to the client in trailing metadata under the same key."""

from __future__ import annotations

import re
import uuid

import grpc

REQUEST_ID_KEY = "x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def ensure_request_id(context: grpc.ServicerContext) -> str:
    """The call's request id, chosen once and put in its trailing metadata."""
    trailing = tuple(context.trailing_metadata() or ())
    for key, value in trailing:
        if key == REQUEST_ID_KEY:
            return str(value)
    request_id = _from_client(context) or uuid.uuid4().hex
    context.set_trailing_metadata((*trailing, (REQUEST_ID_KEY, request_id)))
    return request_id


def _from_client(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and _SANE.fullmatch(value):
            return value
    return None
