"""The Sluice Python SDK: a typed client of the Sluice Data Catalog.

Example:
    >>> import sdk
    >>> with sdk.connect("localhost:50051") as client:  # doctest: +SKIP
    ...     client.catalog.create_database({"name": "sales"})
    ...     names = [db.name for db in client.catalog.get_databases()]
"""

from sdk.catalog import CatalogClient
from sdk.client import Client, connect
from sdk.config import ClientOptions
from sdk.errors import (
    AccessDenied,
    AlreadyExists,
    ConcurrentModification,
    DeadlineExceeded,
    EntityNotFound,
    IllegalState,
    InternalServiceError,
    InvalidInput,
    ResourceNumberLimitExceeded,
    SluiceError,
    Unauthenticated,
    Unavailable,
    from_rpc_error,
)

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "CatalogClient",
    "Client",
    "ClientOptions",
    "ConcurrentModification",
    "DeadlineExceeded",
    "EntityNotFound",
    "IllegalState",
    "InternalServiceError",
    "InvalidInput",
    "ResourceNumberLimitExceeded",
    "SluiceError",
    "Unauthenticated",
    "Unavailable",
    "connect",
    "from_rpc_error",
]
