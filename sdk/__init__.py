"""The Sluice Python SDK: a typed client of the Sluice Data Catalog and jobs.

Example:
    >>> import sdk
    >>> with sdk.connect("localhost:50051") as client:  # doctest: +SKIP
    ...     client.catalog.create_database({"name": "sales"})
    ...     names = [db.name for db in client.catalog.get_databases()]
    ...     run = client.jobs.wait_for_run("daily", client.jobs.start_run("daily"))
"""

from sluice.sdk.catalog import CatalogClient
from sluice.sdk.client import Client, connect
from sluice.sdk.config import ClientOptions
from sluice.sdk.errors import (
    AccessDenied,
    AlreadyExists,
    ConcurrentModification,
    ConcurrentRunsExceeded,
    DeadlineExceeded,
    EntityNotFound,
    IllegalState,
    InternalServiceError,
    InvalidInput,
    InvalidState,
    ResourceNumberLimitExceeded,
    RunWaitTimeout,
    SluiceError,
    Unauthenticated,
    Unavailable,
    from_rpc_error,
)
from sluice.sdk.jobs import JobsClient, LogTail, RunState, StopResult

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "CatalogClient",
    "Client",
    "ClientOptions",
    "ConcurrentModification",
    "ConcurrentRunsExceeded",
    "DeadlineExceeded",
    "EntityNotFound",
    "IllegalState",
    "InternalServiceError",
    "InvalidInput",
    "InvalidState",
    "JobsClient",
    "LogTail",
    "ResourceNumberLimitExceeded",
    "RunState",
    "RunWaitTimeout",
    "SluiceError",
    "StopResult",
    "Unauthenticated",
    "Unavailable",
    "connect",
    "from_rpc_error",
]
