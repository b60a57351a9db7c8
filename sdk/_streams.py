"""Following a server stream whose responses each carry a batch of items, one item at a time."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import grpc

from sluice.sdk.errors import from_rpc_error

T = TypeVar("T")


class StreamTail(Iterator[T], Generic[T]):
    """The items of a streaming call's responses, in order, until the stream ends.

    Use it as a context manager, or call `cancel`, to stop following.

    Args:
        call: The streaming call.
        address: The server's address, for error messages.
        field: The repeated field of each response holding its items.
    """

    def __init__(self, call: Any, address: str, field: str) -> None:
        self._call = call
        self._address = address
        self._field = field
        self._pending: list[T] = []
        self._cancelled = False

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> T:
        while not self._pending:
            response = self._receive()
            self._on_response(response)
            self._pending.extend(reversed(getattr(response, self._field)))
        return self._pending.pop()

    def _on_response(self, response: Any) -> None:
        """What a subclass keeps of each response besides its items."""

    def _receive(self) -> Any:
        if self._cancelled:
            raise StopIteration
        try:
            return next(self._call)
        except grpc.RpcError as exc:
            cancelled = isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.CANCELLED
            if self._cancelled and cancelled:
                raise StopIteration from None
            raise from_rpc_error(exc, address=self._address) from None

    def cancel(self) -> None:
        """Stops following: iteration ends, and the server stops streaming."""
        self._cancelled = True
        self._pending.clear()
        self._call.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()
