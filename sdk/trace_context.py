"""Joins the calls of a client to the trace it runs in: the W3C traceparent of the
environment's TRACEPARENT (OpenTelemetry's environment carrier), which Sluice sets for every job
run and crawl, goes with every call that sends none of its own. The server's audit trail then
records a run's own catalog calls as children of its launch, in the trace of the call that
started it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sluice.sdk._headers import AddHeader

TRACEPARENT_ENV = "TRACEPARENT"
# Version 00: trace id, parent span id, flags; all-zero ids are invalid (W3C Trace Context).
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


def valid_traceparent(value: str) -> str:
    """value if it is a W3C traceparent this client can send, else ""."""
    value = value.strip()
    return value if _TRACEPARENT.fullmatch(value) else ""


def environment_traceparent(environ: Mapping[str, str]) -> str:
    """The environment's TRACEPARENT if it is valid; "" otherwise (a bad one is ignored:
    tracing never fails a call)."""
    return valid_traceparent(environ.get(TRACEPARENT_ENV, ""))


class TraceParent(AddHeader):
    """Adds `traceparent` to the calls that send none of their own."""

    def __init__(self, value: str) -> None:
        super().__init__("traceparent", value, replace=False)
