"""The SQL implementation of CatalogStore, on SQLite or PostgreSQL through common.db.

Each resource's operations live in their own sql_* module; this class puts them together.
"""

from __future__ import annotations

from sluice.catalog.core.store.base import CatalogStore
from sluice.catalog.core.store.sql_base import CatalogQuotas, utc_now
from sluice.catalog.core.store.sql_connections import ConnectionOps
from sluice.catalog.core.store.sql_databases import DatabaseOps
from sluice.catalog.core.store.sql_functions import FunctionOps
from sluice.catalog.core.store.sql_partitions import PartitionOps
from sluice.catalog.core.store.sql_search import SearchOps
from sluice.catalog.core.store.sql_tables import TableOps
from sluice.catalog.core.store.sql_versions import TableVersionOps

__all__ = ["CatalogQuotas", "SqlCatalogStore", "utc_now"]


class SqlCatalogStore(
    DatabaseOps,
    TableOps,
    TableVersionOps,
    SearchOps,
    PartitionOps,
    ConnectionOps,
    FunctionOps,
    CatalogStore,
):
    """CatalogStore over SQL tables (sluice.catalog.core.store.rows), migrated by catalog.schema.

    Args:
        db: The database; its schema must be upgraded with catalog.schema.upgrade_schema.
        page_tokens: Signs and checks the next_tokens of list calls.
        clock: The current time, timezone-aware (a parameter so tests can fix it).
        secrets: Encrypts secret connection properties (common.redaction.is_secret_key) at rest
            and decrypts them on reading. Without it they are stored as given; values already
            encrypted then come back in their encrypted form.
        quotas: How many databases and tables an account may hold; a create beyond them fails
            with ResourceNumberLimitExceeded.
    """
