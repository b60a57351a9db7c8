"""What every part of the jobs client shares: the stub, call options and error mapping."""

from __future__ import annotations

import grpc

from sdk._calls import ServiceCalls
from sdk.config import ClientOptions
from sluice.jobs.v1 import jobs_pb2_grpc


class JobsBase(ServiceCalls):
    """Holds the stub of the JobService and runs calls on it.

    Args:
        channel: An open channel to the server; the caller owns and closes it.
        options: Deadline and metadata of every call.
        address: The server's address, for error messages.
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = jobs_pb2_grpc.JobServiceStub(channel)
