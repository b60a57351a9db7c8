"""Options of a Sluice client: one frozen dataclass, every default in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import grpc

ADDRESS_ENV = "SLUICE_ADDRESS"
CATALOG_ID_ENV = "SLUICE_CATALOG_ID"
DEFAULT_ADDRESS = "localhost:50051"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ClientOptions:
    """How a client reaches the server and what it sends with every call.

    Attributes:
        address: host:port of the server. None means the SLUICE_ADDRESS environment variable,
            else localhost:50051; see `resolved_address`.
        catalog_id: The account that calls are scoped to when a call does not name one.
            Empty means the caller's default account.
        timeout_s: Deadline of each call in seconds; None for no deadline.
        max_message_bytes: Largest message the client sends or accepts.
        metadata: gRPC metadata sent with every call, as (key, value) pairs.
        channel_credentials: Credentials for a TLS channel; None for a plaintext channel.
    """

    address: str | None = None
    catalog_id: str = ""
    timeout_s: float | None = DEFAULT_TIMEOUT_S
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    metadata: tuple[tuple[str, str], ...] = ()
    channel_credentials: grpc.ChannelCredentials | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {self.timeout_s}")
        if self.max_message_bytes <= 0:
            raise ValueError(f"max_message_bytes must be positive, not {self.max_message_bytes}")
        for pair in self.metadata:
            if len(pair) != 2 or not all(isinstance(part, str) for part in pair):
                raise ValueError(f"metadata entries must be (key, value) strings, not {pair!r}")

    def resolved_address(self, environ: Mapping[str, str] | None = None) -> str:
        """The address to dial: `address`, else $SLUICE_ADDRESS, else localhost:50051.

        Args:
            environ: The environment to read; the process environment when None.
        """
        env = os.environ if environ is None else environ
        return self.address or env.get(ADDRESS_ENV) or DEFAULT_ADDRESS

    def channel_options(self) -> Sequence[tuple[str, int]]:
        """The gRPC channel arguments these options imply."""
        return (
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
        )
