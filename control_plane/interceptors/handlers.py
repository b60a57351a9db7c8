"""Wrapping the behaviour of a method handler, the way every interceptor here does it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc

Behaviour = Callable[[Any, grpc.ServicerContext], Any]
StreamBehaviour = Callable[[Any, grpc.ServicerContext], Iterator[Any]]

# Only Sluice's own streaming methods are wrapped; grpc's (health Watch, reflection) have calling
# conventions of their own and pass through.
SLUICE_METHOD_PREFIX = "/sluice."


def wrap_handler(
    method: str,
    handler: grpc.RpcMethodHandler | None,
    wrap: Callable[[Behaviour], Behaviour],
    wrap_stream: Callable[[StreamBehaviour], StreamBehaviour],
) -> grpc.RpcMethodHandler | None:
    """The handler with its behaviour wrapped: wrap for a unary response, wrap_stream for a
    stream of responses (a generator wrapping the behaviour's iterator)."""
    if handler is None:
        return None
    if handler.unary_stream is not None and method.startswith(SLUICE_METHOD_PREFIX):
        return grpc.unary_stream_rpc_method_handler(
            wrap_stream(handler.unary_stream),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            wrap(handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            wrap(handler.stream_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler
