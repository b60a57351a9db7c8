"""Wrapping the behaviour of a method handler, the way every interceptor here does it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

Behaviour = Callable[[Any, grpc.ServicerContext], Any]


def wrap_unary_response(
    handler: grpc.RpcMethodHandler | None, wrap: Callable[[Behaviour], Behaviour]
) -> grpc.RpcMethodHandler | None:
    """The handler with its unary-response behaviour wrapped.

    Every Sluice RPC is unary. Streaming responses belong to grpc's own services (health
    Watch, reflection), whose behaviours have their own calling conventions; they pass through.
    """
    if handler is None:
        return None
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
