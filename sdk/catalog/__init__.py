"""The Data Catalog part of the SDK."""

from __future__ import annotations

from sluice.sdk.catalog.connections import ConnectionsMixin
from sluice.sdk.catalog.databases import DatabasesMixin
from sluice.sdk.catalog.functions import FunctionsMixin
from sluice.sdk.catalog.partitions import PartitionsMixin
from sluice.sdk.catalog.tables import TablesMixin


class CatalogClient(DatabasesMixin, TablesMixin, PartitionsMixin, ConnectionsMixin, FunctionsMixin):
    """The Sluice Data Catalog: one method per CatalogService call.

    Inputs are generated messages or plain dicts of their fields (snake_case); results are
    generated messages. List methods return iterators that fetch pages as they go. Every
    method takes a keyword `catalog_id`, the account, defaulting to the client's.
    Failures raise the SluiceError subclass the server's error names.

    Obtain one from `Client.catalog`; it shares the client's channel.
    """


__all__ = ["CatalogClient"]
