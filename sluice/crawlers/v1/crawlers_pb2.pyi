import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CrawlerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CRAWLER_STATE_UNSPECIFIED: _ClassVar[CrawlerState]
    CRAWLER_STATE_READY: _ClassVar[CrawlerState]
    CRAWLER_STATE_RUNNING: _ClassVar[CrawlerState]
    CRAWLER_STATE_STOPPING: _ClassVar[CrawlerState]

class CrawlState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CRAWL_STATE_UNSPECIFIED: _ClassVar[CrawlState]
    CRAWL_STATE_RUNNING: _ClassVar[CrawlState]
    CRAWL_STATE_COMPLETED: _ClassVar[CrawlState]
    CRAWL_STATE_FAILED: _ClassVar[CrawlState]
    CRAWL_STATE_STOPPED: _ClassVar[CrawlState]

class LastCrawlStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LAST_CRAWL_STATUS_UNSPECIFIED: _ClassVar[LastCrawlStatus]
    LAST_CRAWL_STATUS_SUCCEEDED: _ClassVar[LastCrawlStatus]
    LAST_CRAWL_STATUS_CANCELLED: _ClassVar[LastCrawlStatus]
    LAST_CRAWL_STATUS_FAILED: _ClassVar[LastCrawlStatus]

class UpdateBehavior(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPDATE_BEHAVIOR_UNSPECIFIED: _ClassVar[UpdateBehavior]
    UPDATE_BEHAVIOR_LOG: _ClassVar[UpdateBehavior]
    UPDATE_BEHAVIOR_UPDATE_IN_DATABASE: _ClassVar[UpdateBehavior]

class DeleteBehavior(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELETE_BEHAVIOR_UNSPECIFIED: _ClassVar[DeleteBehavior]
    DELETE_BEHAVIOR_LOG: _ClassVar[DeleteBehavior]
    DELETE_BEHAVIOR_DELETE_FROM_DATABASE: _ClassVar[DeleteBehavior]
    DELETE_BEHAVIOR_DEPRECATE_IN_DATABASE: _ClassVar[DeleteBehavior]

class RecrawlBehavior(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECRAWL_BEHAVIOR_UNSPECIFIED: _ClassVar[RecrawlBehavior]
    RECRAWL_BEHAVIOR_CRAWL_EVERYTHING: _ClassVar[RecrawlBehavior]
    RECRAWL_BEHAVIOR_CRAWL_NEW_FOLDERS_ONLY: _ClassVar[RecrawlBehavior]
    RECRAWL_BEHAVIOR_CRAWL_EVENT_MODE: _ClassVar[RecrawlBehavior]

class ScheduleState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCHEDULE_STATE_UNSPECIFIED: _ClassVar[ScheduleState]
    SCHEDULE_STATE_SCHEDULED: _ClassVar[ScheduleState]
    SCHEDULE_STATE_NOT_SCHEDULED: _ClassVar[ScheduleState]
    SCHEDULE_STATE_TRANSITIONING: _ClassVar[ScheduleState]

class CsvHeaderOption(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CSV_HEADER_OPTION_UNSPECIFIED: _ClassVar[CsvHeaderOption]
    CSV_HEADER_OPTION_UNKNOWN: _ClassVar[CsvHeaderOption]
    CSV_HEADER_OPTION_PRESENT: _ClassVar[CsvHeaderOption]
    CSV_HEADER_OPTION_ABSENT: _ClassVar[CsvHeaderOption]

class FieldName(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIELD_NAME_UNSPECIFIED: _ClassVar[FieldName]
    FIELD_NAME_CRAWL_ID: _ClassVar[FieldName]
    FIELD_NAME_STATE: _ClassVar[FieldName]
    FIELD_NAME_START_TIME: _ClassVar[FieldName]
    FIELD_NAME_END_TIME: _ClassVar[FieldName]
    FIELD_NAME_DPU_HOUR: _ClassVar[FieldName]

class FilterOperator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILTER_OPERATOR_UNSPECIFIED: _ClassVar[FilterOperator]
    FILTER_OPERATOR_GT: _ClassVar[FilterOperator]
    FILTER_OPERATOR_GE: _ClassVar[FilterOperator]
    FILTER_OPERATOR_LT: _ClassVar[FilterOperator]
    FILTER_OPERATOR_LE: _ClassVar[FilterOperator]
    FILTER_OPERATOR_EQ: _ClassVar[FilterOperator]
    FILTER_OPERATOR_NE: _ClassVar[FilterOperator]
CRAWLER_STATE_UNSPECIFIED: CrawlerState
CRAWLER_STATE_READY: CrawlerState
CRAWLER_STATE_RUNNING: CrawlerState
CRAWLER_STATE_STOPPING: CrawlerState
CRAWL_STATE_UNSPECIFIED: CrawlState
CRAWL_STATE_RUNNING: CrawlState
CRAWL_STATE_COMPLETED: CrawlState
CRAWL_STATE_FAILED: CrawlState
CRAWL_STATE_STOPPED: CrawlState
LAST_CRAWL_STATUS_UNSPECIFIED: LastCrawlStatus
LAST_CRAWL_STATUS_SUCCEEDED: LastCrawlStatus
LAST_CRAWL_STATUS_CANCELLED: LastCrawlStatus
LAST_CRAWL_STATUS_FAILED: LastCrawlStatus
UPDATE_BEHAVIOR_UNSPECIFIED: UpdateBehavior
UPDATE_BEHAVIOR_LOG: UpdateBehavior
UPDATE_BEHAVIOR_UPDATE_IN_DATABASE: UpdateBehavior
DELETE_BEHAVIOR_UNSPECIFIED: DeleteBehavior
DELETE_BEHAVIOR_LOG: DeleteBehavior
DELETE_BEHAVIOR_DELETE_FROM_DATABASE: DeleteBehavior
DELETE_BEHAVIOR_DEPRECATE_IN_DATABASE: DeleteBehavior
RECRAWL_BEHAVIOR_UNSPECIFIED: RecrawlBehavior
RECRAWL_BEHAVIOR_CRAWL_EVERYTHING: RecrawlBehavior
RECRAWL_BEHAVIOR_CRAWL_NEW_FOLDERS_ONLY: RecrawlBehavior
RECRAWL_BEHAVIOR_CRAWL_EVENT_MODE: RecrawlBehavior
SCHEDULE_STATE_UNSPECIFIED: ScheduleState
SCHEDULE_STATE_SCHEDULED: ScheduleState
SCHEDULE_STATE_NOT_SCHEDULED: ScheduleState
SCHEDULE_STATE_TRANSITIONING: ScheduleState
CSV_HEADER_OPTION_UNSPECIFIED: CsvHeaderOption
CSV_HEADER_OPTION_UNKNOWN: CsvHeaderOption
CSV_HEADER_OPTION_PRESENT: CsvHeaderOption
CSV_HEADER_OPTION_ABSENT: CsvHeaderOption
FIELD_NAME_UNSPECIFIED: FieldName
FIELD_NAME_CRAWL_ID: FieldName
FIELD_NAME_STATE: FieldName
FIELD_NAME_START_TIME: FieldName
FIELD_NAME_END_TIME: FieldName
FIELD_NAME_DPU_HOUR: FieldName
FILTER_OPERATOR_UNSPECIFIED: FilterOperator
FILTER_OPERATOR_GT: FilterOperator
FILTER_OPERATOR_GE: FilterOperator
FILTER_OPERATOR_LT: FilterOperator
FILTER_OPERATOR_LE: FilterOperator
FILTER_OPERATOR_EQ: FilterOperator
FILTER_OPERATOR_NE: FilterOperator

class S3Target(_message.Message):
    __slots__ = ("path", "exclusions", "connection_name", "sample_size")
    PATH_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIONS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    path: str
    exclusions: _containers.RepeatedScalarFieldContainer[str]
    connection_name: str
    sample_size: int
    def __init__(self, path: _Optional[str] = ..., exclusions: _Optional[_Iterable[str]] = ..., connection_name: _Optional[str] = ..., sample_size: _Optional[int] = ...) -> None: ...

class JdbcTarget(_message.Message):
    __slots__ = ("connection_name", "path", "exclusions")
    CONNECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIONS_FIELD_NUMBER: _ClassVar[int]
    connection_name: str
    path: str
    exclusions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, connection_name: _Optional[str] = ..., path: _Optional[str] = ..., exclusions: _Optional[_Iterable[str]] = ...) -> None: ...

class CatalogTarget(_message.Message):
    __slots__ = ("database_name", "tables", "connection_name")
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    database_name: str
    tables: _containers.RepeatedScalarFieldContainer[str]
    connection_name: str
    def __init__(self, database_name: _Optional[str] = ..., tables: _Optional[_Iterable[str]] = ..., connection_name: _Optional[str] = ...) -> None: ...

class CrawlerTargets(_message.Message):
    __slots__ = ("s3_targets", "jdbc_targets", "catalog_targets")
    S3_TARGETS_FIELD_NUMBER: _ClassVar[int]
    JDBC_TARGETS_FIELD_NUMBER: _ClassVar[int]
    CATALOG_TARGETS_FIELD_NUMBER: _ClassVar[int]
    s3_targets: _containers.RepeatedCompositeFieldContainer[S3Target]
    jdbc_targets: _containers.RepeatedCompositeFieldContainer[JdbcTarget]
    catalog_targets: _containers.RepeatedCompositeFieldContainer[CatalogTarget]
    def __init__(self, s3_targets: _Optional[_Iterable[_Union[S3Target, _Mapping]]] = ..., jdbc_targets: _Optional[_Iterable[_Union[JdbcTarget, _Mapping]]] = ..., catalog_targets: _Optional[_Iterable[_Union[CatalogTarget, _Mapping]]] = ...) -> None: ...

class SchemaChangePolicy(_message.Message):
    __slots__ = ("update_behavior", "delete_behavior")
    UPDATE_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    DELETE_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    update_behavior: UpdateBehavior
    delete_behavior: DeleteBehavior
    def __init__(self, update_behavior: _Optional[_Union[UpdateBehavior, str]] = ..., delete_behavior: _Optional[_Union[DeleteBehavior, str]] = ...) -> None: ...

class RecrawlPolicy(_message.Message):
    __slots__ = ("recrawl_behavior",)
    RECRAWL_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    recrawl_behavior: RecrawlBehavior
    def __init__(self, recrawl_behavior: _Optional[_Union[RecrawlBehavior, str]] = ...) -> None: ...

class Schedule(_message.Message):
    __slots__ = ("schedule_expression", "state")
    SCHEDULE_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    schedule_expression: str
    state: ScheduleState
    def __init__(self, schedule_expression: _Optional[str] = ..., state: _Optional[_Union[ScheduleState, str]] = ...) -> None: ...

class LastCrawlInfo(_message.Message):
    __slots__ = ("status", "error_message", "message_prefix", "start_time")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    status: LastCrawlStatus
    error_message: str
    message_prefix: str
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[LastCrawlStatus, str]] = ..., error_message: _Optional[str] = ..., message_prefix: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Crawler(_message.Message):
    __slots__ = ("name", "role", "targets", "database_name", "description", "classifiers", "recrawl_policy", "schema_change_policy", "state", "table_prefix", "schedule", "crawl_elapsed_time", "creation_time", "last_updated", "last_crawl", "version", "configuration")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIERS_FIELD_NUMBER: _ClassVar[int]
    RECRAWL_POLICY_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_CHANGE_POLICY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TABLE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    CRAWL_ELAPSED_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_FIELD_NUMBER: _ClassVar[int]
    LAST_CRAWL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    targets: CrawlerTargets
    database_name: str
    description: str
    classifiers: _containers.RepeatedScalarFieldContainer[str]
    recrawl_policy: RecrawlPolicy
    schema_change_policy: SchemaChangePolicy
    state: CrawlerState
    table_prefix: str
    schedule: Schedule
    crawl_elapsed_time: int
    creation_time: _timestamp_pb2.Timestamp
    last_updated: _timestamp_pb2.Timestamp
    last_crawl: LastCrawlInfo
    version: int
    configuration: str
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., targets: _Optional[_Union[CrawlerTargets, _Mapping]] = ..., database_name: _Optional[str] = ..., description: _Optional[str] = ..., classifiers: _Optional[_Iterable[str]] = ..., recrawl_policy: _Optional[_Union[RecrawlPolicy, _Mapping]] = ..., schema_change_policy: _Optional[_Union[SchemaChangePolicy, _Mapping]] = ..., state: _Optional[_Union[CrawlerState, str]] = ..., table_prefix: _Optional[str] = ..., schedule: _Optional[_Union[Schedule, _Mapping]] = ..., crawl_elapsed_time: _Optional[int] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_crawl: _Optional[_Union[LastCrawlInfo, _Mapping]] = ..., version: _Optional[int] = ..., configuration: _Optional[str] = ...) -> None: ...

class CreateCrawlerRequest(_message.Message):
    __slots__ = ("name", "role", "database_name", "description", "targets", "schedule", "classifiers", "table_prefix", "schema_change_policy", "recrawl_policy", "configuration", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIERS_FIELD_NUMBER: _ClassVar[int]
    TABLE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_CHANGE_POLICY_FIELD_NUMBER: _ClassVar[int]
    RECRAWL_POLICY_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    database_name: str
    description: str
    targets: CrawlerTargets
    schedule: str
    classifiers: _containers.RepeatedScalarFieldContainer[str]
    table_prefix: str
    schema_change_policy: SchemaChangePolicy
    recrawl_policy: RecrawlPolicy
    configuration: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., database_name: _Optional[str] = ..., description: _Optional[str] = ..., targets: _Optional[_Union[CrawlerTargets, _Mapping]] = ..., schedule: _Optional[str] = ..., classifiers: _Optional[_Iterable[str]] = ..., table_prefix: _Optional[str] = ..., schema_change_policy: _Optional[_Union[SchemaChangePolicy, _Mapping]] = ..., recrawl_policy: _Optional[_Union[RecrawlPolicy, _Mapping]] = ..., configuration: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateCrawlerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCrawlerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetCrawlerResponse(_message.Message):
    __slots__ = ("crawler",)
    CRAWLER_FIELD_NUMBER: _ClassVar[int]
    crawler: Crawler
    def __init__(self, crawler: _Optional[_Union[Crawler, _Mapping]] = ...) -> None: ...

class GetCrawlersRequest(_message.Message):
    __slots__ = ("max_results", "next_token")
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    max_results: int
    next_token: str
    def __init__(self, max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class GetCrawlersResponse(_message.Message):
    __slots__ = ("crawlers", "next_token")
    CRAWLERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    crawlers: _containers.RepeatedCompositeFieldContainer[Crawler]
    next_token: str
    def __init__(self, crawlers: _Optional[_Iterable[_Union[Crawler, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class BatchGetCrawlersRequest(_message.Message):
    __slots__ = ("crawler_names",)
    CRAWLER_NAMES_FIELD_NUMBER: _ClassVar[int]
    crawler_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, crawler_names: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetCrawlersResponse(_message.Message):
    __slots__ = ("crawlers", "crawlers_not_found")
    CRAWLERS_FIELD_NUMBER: _ClassVar[int]
    CRAWLERS_NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    crawlers: _containers.RepeatedCompositeFieldContainer[Crawler]
    crawlers_not_found: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, crawlers: _Optional[_Iterable[_Union[Crawler, _Mapping]]] = ..., crawlers_not_found: _Optional[_Iterable[str]] = ...) -> None: ...

class ListCrawlersRequest(_message.Message):
    __slots__ = ("max_results", "next_token", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    max_results: int
    next_token: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, max_results: _Optional[int] = ..., next_token: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListCrawlersResponse(_message.Message):
    __slots__ = ("crawler_names", "next_token")
    CRAWLER_NAMES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    crawler_names: _containers.RepeatedScalarFieldContainer[str]
    next_token: str
    def __init__(self, crawler_names: _Optional[_Iterable[str]] = ..., next_token: _Optional[str] = ...) -> None: ...

class UpdateCrawlerRequest(_message.Message):
    __slots__ = ("name", "role", "database_name", "description", "targets", "schedule", "classifiers", "table_prefix", "schema_change_policy", "recrawl_policy", "configuration")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DATABASE_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIERS_FIELD_NUMBER: _ClassVar[int]
    TABLE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_CHANGE_POLICY_FIELD_NUMBER: _ClassVar[int]
    RECRAWL_POLICY_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    database_name: str
    description: str
    targets: CrawlerTargets
    schedule: str
    classifiers: _containers.RepeatedScalarFieldContainer[str]
    table_prefix: str
    schema_change_policy: SchemaChangePolicy
    recrawl_policy: RecrawlPolicy
    configuration: str
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., database_name: _Optional[str] = ..., description: _Optional[str] = ..., targets: _Optional[_Union[CrawlerTargets, _Mapping]] = ..., schedule: _Optional[str] = ..., classifiers: _Optional[_Iterable[str]] = ..., table_prefix: _Optional[str] = ..., schema_change_policy: _Optional[_Union[SchemaChangePolicy, _Mapping]] = ..., recrawl_policy: _Optional[_Union[RecrawlPolicy, _Mapping]] = ..., configuration: _Optional[str] = ...) -> None: ...

class UpdateCrawlerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteCrawlerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteCrawlerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartCrawlerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StartCrawlerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StopCrawlerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StopCrawlerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CrawlerMetrics(_message.Message):
    __slots__ = ("crawler_name", "time_left_seconds", "still_estimating", "last_runtime_seconds", "median_runtime_seconds", "tables_created", "tables_updated", "tables_deleted", "files_total", "files_done")
    CRAWLER_NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_LEFT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STILL_ESTIMATING_FIELD_NUMBER: _ClassVar[int]
    LAST_RUNTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_RUNTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TABLES_CREATED_FIELD_NUMBER: _ClassVar[int]
    TABLES_UPDATED_FIELD_NUMBER: _ClassVar[int]
    TABLES_DELETED_FIELD_NUMBER: _ClassVar[int]
    FILES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FILES_DONE_FIELD_NUMBER: _ClassVar[int]
    crawler_name: str
    time_left_seconds: float
    still_estimating: bool
    last_runtime_seconds: float
    median_runtime_seconds: float
    tables_created: int
    tables_updated: int
    tables_deleted: int
    files_total: int
    files_done: int
    def __init__(self, crawler_name: _Optional[str] = ..., time_left_seconds: _Optional[float] = ..., still_estimating: _Optional[bool] = ..., last_runtime_seconds: _Optional[float] = ..., median_runtime_seconds: _Optional[float] = ..., tables_created: _Optional[int] = ..., tables_updated: _Optional[int] = ..., tables_deleted: _Optional[int] = ..., files_total: _Optional[int] = ..., files_done: _Optional[int] = ...) -> None: ...

class GetCrawlerMetricsRequest(_message.Message):
    __slots__ = ("crawler_name_list", "max_results", "next_token")
    CRAWLER_NAME_LIST_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    crawler_name_list: _containers.RepeatedScalarFieldContainer[str]
    max_results: int
    next_token: str
    def __init__(self, crawler_name_list: _Optional[_Iterable[str]] = ..., max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class GetCrawlerMetricsResponse(_message.Message):
    __slots__ = ("crawler_metrics_list", "next_token")
    CRAWLER_METRICS_LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    crawler_metrics_list: _containers.RepeatedCompositeFieldContainer[CrawlerMetrics]
    next_token: str
    def __init__(self, crawler_metrics_list: _Optional[_Iterable[_Union[CrawlerMetrics, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class CrawlsFilter(_message.Message):
    __slots__ = ("field_name", "filter_operator", "field_value")
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    FILTER_OPERATOR_FIELD_NUMBER: _ClassVar[int]
    FIELD_VALUE_FIELD_NUMBER: _ClassVar[int]
    field_name: FieldName
    filter_operator: FilterOperator
    field_value: str
    def __init__(self, field_name: _Optional[_Union[FieldName, str]] = ..., filter_operator: _Optional[_Union[FilterOperator, str]] = ..., field_value: _Optional[str] = ...) -> None: ...

class CrawlerHistory(_message.Message):
    __slots__ = ("crawl_id", "state", "start_time", "end_time", "summary", "error_message", "dpu_hour")
    CRAWL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DPU_HOUR_FIELD_NUMBER: _ClassVar[int]
    crawl_id: str
    state: CrawlState
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    summary: str
    error_message: str
    dpu_hour: float
    def __init__(self, crawl_id: _Optional[str] = ..., state: _Optional[_Union[CrawlState, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., summary: _Optional[str] = ..., error_message: _Optional[str] = ..., dpu_hour: _Optional[float] = ...) -> None: ...

class ListCrawlsRequest(_message.Message):
    __slots__ = ("crawler_name", "max_results", "filters", "next_token")
    CRAWLER_NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    crawler_name: str
    max_results: int
    filters: _containers.RepeatedCompositeFieldContainer[CrawlsFilter]
    next_token: str
    def __init__(self, crawler_name: _Optional[str] = ..., max_results: _Optional[int] = ..., filters: _Optional[_Iterable[_Union[CrawlsFilter, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class ListCrawlsResponse(_message.Message):
    __slots__ = ("crawls", "next_token")
    CRAWLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    crawls: _containers.RepeatedCompositeFieldContainer[CrawlerHistory]
    next_token: str
    def __init__(self, crawls: _Optional[_Iterable[_Union[CrawlerHistory, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class StartCrawlerScheduleRequest(_message.Message):
    __slots__ = ("crawler_name",)
    CRAWLER_NAME_FIELD_NUMBER: _ClassVar[int]
    crawler_name: str
    def __init__(self, crawler_name: _Optional[str] = ...) -> None: ...

class StartCrawlerScheduleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StopCrawlerScheduleRequest(_message.Message):
    __slots__ = ("crawler_name",)
    CRAWLER_NAME_FIELD_NUMBER: _ClassVar[int]
    crawler_name: str
    def __init__(self, crawler_name: _Optional[str] = ...) -> None: ...

class StopCrawlerScheduleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdateCrawlerScheduleRequest(_message.Message):
    __slots__ = ("crawler_name", "schedule")
    CRAWLER_NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    crawler_name: str
    schedule: str
    def __init__(self, crawler_name: _Optional[str] = ..., schedule: _Optional[str] = ...) -> None: ...

class UpdateCrawlerScheduleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GrokClassifier(_message.Message):
    __slots__ = ("name", "classification", "creation_time", "last_updated", "version", "grok_pattern", "custom_patterns")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GROK_PATTERN_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    classification: str
    creation_time: _timestamp_pb2.Timestamp
    last_updated: _timestamp_pb2.Timestamp
    version: int
    grok_pattern: str
    custom_patterns: str
    def __init__(self, name: _Optional[str] = ..., classification: _Optional[str] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., grok_pattern: _Optional[str] = ..., custom_patterns: _Optional[str] = ...) -> None: ...

class XmlClassifier(_message.Message):
    __slots__ = ("name", "classification", "creation_time", "last_updated", "version", "row_tag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROW_TAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    classification: str
    creation_time: _timestamp_pb2.Timestamp
    last_updated: _timestamp_pb2.Timestamp
    version: int
    row_tag: str
    def __init__(self, name: _Optional[str] = ..., classification: _Optional[str] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., row_tag: _Optional[str] = ...) -> None: ...

class JsonClassifier(_message.Message):
    __slots__ = ("name", "creation_time", "last_updated", "version", "json_path")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    JSON_PATH_FIELD_NUMBER: _ClassVar[int]
    name: str
    creation_time: _timestamp_pb2.Timestamp
    last_updated: _timestamp_pb2.Timestamp
    version: int
    json_path: str
    def __init__(self, name: _Optional[str] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., json_path: _Optional[str] = ...) -> None: ...

class CsvClassifier(_message.Message):
    __slots__ = ("name", "creation_time", "last_updated", "version", "delimiter", "quote_symbol", "contains_header", "header", "disable_value_trimming", "allow_single_column")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    QUOTE_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CONTAINS_HEADER_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DISABLE_VALUE_TRIMMING_FIELD_NUMBER: _ClassVar[int]
    ALLOW_SINGLE_COLUMN_FIELD_NUMBER: _ClassVar[int]
    name: str
    creation_time: _timestamp_pb2.Timestamp
    last_updated: _timestamp_pb2.Timestamp
    version: int
    delimiter: str
    quote_symbol: str
    contains_header: CsvHeaderOption
    header: _containers.RepeatedScalarFieldContainer[str]
    disable_value_trimming: bool
    allow_single_column: bool
    def __init__(self, name: _Optional[str] = ..., creation_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_updated: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ..., delimiter: _Optional[str] = ..., quote_symbol: _Optional[str] = ..., contains_header: _Optional[_Union[CsvHeaderOption, str]] = ..., header: _Optional[_Iterable[str]] = ..., disable_value_trimming: _Optional[bool] = ..., allow_single_column: _Optional[bool] = ...) -> None: ...

class Classifier(_message.Message):
    __slots__ = ("grok_classifier", "xml_classifier", "json_classifier", "csv_classifier")
    GROK_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    XML_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    JSON_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    CSV_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    grok_classifier: GrokClassifier
    xml_classifier: XmlClassifier
    json_classifier: JsonClassifier
    csv_classifier: CsvClassifier
    def __init__(self, grok_classifier: _Optional[_Union[GrokClassifier, _Mapping]] = ..., xml_classifier: _Optional[_Union[XmlClassifier, _Mapping]] = ..., json_classifier: _Optional[_Union[JsonClassifier, _Mapping]] = ..., csv_classifier: _Optional[_Union[CsvClassifier, _Mapping]] = ...) -> None: ...

class GrokClassifierInput(_message.Message):
    __slots__ = ("name", "classification", "grok_pattern", "custom_patterns")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    GROK_PATTERN_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    classification: str
    grok_pattern: str
    custom_patterns: str
    def __init__(self, name: _Optional[str] = ..., classification: _Optional[str] = ..., grok_pattern: _Optional[str] = ..., custom_patterns: _Optional[str] = ...) -> None: ...

class XmlClassifierInput(_message.Message):
    __slots__ = ("name", "classification", "row_tag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    ROW_TAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    classification: str
    row_tag: str
    def __init__(self, name: _Optional[str] = ..., classification: _Optional[str] = ..., row_tag: _Optional[str] = ...) -> None: ...

class JsonClassifierInput(_message.Message):
    __slots__ = ("name", "json_path")
    NAME_FIELD_NUMBER: _ClassVar[int]
    JSON_PATH_FIELD_NUMBER: _ClassVar[int]
    name: str
    json_path: str
    def __init__(self, name: _Optional[str] = ..., json_path: _Optional[str] = ...) -> None: ...

class CsvClassifierInput(_message.Message):
    __slots__ = ("name", "delimiter", "quote_symbol", "contains_header", "header", "disable_value_trimming", "allow_single_column")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    QUOTE_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    CONTAINS_HEADER_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DISABLE_VALUE_TRIMMING_FIELD_NUMBER: _ClassVar[int]
    ALLOW_SINGLE_COLUMN_FIELD_NUMBER: _ClassVar[int]
    name: str
    delimiter: str
    quote_symbol: str
    contains_header: CsvHeaderOption
    header: _containers.RepeatedScalarFieldContainer[str]
    disable_value_trimming: bool
    allow_single_column: bool
    def __init__(self, name: _Optional[str] = ..., delimiter: _Optional[str] = ..., quote_symbol: _Optional[str] = ..., contains_header: _Optional[_Union[CsvHeaderOption, str]] = ..., header: _Optional[_Iterable[str]] = ..., disable_value_trimming: _Optional[bool] = ..., allow_single_column: _Optional[bool] = ...) -> None: ...

class CreateClassifierRequest(_message.Message):
    __slots__ = ("grok_classifier", "xml_classifier", "json_classifier", "csv_classifier")
    GROK_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    XML_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    JSON_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    CSV_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    grok_classifier: GrokClassifierInput
    xml_classifier: XmlClassifierInput
    json_classifier: JsonClassifierInput
    csv_classifier: CsvClassifierInput
    def __init__(self, grok_classifier: _Optional[_Union[GrokClassifierInput, _Mapping]] = ..., xml_classifier: _Optional[_Union[XmlClassifierInput, _Mapping]] = ..., json_classifier: _Optional[_Union[JsonClassifierInput, _Mapping]] = ..., csv_classifier: _Optional[_Union[CsvClassifierInput, _Mapping]] = ...) -> None: ...

class CreateClassifierResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetClassifierRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetClassifierResponse(_message.Message):
    __slots__ = ("classifier",)
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    classifier: Classifier
    def __init__(self, classifier: _Optional[_Union[Classifier, _Mapping]] = ...) -> None: ...

class GetClassifiersRequest(_message.Message):
    __slots__ = ("max_results", "next_token")
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    max_results: int
    next_token: str
    def __init__(self, max_results: _Optional[int] = ..., next_token: _Optional[str] = ...) -> None: ...

class GetClassifiersResponse(_message.Message):
    __slots__ = ("classifiers", "next_token")
    CLASSIFIERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    classifiers: _containers.RepeatedCompositeFieldContainer[Classifier]
    next_token: str
    def __init__(self, classifiers: _Optional[_Iterable[_Union[Classifier, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class UpdateClassifierRequest(_message.Message):
    __slots__ = ("grok_classifier", "xml_classifier", "json_classifier", "csv_classifier")
    GROK_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    XML_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    JSON_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    CSV_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    grok_classifier: GrokClassifierInput
    xml_classifier: XmlClassifierInput
    json_classifier: JsonClassifierInput
    csv_classifier: CsvClassifierInput
    def __init__(self, grok_classifier: _Optional[_Union[GrokClassifierInput, _Mapping]] = ..., xml_classifier: _Optional[_Union[XmlClassifierInput, _Mapping]] = ..., json_classifier: _Optional[_Union[JsonClassifierInput, _Mapping]] = ..., csv_classifier: _Optional[_Union[CsvClassifierInput, _Mapping]] = ...) -> None: ...

class UpdateClassifierResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteClassifierRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteClassifierResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
