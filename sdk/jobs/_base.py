"""What every part of the jobs client shares: the stub, call options and error mapping."""

from __future__ import annotations

import grpc

from sluice.jobs.v1 import bookmarks_pb2_grpc, jobs_pb2_grpc
from sluice.sdk._calls import ServiceCalls
from sluice.sdk.config import ClientOptions


class JobsBase(ServiceCalls):
    """Holds the stubs of the JobService and JobBookmarkService and runs calls on them.

    Args:
        channel: An open channel to the server; the caller owns and closes it.
        options: Deadline and metadata of every call.
        address: The server's address, for error messages.
    """

    def __init__(self, channel: grpc.Channel, options: ClientOptions, address: str) -> None:
        super().__init__(options, address)
        self._stub = jobs_pb2_grpc.JobServiceStub(channel)
        self._bookmarks = bookmarks_pb2_grpc.JobBookmarkServiceStub(channel)
