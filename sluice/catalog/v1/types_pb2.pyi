import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Comparator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPARATOR_UNSPECIFIED: _ClassVar[Comparator]
    COMPARATOR_EQUALS: _ClassVar[Comparator]
    COMPARATOR_GREATER_THAN: _ClassVar[Comparator]
    COMPARATOR_LESS_THAN: _ClassVar[Comparator]
    COMPARATOR_GREATER_THAN_EQUALS: _ClassVar[Comparator]
    COMPARATOR_LESS_THAN_EQUALS: _ClassVar[Comparator]

class SortDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SORT_DIRECTION_UNSPECIFIED: _ClassVar[SortDirection]
    SORT_DIRECTION_ASCENDING: _ClassVar[SortDirection]
    SORT_DIRECTION_DESCENDING: _ClassVar[SortDirection]

class PrincipalType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRINCIPAL_TYPE_UNSPECIFIED: _ClassVar[PrincipalType]
    PRINCIPAL_TYPE_USER: _ClassVar[PrincipalType]
    PRINCIPAL_TYPE_ROLE: _ClassVar[PrincipalType]
    PRINCIPAL_TYPE_GROUP: _ClassVar[PrincipalType]

class ResourceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOURCE_TYPE_UNSPECIFIED: _ClassVar[ResourceType]
    RESOURCE_TYPE_JAR: _ClassVar[ResourceType]
    RESOURCE_TYPE_FILE: _ClassVar[ResourceType]
    RESOURCE_TYPE_ARCHIVE: _ClassVar[ResourceType]
COMPARATOR_UNSPECIFIED: Comparator
COMPARATOR_EQUALS: Comparator
COMPARATOR_GREATER_THAN: Comparator
COMPARATOR_LESS_THAN: Comparator
COMPARATOR_GREATER_THAN_EQUALS: Comparator
COMPARATOR_LESS_THAN_EQUALS: Comparator
SORT_DIRECTION_UNSPECIFIED: SortDirection
SORT_DIRECTION_ASCENDING: SortDirection
SORT_DIRECTION_DESCENDING: SortDirection
PRINCIPAL_TYPE_UNSPECIFIED: PrincipalType
PRINCIPAL_TYPE_USER: PrincipalType
PRINCIPAL_TYPE_ROLE: PrincipalType
PRINCIPAL_TYPE_GROUP: PrincipalType
RESOURCE_TYPE_UNSPECIFIED: ResourceType
RESOURCE_TYPE_JAR: ResourceType
RESOURCE_TYPE_FILE: ResourceType
RESOURCE_TYPE_ARCHIVE: ResourceType

class Column(_message.Message):
    __slots__ = ("name", "type", "comment", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    comment: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., comment: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SerDeInfo(_message.Message):
    __slots__ = ("name", "serialization_library", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SERIALIZATION_LIBRARY_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    serialization_library: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., serialization_library: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("column", "sort_order")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
    column: str
    sort_order: int
    def __init__(self, column: _Optional[str] = ..., sort_order: _Optional[int] = ...) -> None: ...

class StorageDescriptor(_message.Message):
    __slots__ = ("columns", "location", "additional_locations", "input_format", "output_format", "compressed", "number_of_buckets", "serde_info", "bucket_columns", "sort_columns", "parameters", "stored_as_sub_directories")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_LOCATIONS_FIELD_NUMBER: _ClassVar[int]
    INPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    COMPRESSED_FIELD_NUMBER: _ClassVar[int]
    NUMBER_OF_BUCKETS_FIELD_NUMBER: _ClassVar[int]
    SERDE_INFO_FIELD_NUMBER: _ClassVar[int]
    BUCKET_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    SORT_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STORED_AS_SUB_DIRECTORIES_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    location: str
    additional_locations: _containers.RepeatedScalarFieldContainer[str]
    input_format: str
    output_format: str
    compressed: bool
    number_of_buckets: int
    serde_info: SerDeInfo
    bucket_columns: _containers.RepeatedScalarFieldContainer[str]
    sort_columns: _containers.RepeatedCompositeFieldContainer[Order]
    parameters: _containers.ScalarMap[str, str]
    stored_as_sub_directories: bool
    def __init__(self, columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., location: _Optional[str] = ..., additional_locations: _Optional[_Iterable[str]] = ..., input_format: _Optional[str] = ..., output_format: _Optional[str] = ..., compressed: _Optional[bool] = ..., number_of_buckets: _Optional[int] = ..., serde_info: _Optional[_Union[SerDeInfo, _Mapping]] = ..., bucket_columns: _Optional[_Iterable[str]] = ..., sort_columns: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., parameters: _Optional[_Mapping[str, str]] = ..., stored_as_sub_directories: _Optional[bool] = ...) -> None: ...

class DatabaseInput(_message.Message):
    __slots__ = ("name", "description", "location_uri", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LOCATION_URI_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    location_uri: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., location_uri: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Database(_message.Message):
    __slots__ = ("name", "description", "location_uri", "parameters", "create_time", "catalog_id")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LOCATION_URI_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    location_uri: str
    parameters: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    catalog_id: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., location_uri: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., catalog_id: _Optional[str] = ...) -> None: ...

class TableInput(_message.Message):
    __slots__ = ("name", "description", "owner", "last_access_time", "retention", "storage_descriptor", "partition_keys", "view_original_text", "view_expanded_text", "table_type", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LAST_ACCESS_TIME_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    STORAGE_DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEYS_FIELD_NUMBER: _ClassVar[int]
    VIEW_ORIGINAL_TEXT_FIELD_NUMBER: _ClassVar[int]
    VIEW_EXPANDED_TEXT_FIELD_NUMBER: _ClassVar[int]
    TABLE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    owner: str
    last_access_time: _timestamp_pb2.Timestamp
    retention: int
    storage_descriptor: StorageDescriptor
    partition_keys: _containers.RepeatedCompositeFieldContainer[Column]
    view_original_text: str
    view_expanded_text: str
    table_type: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., last_access_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retention: _Optional[int] = ..., storage_descriptor: _Optional[_Union[StorageDescriptor, _Mapping]] = ..., partition_keys: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., view_original_text: _Optional[str] = ..., view_expanded_text: _Optional[str] = ..., table_type: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Table(_message.Message):
    __slots__ = ("name", "database_name", "description", "owner", "create_time", "update_time", "last_access_time", "retention", "storage_descriptor", "partition_keys", "view_original_text", "view_expanded_text", "table_type", "parameters", "created_by", "catalog_id", "version_id")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACCESS_TIME_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    STORAGE_DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEYS_FIELD_NUMBER: _ClassVar[int]
    VIEW_ORIGINAL_TEXT_FIELD_NUMBER: _ClassVar[int]
    VIEW_EXPANDED_TEXT_FIELD_NUMBER: _ClassVar[int]
    TABLE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    database_name: str
    description: str
    owner: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    last_access_time: _timestamp_pb2.Timestamp
    retention: int
    storage_descriptor: StorageDescriptor
    partition_keys: _containers.RepeatedCompositeFieldContainer[Column]
    view_original_text: str
    view_expanded_text: str
    table_type: str
    parameters: _containers.ScalarMap[str, str]
    created_by: str
    catalog_id: str
    version_id: str
    def __init__(self, name: _Optional[str] = ..., database_name: _Optional[str] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_access_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retention: _Optional[int] = ..., storage_descriptor: _Optional[_Union[StorageDescriptor, _Mapping]] = ..., partition_keys: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., view_original_text: _Optional[str] = ..., view_expanded_text: _Optional[str] = ..., table_type: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., created_by: _Optional[str] = ..., catalog_id: _Optional[str] = ..., version_id: _Optional[str] = ...) -> None: ...

class TableVersion(_message.Message):
    __slots__ = ("table", "version_id")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    table: Table
    version_id: str
    def __init__(self, table: _Optional[_Union[Table, _Mapping]] = ..., version_id: _Optional[str] = ...) -> None: ...

class PartitionInput(_message.Message):
    __slots__ = ("values", "last_access_time", "storage_descriptor", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    LAST_ACCESS_TIME_FIELD_NUMBER: _ClassVar[int]
    STORAGE_DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    last_access_time: _timestamp_pb2.Timestamp
    storage_descriptor: StorageDescriptor
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, values: _Optional[_Iterable[str]] = ..., last_access_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., storage_descriptor: _Optional[_Union[StorageDescriptor, _Mapping]] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Partition(_message.Message):
    __slots__ = ("values", "database_name", "table_name", "creation_time", "last_access_time", "storage_descriptor", "parameters", "catalog_id")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACCESS_TIME_FIELD_NUMBER: _ClassVar[int]
    STORAGE_DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    database_name: str
    table_name: str
    creation_time: _timestamp_pb2.Timestamp
    last_access_time: _timestamp_pb2.Timestamp
    storage_descriptor: StorageDescriptor
    parameters: _containers.ScalarMap[str, str]
    catalog_id: str
    def __init__(self, values: _Optional[_Iterable[str]] = ..., database_name: _Optional[str] = ..., table_name: _Optional[str] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_access_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., storage_descriptor: _Optional[_Union[StorageDescriptor, _Mapping]] = ..., parameters: _Optional[_Mapping[str, str]] = ..., catalog_id: _Optional[str] = ...) -> None: ...

class PartitionValueList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("error_code", "error_message")
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    error_code: str
    error_message: str
    def __init__(self, error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class PartitionError(_message.Message):
    __slots__ = ("partition_values", "error_detail")
    PARTITION_VALUES_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAIL_FIELD_NUMBER: _ClassVar[int]
    partition_values: _containers.RepeatedScalarFieldContainer[str]
    error_detail: ErrorDetail
    def __init__(self, partition_values: _Optional[_Iterable[str]] = ..., error_detail: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class TableError(_message.Message):
    __slots__ = ("table_name", "error_detail")
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAIL_FIELD_NUMBER: _ClassVar[int]
    table_name: str
    error_detail: ErrorDetail
    def __init__(self, table_name: _Optional[str] = ..., error_detail: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class TableVersionError(_message.Message):
    __slots__ = ("table_name", "version_id", "error_detail")
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAIL_FIELD_NUMBER: _ClassVar[int]
    table_name: str
    version_id: str
    error_detail: ErrorDetail
    def __init__(self, table_name: _Optional[str] = ..., version_id: _Optional[str] = ..., error_detail: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("segment_number", "total_segments")
    SEGMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    segment_number: int
    total_segments: int
    def __init__(self, segment_number: _Optional[int] = ..., total_segments: _Optional[int] = ...) -> None: ...

class BatchUpdatePartitionRequestEntry(_message.Message):
    __slots__ = ("partition_value_list", "partition_input")
    PARTITION_VALUE_LIST_FIELD_NUMBER: _ClassVar[int]
    PARTITION_INPUT_FIELD_NUMBER: _ClassVar[int]
    partition_value_list: _containers.RepeatedScalarFieldContainer[str]
    partition_input: PartitionInput
    def __init__(self, partition_value_list: _Optional[_Iterable[str]] = ..., partition_input: _Optional[_Union[PartitionInput, _Mapping]] = ...) -> None: ...

class BatchUpdatePartitionFailureEntry(_message.Message):
    __slots__ = ("partition_value_list", "error_detail")
    PARTITION_VALUE_LIST_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAIL_FIELD_NUMBER: _ClassVar[int]
    partition_value_list: _containers.RepeatedScalarFieldContainer[str]
    error_detail: ErrorDetail
    def __init__(self, partition_value_list: _Optional[_Iterable[str]] = ..., error_detail: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class PropertyPredicate(_message.Message):
    __slots__ = ("key", "value", "comparator")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COMPARATOR_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    comparator: Comparator
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., comparator: _Optional[_Union[Comparator, str]] = ...) -> None: ...

class SortCriterion(_message.Message):
    __slots__ = ("field_name", "sort")
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    field_name: str
    sort: SortDirection
    def __init__(self, field_name: _Optional[str] = ..., sort: _Optional[_Union[SortDirection, str]] = ...) -> None: ...

class PhysicalConnectionRequirements(_message.Message):
    __slots__ = ("subnet_id", "security_group_id_list", "availability_zone")
    SUBNET_ID_FIELD_NUMBER: _ClassVar[int]
    SECURITY_GROUP_ID_LIST_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_ZONE_FIELD_NUMBER: _ClassVar[int]
    subnet_id: str
    security_group_id_list: _containers.RepeatedScalarFieldContainer[str]
    availability_zone: str
    def __init__(self, subnet_id: _Optional[str] = ..., security_group_id_list: _Optional[_Iterable[str]] = ..., availability_zone: _Optional[str] = ...) -> None: ...

class ConnectionInput(_message.Message):
    __slots__ = ("name", "description", "connection_type", "match_criteria", "connection_properties", "physical_connection_requirements")
    class ConnectionPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    MATCH_CRITERIA_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_CONNECTION_REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    connection_type: str
    match_criteria: _containers.RepeatedScalarFieldContainer[str]
    connection_properties: _containers.ScalarMap[str, str]
    physical_connection_requirements: PhysicalConnectionRequirements
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., connection_type: _Optional[str] = ..., match_criteria: _Optional[_Iterable[str]] = ..., connection_properties: _Optional[_Mapping[str, str]] = ..., physical_connection_requirements: _Optional[_Union[PhysicalConnectionRequirements, _Mapping]] = ...) -> None: ...

class Connection(_message.Message):
    __slots__ = ("name", "description", "connection_type", "match_criteria", "connection_properties", "physical_connection_requirements", "creation_time", "last_updated_time", "last_updated_by", "catalog_id")
    class ConnectionPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    MATCH_CRITERIA_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_CONNECTION_REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    connection_type: str
    match_criteria: _containers.RepeatedScalarFieldContainer[str]
    connection_properties: _containers.ScalarMap[str, str]
    physical_connection_requirements: PhysicalConnectionRequirements
    creation_time: _timestamp_pb2.Timestamp
    last_updated_time: _timestamp_pb2.Timestamp
    last_updated_by: str
    catalog_id: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., connection_type: _Optional[str] = ..., match_criteria: _Optional[_Iterable[str]] = ..., connection_properties: _Optional[_Mapping[str, str]] = ..., physical_connection_requirements: _Optional[_Union[PhysicalConnectionRequirements, _Mapping]] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated_by: _Optional[str] = ..., catalog_id: _Optional[str] = ...) -> None: ...

class GetConnectionsFilter(_message.Message):
    __slots__ = ("match_criteria", "connection_type")
    MATCH_CRITERIA_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    match_criteria: _containers.RepeatedScalarFieldContainer[str]
    connection_type: str
    def __init__(self, match_criteria: _Optional[_Iterable[str]] = ..., connection_type: _Optional[str] = ...) -> None: ...

class ResourceUri(_message.Message):
    __slots__ = ("resource_type", "uri")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    resource_type: ResourceType
    uri: str
    def __init__(self, resource_type: _Optional[_Union[ResourceType, str]] = ..., uri: _Optional[str] = ...) -> None: ...

class UserDefinedFunctionInput(_message.Message):
    __slots__ = ("function_name", "class_name", "owner_name", "owner_type", "resource_uris")
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_URIS_FIELD_NUMBER: _ClassVar[int]
    function_name: str
    class_name: str
    owner_name: str
    owner_type: PrincipalType
    resource_uris: _containers.RepeatedCompositeFieldContainer[ResourceUri]
    def __init__(self, function_name: _Optional[str] = ..., class_name: _Optional[str] = ..., owner_name: _Optional[str] = ..., owner_type: _Optional[_Union[PrincipalType, str]] = ..., resource_uris: _Optional[_Iterable[_Union[ResourceUri, _Mapping]]] = ...) -> None: ...

class UserDefinedFunction(_message.Message):
    __slots__ = ("function_name", "database_name", "class_name", "owner_name", "owner_type", "create_time", "resource_uris", "catalog_id")
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_URIS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_ID_FIELD_NUMBER: _ClassVar[int]
    function_name: str
    database_name: str
    class_name: str
    owner_name: str
    owner_type: PrincipalType
    create_time: _timestamp_pb2.Timestamp
    resource_uris: _containers.RepeatedCompositeFieldContainer[ResourceUri]
    catalog_id: str
    def __init__(self, function_name: _Optional[str] = ..., database_name: _Optional[str] = ..., class_name: _Optional[str] = ..., owner_name: _Optional[str] = ..., owner_type: _Optional[_Union[PrincipalType, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resource_uris: _Optional[_Iterable[_Union[ResourceUri, _Mapping]]] = ..., catalog_id: _Optional[str] = ...) -> None: ...
