"""A client interceptor that adds one header to every call of a channel, unary and streaming
alike (what the token and the trace context share)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


class _Details(grpc.ClientCallDetails):  # type: ignore[misc]
    def __init__(self, base: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = base.wait_for_ready
        self.compression = getattr(base, "compression", None)


class AddHeader(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds (key, value) to every call's metadata: in place of the call's own value of key
    when replace, else only to calls that send none."""

    def __init__(self, key: str, value: str, *, replace: bool) -> None:
        self._header = (key, value)
        self._replace = replace

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        key = self._header[0]
        metadata = list(details.metadata or ())
        if not self._replace and any(m[0].lower() == key for m in metadata):
            return details
        return _Details(details, [*(m for m in metadata if m[0].lower() != key), self._header])

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)
