from sluice.catalog.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateDatabaseRequest(_message.Message):
    __slots__ = ("catalog_id", "database_input", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_INPUT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_input: _types_pb2.DatabaseInput
    tags: _containers.ScalarMap[str, str]
    def __init__(self, catalog_id: _Optional[str] = ..., database_input: _Optional[_Union[_types_pb2.DatabaseInput, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateDatabaseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDatabaseRequest(_message.Message):
    __slots__ = ("catalog_id", "name")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    name: str
    def __init__(self, catalog_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetDatabaseResponse(_message.Message):
    __slots__ = ("database",)
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    database: _types_pb2.Database
    def __init__(self, database: _Optional[_Union[_types_pb2.Database, _Mapping]] = ...) -> None: ...

class GetDatabasesRequest(_message.Message):
    __slots__ = ("catalog_id", "next_token", "max_results", "segment")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    next_token: str
    max_results: int
    segment: _types_pb2.Segment
    def __init__(self, catalog_id: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ..., segment: _Optional[_Union[_types_pb2.Segment, _Mapping]] = ...) -> None: ...

class GetDatabasesResponse(_message.Message):
    __slots__ = ("database_list", "next_token")
    DATABASE_LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    database_list: _containers.RepeatedCompositeFieldContainer[_types_pb2.Database]
    next_token: str
    def __init__(self, database_list: _Optional[_Iterable[_Union[_types_pb2.Database, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class UpdateDatabaseRequest(_message.Message):
    __slots__ = ("catalog_id", "name", "database_input")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATABASE_INPUT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    name: str
    database_input: _types_pb2.DatabaseInput
    def __init__(self, catalog_id: _Optional[str] = ..., name: _Optional[str] = ..., database_input: _Optional[_Union[_types_pb2.DatabaseInput, _Mapping]] = ...) -> None: ...

class UpdateDatabaseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteDatabaseRequest(_message.Message):
    __slots__ = ("catalog_id", "name")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    name: str
    def __init__(self, catalog_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteDatabaseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateTableRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_input")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_INPUT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_input: _types_pb2.TableInput
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_input: _Optional[_Union[_types_pb2.TableInput, _Mapping]] = ...) -> None: ...

class CreateTableResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetTableRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "name")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    name: str
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetTableResponse(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: _types_pb2.Table
    def __init__(self, table: _Optional[_Union[_types_pb2.Table, _Mapping]] = ...) -> None: ...

class GetTablesRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "expression", "next_token", "max_results", "segment")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    expression: str
    next_token: str
    max_results: int
    segment: _types_pb2.Segment
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., expression: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ..., segment: _Optional[_Union[_types_pb2.Segment, _Mapping]] = ...) -> None: ...

class GetTablesResponse(_message.Message):
    __slots__ = ("table_list", "next_token")
    TABLE_LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    table_list: _containers.RepeatedCompositeFieldContainer[_types_pb2.Table]
    next_token: str
    def __init__(self, table_list: _Optional[_Iterable[_Union[_types_pb2.Table, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class UpdateTableRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_input", "skip_archive", "version_id")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_INPUT_FIELD_NUMBER: _ClassVar[int]
    SKIP_ARCHIVE_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_input: _types_pb2.TableInput
    skip_archive: bool
    version_id: str
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_input: _Optional[_Union[_types_pb2.TableInput, _Mapping]] = ..., skip_archive: _Optional[bool] = ..., version_id: _Optional[str] = ...) -> None: ...

class UpdateTableResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteTableRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "name")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    name: str
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteTableResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BatchDeleteTableRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "tables_to_delete")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLES_TO_DELETE_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    tables_to_delete: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., tables_to_delete: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchDeleteTableResponse(_message.Message):
    __slots__ = ("errors",)
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[_types_pb2.TableError]
    def __init__(self, errors: _Optional[_Iterable[_Union[_types_pb2.TableError, _Mapping]]] = ...) -> None: ...

class SearchTablesRequest(_message.Message):
    __slots__ = ("catalog_id", "next_token", "filters", "search_text", "sort_criteria", "max_results", "segment")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_TEXT_FIELD_NUMBER: _ClassVar[int]
    SORT_CRITERIA_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    next_token: str
    filters: _containers.RepeatedCompositeFieldContainer[_types_pb2.PropertyPredicate]
    search_text: str
    sort_criteria: _containers.RepeatedCompositeFieldContainer[_types_pb2.SortCriterion]
    max_results: int
    segment: _types_pb2.Segment
    def __init__(self, catalog_id: _Optional[str] = ..., next_token: _Optional[str] = ..., filters: _Optional[_Iterable[_Union[_types_pb2.PropertyPredicate, _Mapping]]] = ..., search_text: _Optional[str] = ..., sort_criteria: _Optional[_Iterable[_Union[_types_pb2.SortCriterion, _Mapping]]] = ..., max_results: _Optional[int] = ..., segment: _Optional[_Union[_types_pb2.Segment, _Mapping]] = ...) -> None: ...

class SearchTablesResponse(_message.Message):
    __slots__ = ("next_token", "table_list")
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TABLE_LIST_FIELD_NUMBER: _ClassVar[int]
    next_token: str
    table_list: _containers.RepeatedCompositeFieldContainer[_types_pb2.Table]
    def __init__(self, next_token: _Optional[str] = ..., table_list: _Optional[_Iterable[_Union[_types_pb2.Table, _Mapping]]] = ...) -> None: ...

class GetTableVersionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "version_id")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    version_id: str
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class GetTableVersionResponse(_message.Message):
    __slots__ = ("table_version",)
    TABLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    table_version: _types_pb2.TableVersion
    def __init__(self, table_version: _Optional[_Union[_types_pb2.TableVersion, _Mapping]] = ...) -> None: ...

class GetTableVersionsRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "next_token", "max_results", "segment")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    next_token: str
    max_results: int
    segment: _types_pb2.Segment
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ..., segment: _Optional[_Union[_types_pb2.Segment, _Mapping]] = ...) -> None: ...

class GetTableVersionsResponse(_message.Message):
    __slots__ = ("table_versions", "next_token")
    TABLE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    table_versions: _containers.RepeatedCompositeFieldContainer[_types_pb2.TableVersion]
    next_token: str
    def __init__(self, table_versions: _Optional[_Iterable[_Union[_types_pb2.TableVersion, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class DeleteTableVersionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "version_id")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    version_id: str
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class DeleteTableVersionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreatePartitionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "partition_input")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_INPUT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    partition_input: _types_pb2.PartitionInput
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., partition_input: _Optional[_Union[_types_pb2.PartitionInput, _Mapping]] = ...) -> None: ...

class CreatePartitionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BatchCreatePartitionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "partition_input_list")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_INPUT_LIST_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    partition_input_list: _containers.RepeatedCompositeFieldContainer[_types_pb2.PartitionInput]
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., partition_input_list: _Optional[_Iterable[_Union[_types_pb2.PartitionInput, _Mapping]]] = ...) -> None: ...

class BatchCreatePartitionResponse(_message.Message):
    __slots__ = ("errors",)
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[_types_pb2.PartitionError]
    def __init__(self, errors: _Optional[_Iterable[_Union[_types_pb2.PartitionError, _Mapping]]] = ...) -> None: ...

class GetPartitionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "partition_values")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_VALUES_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    partition_values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., partition_values: _Optional[_Iterable[str]] = ...) -> None: ...

class GetPartitionResponse(_message.Message):
    __slots__ = ("partition",)
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    partition: _types_pb2.Partition
    def __init__(self, partition: _Optional[_Union[_types_pb2.Partition, _Mapping]] = ...) -> None: ...

class GetPartitionsRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "expression", "next_token", "segment", "max_results", "exclude_column_schema")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_COLUMN_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    expression: str
    next_token: str
    segment: _types_pb2.Segment
    max_results: int
    exclude_column_schema: bool
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., expression: _Optional[str] = ..., next_token: _Optional[str] = ..., segment: _Optional[_Union[_types_pb2.Segment, _Mapping]] = ..., max_results: _Optional[int] = ..., exclude_column_schema: _Optional[bool] = ...) -> None: ...

class GetPartitionsResponse(_message.Message):
    __slots__ = ("partitions", "next_token")
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Partition]
    next_token: str
    def __init__(self, partitions: _Optional[_Iterable[_Union[_types_pb2.Partition, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class BatchGetPartitionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "partitions_to_get")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_TO_GET_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    partitions_to_get: _containers.RepeatedCompositeFieldContainer[_types_pb2.PartitionValueList]
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., partitions_to_get: _Optional[_Iterable[_Union[_types_pb2.PartitionValueList, _Mapping]]] = ...) -> None: ...

class BatchGetPartitionResponse(_message.Message):
    __slots__ = ("partitions", "unprocessed_keys")
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    UNPROCESSED_KEYS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Partition]
    unprocessed_keys: _containers.RepeatedCompositeFieldContainer[_types_pb2.PartitionValueList]
    def __init__(self, partitions: _Optional[_Iterable[_Union[_types_pb2.Partition, _Mapping]]] = ..., unprocessed_keys: _Optional[_Iterable[_Union[_types_pb2.PartitionValueList, _Mapping]]] = ...) -> None: ...

class UpdatePartitionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "partition_value_list", "partition_input")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_VALUE_LIST_FIELD_NUMBER: _ClassVar[int]
    PARTITION_INPUT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    partition_value_list: _containers.RepeatedScalarFieldContainer[str]
    partition_input: _types_pb2.PartitionInput
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., partition_value_list: _Optional[_Iterable[str]] = ..., partition_input: _Optional[_Union[_types_pb2.PartitionInput, _Mapping]] = ...) -> None: ...

class UpdatePartitionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BatchUpdatePartitionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "entries")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    entries: _containers.RepeatedCompositeFieldContainer[_types_pb2.BatchUpdatePartitionRequestEntry]
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[_types_pb2.BatchUpdatePartitionRequestEntry, _Mapping]]] = ...) -> None: ...

class BatchUpdatePartitionResponse(_message.Message):
    __slots__ = ("errors",)
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[_types_pb2.BatchUpdatePartitionFailureEntry]
    def __init__(self, errors: _Optional[_Iterable[_Union[_types_pb2.BatchUpdatePartitionFailureEntry, _Mapping]]] = ...) -> None: ...

class DeletePartitionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "partition_values")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_VALUES_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    partition_values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., partition_values: _Optional[_Iterable[str]] = ...) -> None: ...

class DeletePartitionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BatchDeletePartitionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "table_name", "partitions_to_delete")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_TO_DELETE_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    table_name: str
    partitions_to_delete: _containers.RepeatedCompositeFieldContainer[_types_pb2.PartitionValueList]
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., partitions_to_delete: _Optional[_Iterable[_Union[_types_pb2.PartitionValueList, _Mapping]]] = ...) -> None: ...

class BatchDeletePartitionResponse(_message.Message):
    __slots__ = ("errors",)
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[_types_pb2.PartitionError]
    def __init__(self, errors: _Optional[_Iterable[_Union[_types_pb2.PartitionError, _Mapping]]] = ...) -> None: ...

class CreateConnectionRequest(_message.Message):
    __slots__ = ("catalog_id", "connection_input", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_INPUT_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    connection_input: _types_pb2.ConnectionInput
    tags: _containers.ScalarMap[str, str]
    def __init__(self, catalog_id: _Optional[str] = ..., connection_input: _Optional[_Union[_types_pb2.ConnectionInput, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateConnectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetConnectionRequest(_message.Message):
    __slots__ = ("catalog_id", "name", "hide_password")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HIDE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    name: str
    hide_password: bool
    def __init__(self, catalog_id: _Optional[str] = ..., name: _Optional[str] = ..., hide_password: _Optional[bool] = ...) -> None: ...

class GetConnectionResponse(_message.Message):
    __slots__ = ("connection",)
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    connection: _types_pb2.Connection
    def __init__(self, connection: _Optional[_Union[_types_pb2.Connection, _Mapping]] = ...) -> None: ...

class GetConnectionsRequest(_message.Message):
    __slots__ = ("catalog_id", "filter", "hide_password", "next_token", "max_results", "segment")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    HIDE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    filter: _types_pb2.GetConnectionsFilter
    hide_password: bool
    next_token: str
    max_results: int
    segment: _types_pb2.Segment
    def __init__(self, catalog_id: _Optional[str] = ..., filter: _Optional[_Union[_types_pb2.GetConnectionsFilter, _Mapping]] = ..., hide_password: _Optional[bool] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ..., segment: _Optional[_Union[_types_pb2.Segment, _Mapping]] = ...) -> None: ...

class GetConnectionsResponse(_message.Message):
    __slots__ = ("connection_list", "next_token")
    CONNECTION_LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    connection_list: _containers.RepeatedCompositeFieldContainer[_types_pb2.Connection]
    next_token: str
    def __init__(self, connection_list: _Optional[_Iterable[_Union[_types_pb2.Connection, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class UpdateConnectionRequest(_message.Message):
    __slots__ = ("catalog_id", "name", "connection_input")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_INPUT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    name: str
    connection_input: _types_pb2.ConnectionInput
    def __init__(self, catalog_id: _Optional[str] = ..., name: _Optional[str] = ..., connection_input: _Optional[_Union[_types_pb2.ConnectionInput, _Mapping]] = ...) -> None: ...

class UpdateConnectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteConnectionRequest(_message.Message):
    __slots__ = ("catalog_id", "connection_name")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    connection_name: str
    def __init__(self, catalog_id: _Optional[str] = ..., connection_name: _Optional[str] = ...) -> None: ...

class DeleteConnectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateUserDefinedFunctionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "function_input")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_INPUT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    function_input: _types_pb2.UserDefinedFunctionInput
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., function_input: _Optional[_Union[_types_pb2.UserDefinedFunctionInput, _Mapping]] = ...) -> None: ...

class CreateUserDefinedFunctionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetUserDefinedFunctionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "function_name")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    function_name: str
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., function_name: _Optional[str] = ...) -> None: ...

class GetUserDefinedFunctionResponse(_message.Message):
    __slots__ = ("user_defined_function",)
    USER_DEFINED_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    user_defined_function: _types_pb2.UserDefinedFunction
    def __init__(self, user_defined_function: _Optional[_Union[_types_pb2.UserDefinedFunction, _Mapping]] = ...) -> None: ...

class GetUserDefinedFunctionsRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "pattern", "next_token", "max_results", "segment")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    pattern: str
    next_token: str
    max_results: int
    segment: _types_pb2.Segment
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., pattern: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ..., segment: _Optional[_Union[_types_pb2.Segment, _Mapping]] = ...) -> None: ...

class GetUserDefinedFunctionsResponse(_message.Message):
    __slots__ = ("user_defined_functions", "next_token")
    USER_DEFINED_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_defined_functions: _containers.RepeatedCompositeFieldContainer[_types_pb2.UserDefinedFunction]
    next_token: str
    def __init__(self, user_defined_functions: _Optional[_Iterable[_Union[_types_pb2.UserDefinedFunction, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class UpdateUserDefinedFunctionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "function_name", "function_input")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_INPUT_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    function_name: str
    function_input: _types_pb2.UserDefinedFunctionInput
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., function_name: _Optional[str] = ..., function_input: _Optional[_Union[_types_pb2.UserDefinedFunctionInput, _Mapping]] = ...) -> None: ...

class UpdateUserDefinedFunctionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteUserDefinedFunctionRequest(_message.Message):
    __slots__ = ("catalog_id", "database_name", "function_name")
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    catalog_id: str
    database_name: str
    function_name: str
    def __init__(self, catalog_id: _Optional[str] = ..., database_name: _Optional[str] = ..., function_name: _Optional[str] = ...) -> None: ...

class DeleteUserDefinedFunctionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
