"""The operations of the Data Catalog, independent of how they are stored.

Every method is scoped by catalog_id (the account). Names given to a store are normalised by it
(lower-case) and validated; errors are the domain errors of common.errors. Batch methods apply
every item they can and report the rest as per-item errors, as Glue does. List methods take a
PageRequest and return a Page whose next_token is opaque and tamper-checked.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from sluice.catalog.core.model import (
    BatchGetPartitionResult,
    BatchUpdatePartitionEntry,
    Connection,
    ConnectionInput,
    Database,
    DatabaseInput,
    GetConnectionsFilter,
    Partition,
    PartitionError,
    PartitionInput,
    PropertyPredicate,
    SortCriterion,
    Table,
    TableError,
    TableInput,
    TableVersion,
    UserDefinedFunction,
    UserDefinedFunctionInput,
)
from sluice.common.paging import Page, PageRequest


class CatalogStore(ABC):
    # Databases
    @abstractmethod
    def create_database(self, catalog_id: str, database_input: DatabaseInput) -> Database: ...

    @abstractmethod
    def get_database(self, catalog_id: str, name: str) -> Database: ...

    @abstractmethod
    def get_databases(self, catalog_id: str, page: PageRequest) -> Page[Database]: ...

    @abstractmethod
    def update_database(
        self, catalog_id: str, name: str, database_input: DatabaseInput
    ) -> Database: ...

    @abstractmethod
    def delete_database(self, catalog_id: str, name: str) -> None:
        """Removes the database with its tables, versions, partitions and functions."""

    # Tables
    @abstractmethod
    def create_table(
        self, catalog_id: str, database_name: str, table_input: TableInput, created_by: str = ""
    ) -> Table: ...

    @abstractmethod
    def get_table(self, catalog_id: str, database_name: str, name: str) -> Table: ...

    @abstractmethod
    def get_tables(
        self, catalog_id: str, database_name: str, expression: str, page: PageRequest
    ) -> Page[Table]:
        """expression: a regular expression over names, read as Glue and Hive read it
        (sluice.catalog.core.name_patterns: whole name, any case, a lone '*' for any characters)."""

    @abstractmethod
    def update_table(
        self,
        catalog_id: str,
        database_name: str,
        table_input: TableInput,
        *,
        version_id: str = "",
        skip_archive: bool = False,
    ) -> Table:
        """Writes a new version. With version_id, ConcurrentModification unless it is current.

        Without it, the update applies on top of whatever version is current: concurrent
        writers each get their own version, none is lost. skip_archive replaces the current
        version instead of keeping the old one in the history.
        """

    @abstractmethod
    def delete_table(self, catalog_id: str, database_name: str, name: str) -> None:
        """Removes the table with its partitions and versions."""

    @abstractmethod
    def batch_delete_table(
        self, catalog_id: str, database_name: str, names: Sequence[str]
    ) -> list[TableError]: ...

    @abstractmethod
    def search_tables(
        self,
        catalog_id: str,
        search_text: str,
        filters: Sequence[PropertyPredicate],
        sort_criteria: Sequence[SortCriterion],
        page: PageRequest,
    ) -> Page[Table]:
        """Tables of every database whose name, description, columns or parameters contain
        search_text (case-insensitive) and that pass every filter."""

    # Table versions
    @abstractmethod
    def get_table_version(
        self, catalog_id: str, database_name: str, table_name: str, version_id: str = ""
    ) -> TableVersion: ...

    @abstractmethod
    def get_table_versions(
        self, catalog_id: str, database_name: str, table_name: str, page: PageRequest
    ) -> Page[TableVersion]:
        """Newest first."""

    @abstractmethod
    def delete_table_version(
        self, catalog_id: str, database_name: str, table_name: str, version_id: str
    ) -> None:
        """The current version cannot be deleted (InvalidInput)."""

    @abstractmethod
    def prune_table_versions(
        self, keep: int, limit: int, created_before: datetime | None = None
    ) -> int:
        """Retention of table histories, across every catalog: deletes at most limit old
        versions in one transaction and returns how many (call again while it returns limit).

        A version goes when its table has `keep` or more versions numbered after it, or, with
        created_before, when it was made before that time. The current version of a table is
        never deleted, so keep must be at least 1.
        """

    # Partitions
    @abstractmethod
    def create_partition(
        self, catalog_id: str, database_name: str, table_name: str, partition_input: PartitionInput
    ) -> Partition: ...

    @abstractmethod
    def batch_create_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        partition_inputs: Sequence[PartitionInput],
    ) -> list[PartitionError]: ...

    @abstractmethod
    def get_partition(
        self, catalog_id: str, database_name: str, table_name: str, values: Sequence[str]
    ) -> Partition: ...

    @abstractmethod
    def get_partitions(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        expression: str,
        page: PageRequest,
    ) -> Page[Partition]:
        """expression: Glue's partition predicate language, compiled to an indexed query."""

    @abstractmethod
    def batch_get_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        values_list: Sequence[Sequence[str]],
    ) -> BatchGetPartitionResult: ...

    @abstractmethod
    def update_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        values: Sequence[str],
        partition_input: PartitionInput,
    ) -> Partition: ...

    @abstractmethod
    def batch_update_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        entries: Sequence[BatchUpdatePartitionEntry],
    ) -> list[tuple[tuple[str, ...], PartitionError]]:
        """Per-item failures as (the entry's partition_value_list, error)."""

    @abstractmethod
    def delete_partition(
        self, catalog_id: str, database_name: str, table_name: str, values: Sequence[str]
    ) -> None: ...

    @abstractmethod
    def batch_delete_partition(
        self,
        catalog_id: str,
        database_name: str,
        table_name: str,
        values_list: Sequence[Sequence[str]],
    ) -> list[PartitionError]: ...

    # Connections
    @abstractmethod
    def create_connection(
        self, catalog_id: str, connection_input: ConnectionInput, created_by: str = ""
    ) -> Connection: ...

    @abstractmethod
    def get_connection(self, catalog_id: str, name: str) -> Connection: ...

    @abstractmethod
    def get_connections(
        self, catalog_id: str, connection_filter: GetConnectionsFilter, page: PageRequest
    ) -> Page[Connection]: ...

    @abstractmethod
    def update_connection(
        self, catalog_id: str, name: str, connection_input: ConnectionInput, updated_by: str = ""
    ) -> Connection: ...

    @abstractmethod
    def delete_connection(self, catalog_id: str, name: str) -> None: ...

    # User-defined functions
    @abstractmethod
    def create_user_defined_function(
        self, catalog_id: str, database_name: str, function_input: UserDefinedFunctionInput
    ) -> UserDefinedFunction: ...

    @abstractmethod
    def get_user_defined_function(
        self, catalog_id: str, database_name: str, function_name: str
    ) -> UserDefinedFunction: ...

    @abstractmethod
    def get_user_defined_functions(
        self, catalog_id: str, database_name: str, pattern: str, page: PageRequest
    ) -> Page[UserDefinedFunction]:
        """database_name empty: every database of the catalog."""

    @abstractmethod
    def update_user_defined_function(
        self,
        catalog_id: str,
        database_name: str,
        function_name: str,
        function_input: UserDefinedFunctionInput,
    ) -> UserDefinedFunction: ...

    @abstractmethod
    def delete_user_defined_function(
        self, catalog_id: str, database_name: str, function_name: str
    ) -> None: ...
