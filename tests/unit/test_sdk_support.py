"""Stand-ins for the transport, shared by the SDK and CLI unit tests (this module has no tests).

FakeChannel is a grpc.Channel whose calls go to Python functions, through the real
serialisation of the generated stub, so the SDK code under test is the code that ships.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from sluice.sdk.catalog import CatalogClient
from sluice.sdk.config import ClientOptions
from sluice.sdk.scripts import ScriptsClient

FAKE_ADDRESS = "fake-server:1"
Handler = Callable[[Any], Message]


class FakeRpcError(grpc.RpcError, grpc.Call):
    """What a stub raises for a failed call: an RpcError that is also a grpc.Call."""

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        trailing_metadata: tuple[tuple[str, str | bytes], ...] = (),
    ) -> None:
        super().__init__(details)
        self._code = code
        self._details = details
        self._trailing = trailing_metadata

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._trailing

    def initial_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


def rpc_error(
    code: grpc.StatusCode,
    message: str,
    *,
    reason: str | None = None,
    error_metadata: Mapping[str, str] | None = None,
    request_info_id: str | None = None,
    extra_trailing: tuple[tuple[str, str], ...] = (),
) -> FakeRpcError:
    """A failed call as a Sluice server reports it: a rich status with an ErrorInfo detail."""
    details = []
    if reason is not None:
        info = any_pb2.Any()
        info.Pack(
            error_details_pb2.ErrorInfo(
                reason=reason, domain="sluice", metadata=dict(error_metadata or {})
            )
        )
        details.append(info)
    if request_info_id is not None:
        request_info = any_pb2.Any()
        request_info.Pack(error_details_pb2.RequestInfo(request_id=request_info_id))
        details.append(request_info)
    status = rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=message, details=details)
    )
    return FakeRpcError(status.code, status.details, (*extra_trailing, *status.trailing_metadata))


@dataclass
class RecordedCall:
    method: str
    request: Any
    timeout: float | None
    metadata: Any


@dataclass
class FakeChannel:
    """A grpc.Channel that hands each call of the stub to `handlers[method name]`."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    closed: bool = False

    def unary_unary(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes],
        response_deserializer: Callable[[bytes], Any],
        _registered_method: bool = False,
    ) -> Callable[..., Any]:
        name = method.rsplit("/", 1)[1]

        def call(request: Any, timeout: float | None = None, metadata: Any = None) -> Any:
            # A round trip through bytes, as on the wire: what the server would really see.
            wire_request = type(request).FromString(request_serializer(request))
            self.calls.append(RecordedCall(name, wire_request, timeout, metadata))
            handler = self.handlers.get(name)
            if handler is None:
                raise rpc_error(grpc.StatusCode.UNIMPLEMENTED, f"{name} is not faked")
            return response_deserializer(handler(wire_request).SerializeToString())

        return call

    def close(self) -> None:
        self.closed = True

    def requests(self, method: str) -> list[Any]:
        return [c.request for c in self.calls if c.method == method]


def fake_catalog(channel: FakeChannel, options: ClientOptions | None = None) -> CatalogClient:
    """A real CatalogClient over a fake channel."""
    return CatalogClient(channel, options or ClientOptions(), FAKE_ADDRESS)  # type: ignore[arg-type]


@dataclass
class FakeClient:
    """What the CLI's connector returns: a client whose catalog runs over a FakeChannel."""

    channel: FakeChannel
    options: ClientOptions

    @property
    def catalog(self) -> CatalogClient:
        return fake_catalog(self.channel, self.options)

    @property
    def scripts(self) -> ScriptsClient:
        return ScriptsClient(self.channel, self.options, FAKE_ADDRESS)  # type: ignore[arg-type]

    def close(self) -> None:
        self.channel.close()
