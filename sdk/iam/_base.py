"""What every part of the IAM client shares: the stub, call options and error mapping."""

from __future__ import annotations

import grpc

from sluice.iam.v1 import iam_pb2_grpc
from sluice.sdk._calls import ServiceCalls
from sluice.sdk.config import ClientOptions


class IamBase(ServiceCalls):
    """Holds the stub of the IamService and runs calls on it.

    Args:
        channel: An open channel to the server; the caller owns and closes it.
        options: Deadline, metadata and default account (catalog_id) of every call.
        address: The server's address, for error messages.
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = iam_pb2_grpc.IamServiceStub(channel)

    def _account(self, account: str | None) -> str:
        """The account a call names: the given one, else the client's default ("" = the
        caller's own)."""
        return self._options.catalog_id if account is None else account
