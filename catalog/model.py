"""Domain objects of the Data Catalog: what stores return and take. Plain, frozen, no ORM.

Inputs (`*Input`) are what a caller writes; the others are what the catalog returns. Times are
timezone-aware UTC datetimes. Names are already normalised (lower-case) when they leave a store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

Params = Mapping[str, str]

DEFAULT_CATALOG_ID = "000000000000"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = ""
    comment: str = ""
    parameters: Params = field(default_factory=dict)


@dataclass(frozen=True)
class SerDeInfo:
    name: str = ""
    serialization_library: str = ""
    parameters: Params = field(default_factory=dict)


@dataclass(frozen=True)
class Order:
    column: str
    sort_order: int = 1


@dataclass(frozen=True)
class StorageDescriptor:
    columns: tuple[Column, ...] = ()
    location: str = ""
    additional_locations: tuple[str, ...] = ()
    input_format: str = ""
    output_format: str = ""
    compressed: bool = False
    number_of_buckets: int = 0
    serde_info: SerDeInfo | None = None
    bucket_columns: tuple[str, ...] = ()
    sort_columns: tuple[Order, ...] = ()
    parameters: Params = field(default_factory=dict)
    stored_as_sub_directories: bool = False


@dataclass(frozen=True)
class DatabaseInput:
    name: str
    description: str = ""
    location_uri: str = ""
    parameters: Params = field(default_factory=dict)


@dataclass(frozen=True)
class Database:
    name: str
    catalog_id: str
    create_time: datetime
    description: str = ""
    location_uri: str = ""
    parameters: Params = field(default_factory=dict)


@dataclass(frozen=True)
class TableInput:
    name: str
    description: str = ""
    owner: str = ""
    last_access_time: datetime | None = None
    retention: int = 0
    storage_descriptor: StorageDescriptor | None = None
    partition_keys: tuple[Column, ...] = ()
    view_original_text: str = ""
    view_expanded_text: str = ""
    table_type: str = ""
    parameters: Params = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    name: str
    database_name: str
    catalog_id: str
    create_time: datetime
    update_time: datetime
    version_id: str
    description: str = ""
    owner: str = ""
    last_access_time: datetime | None = None
    retention: int = 0
    storage_descriptor: StorageDescriptor | None = None
    partition_keys: tuple[Column, ...] = ()
    view_original_text: str = ""
    view_expanded_text: str = ""
    table_type: str = ""
    parameters: Params = field(default_factory=dict)
    created_by: str = ""


@dataclass(frozen=True)
class TableVersion:
    table: Table
    version_id: str


@dataclass(frozen=True)
class PartitionInput:
    values: tuple[str, ...]
    last_access_time: datetime | None = None
    storage_descriptor: StorageDescriptor | None = None
    parameters: Params = field(default_factory=dict)


@dataclass(frozen=True)
class Partition:
    values: tuple[str, ...]
    database_name: str
    table_name: str
    catalog_id: str
    creation_time: datetime
    last_access_time: datetime | None = None
    storage_descriptor: StorageDescriptor | None = None
    parameters: Params = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorDetail:
    """A per-item failure of a batch call, as Glue reports it."""

    error_code: str
    error_message: str


@dataclass(frozen=True)
class PartitionError:
    partition_values: tuple[str, ...]
    error_detail: ErrorDetail


@dataclass(frozen=True)
class TableError:
    table_name: str
    error_detail: ErrorDetail


@dataclass(frozen=True)
class BatchUpdatePartitionEntry:
    partition_value_list: tuple[str, ...]
    partition_input: PartitionInput


@dataclass(frozen=True)
class BatchGetPartitionResult:
    partitions: tuple[Partition, ...]
    unprocessed_keys: tuple[tuple[str, ...], ...] = ()


class Comparator(StrEnum):
    EQUALS = "EQUALS"
    GREATER_THAN = "GREATER_THAN"
    LESS_THAN = "LESS_THAN"
    GREATER_THAN_EQUALS = "GREATER_THAN_EQUALS"
    LESS_THAN_EQUALS = "LESS_THAN_EQUALS"


@dataclass(frozen=True)
class PropertyPredicate:
    """A SearchTables filter. key: database_name, name, owner, table_type, description, or a
    table parameter name."""

    key: str
    value: str
    comparator: Comparator = Comparator.EQUALS


@dataclass(frozen=True)
class SortCriterion:
    """field_name: name, database_name, owner, table_type, update_time or create_time."""

    field_name: str
    ascending: bool = True


@dataclass(frozen=True)
class PhysicalConnectionRequirements:
    subnet_id: str = ""
    security_group_id_list: tuple[str, ...] = ()
    availability_zone: str = ""


CONNECTION_TYPES = frozenset(
    {"JDBC", "SFTP", "MONGODB", "KAFKA", "NETWORK", "MARKETPLACE", "CUSTOM"}
)


@dataclass(frozen=True)
class ConnectionInput:
    name: str
    connection_type: str
    description: str = ""
    match_criteria: tuple[str, ...] = ()
    connection_properties: Params = field(default_factory=dict)
    physical_connection_requirements: PhysicalConnectionRequirements | None = None


@dataclass(frozen=True)
class Connection:
    name: str
    catalog_id: str
    connection_type: str
    creation_time: datetime
    last_updated_time: datetime
    description: str = ""
    match_criteria: tuple[str, ...] = ()
    connection_properties: Params = field(default_factory=dict)
    physical_connection_requirements: PhysicalConnectionRequirements | None = None
    last_updated_by: str = ""


@dataclass(frozen=True)
class GetConnectionsFilter:
    match_criteria: tuple[str, ...] = ()
    connection_type: str = ""


class PrincipalType(StrEnum):
    USER = "USER"
    ROLE = "ROLE"
    GROUP = "GROUP"


class ResourceType(StrEnum):
    JAR = "JAR"
    FILE = "FILE"
    ARCHIVE = "ARCHIVE"


@dataclass(frozen=True)
class ResourceUri:
    resource_type: ResourceType
    uri: str


@dataclass(frozen=True)
class UserDefinedFunctionInput:
    function_name: str
    class_name: str
    owner_name: str = ""
    owner_type: PrincipalType = PrincipalType.USER
    resource_uris: tuple[ResourceUri, ...] = ()


@dataclass(frozen=True)
class UserDefinedFunction:
    function_name: str
    database_name: str
    catalog_id: str
    class_name: str
    create_time: datetime
    owner_name: str = ""
    owner_type: PrincipalType = PrincipalType.USER
    resource_uris: tuple[ResourceUri, ...] = ()
