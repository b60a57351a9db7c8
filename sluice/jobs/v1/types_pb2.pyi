import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobRunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_RUN_STATE_UNSPECIFIED: _ClassVar[JobRunState]
    JOB_RUN_STATE_STARTING: _ClassVar[JobRunState]
    JOB_RUN_STATE_RUNNING: _ClassVar[JobRunState]
    JOB_RUN_STATE_STOPPING: _ClassVar[JobRunState]
    JOB_RUN_STATE_STOPPED: _ClassVar[JobRunState]
    JOB_RUN_STATE_SUCCEEDED: _ClassVar[JobRunState]
    JOB_RUN_STATE_FAILED: _ClassVar[JobRunState]
    JOB_RUN_STATE_TIMEOUT: _ClassVar[JobRunState]
    JOB_RUN_STATE_ERROR: _ClassVar[JobRunState]
    JOB_RUN_STATE_WAITING: _ClassVar[JobRunState]

class LogStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_STREAM_UNSPECIFIED: _ClassVar[LogStream]
    LOG_STREAM_STDOUT: _ClassVar[LogStream]
    LOG_STREAM_STDERR: _ClassVar[LogStream]
    LOG_STREAM_DRIVER: _ClassVar[LogStream]
JOB_RUN_STATE_UNSPECIFIED: JobRunState
JOB_RUN_STATE_STARTING: JobRunState
JOB_RUN_STATE_RUNNING: JobRunState
JOB_RUN_STATE_STOPPING: JobRunState
JOB_RUN_STATE_STOPPED: JobRunState
JOB_RUN_STATE_SUCCEEDED: JobRunState
JOB_RUN_STATE_FAILED: JobRunState
JOB_RUN_STATE_TIMEOUT: JobRunState
JOB_RUN_STATE_ERROR: JobRunState
JOB_RUN_STATE_WAITING: JobRunState
LOG_STREAM_UNSPECIFIED: LogStream
LOG_STREAM_STDOUT: LogStream
LOG_STREAM_STDERR: LogStream
LOG_STREAM_DRIVER: LogStream

class JobCommand(_message.Message):
    __slots__ = ("name", "script_location", "python_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_LOCATION_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    script_location: str
    python_version: str
    def __init__(self, name: _Optional[str] = ..., script_location: _Optional[str] = ..., python_version: _Optional[str] = ...) -> None: ...

class JobNotificationProperty(_message.Message):
    __slots__ = ("notify_delay_after",)
    NOTIFY_DELAY_AFTER_FIELD_NUMBER: _ClassVar[int]
    notify_delay_after: int
    def __init__(self, notify_delay_after: _Optional[int] = ...) -> None: ...

class ExecutionProperty(_message.Message):
    __slots__ = ("max_concurrent_runs",)
    MAX_CONCURRENT_RUNS_FIELD_NUMBER: _ClassVar[int]
    max_concurrent_runs: int
    def __init__(self, max_concurrent_runs: _Optional[int] = ...) -> None: ...

class ConnectionsList(_message.Message):
    __slots__ = ("connections",)
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    connections: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, connections: _Optional[_Iterable[str]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("name", "description", "role", "command", "default_arguments", "non_overridable_arguments", "max_retries", "timeout", "execution_property", "worker_type", "number_of_workers", "connections", "tags", "created_on", "last_modified_on", "log_uri", "max_capacity", "security_configuration", "notification_property", "glue_version", "execution_class", "job_mode", "job_run_queuing_enabled", "maintenance_window", "code_gen_configuration_nodes")
    class DefaultArgumentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class NonOverridableArgumentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class CodeGenConfigurationNodesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Struct
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    NON_OVERRIDABLE_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_OF_WORKERS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CREATED_ON_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_ON_FIELD_NUMBER: _ClassVar[int]
    LOG_URI_FIELD_NUMBER: _ClassVar[int]
    MAX_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    GLUE_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_CLASS_FIELD_NUMBER: _ClassVar[int]
    JOB_MODE_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_QUEUING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    MAINTENANCE_WINDOW_FIELD_NUMBER: _ClassVar[int]
    CODE_GEN_CONFIGURATION_NODES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    role: str
    command: JobCommand
    default_arguments: _containers.ScalarMap[str, str]
    non_overridable_arguments: _containers.ScalarMap[str, str]
    max_retries: int
    timeout: int
    execution_property: ExecutionProperty
    worker_type: str
    number_of_workers: int
    connections: ConnectionsList
    tags: _containers.ScalarMap[str, str]
    created_on: _timestamp_pb2.Timestamp
    last_modified_on: _timestamp_pb2.Timestamp
    log_uri: str
    max_capacity: float
    security_configuration: str
    notification_property: JobNotificationProperty
    glue_version: str
    execution_class: str
    job_mode: str
    job_run_queuing_enabled: bool
    maintenance_window: str
    code_gen_configuration_nodes: _containers.MessageMap[str, _struct_pb2.Struct]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., role: _Optional[str] = ..., command: _Optional[_Union[JobCommand, _Mapping]] = ..., default_arguments: _Optional[_Mapping[str, str]] = ..., non_overridable_arguments: _Optional[_Mapping[str, str]] = ..., max_retries: _Optional[int] = ..., timeout: _Optional[int] = ..., execution_property: _Optional[_Union[ExecutionProperty, _Mapping]] = ..., worker_type: _Optional[str] = ..., number_of_workers: _Optional[int] = ..., connections: _Optional[_Union[ConnectionsList, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., created_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_modified_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., log_uri: _Optional[str] = ..., max_capacity: _Optional[float] = ..., security_configuration: _Optional[str] = ..., notification_property: _Optional[_Union[JobNotificationProperty, _Mapping]] = ..., glue_version: _Optional[str] = ..., execution_class: _Optional[str] = ..., job_mode: _Optional[str] = ..., job_run_queuing_enabled: _Optional[bool] = ..., maintenance_window: _Optional[str] = ..., code_gen_configuration_nodes: _Optional[_Mapping[str, _struct_pb2.Struct]] = ...) -> None: ...

class JobUpdate(_message.Message):
    __slots__ = ("description", "role", "command", "default_arguments", "non_overridable_arguments", "max_retries", "timeout", "execution_property", "worker_type", "number_of_workers", "connections", "log_uri", "max_capacity", "security_configuration", "notification_property", "glue_version", "execution_class", "job_mode", "job_run_queuing_enabled", "maintenance_window", "code_gen_configuration_nodes")
    class DefaultArgumentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class NonOverridableArgumentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class CodeGenConfigurationNodesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Struct
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    NON_OVERRIDABLE_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_OF_WORKERS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    LOG_URI_FIELD_NUMBER: _ClassVar[int]
    MAX_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    GLUE_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_CLASS_FIELD_NUMBER: _ClassVar[int]
    JOB_MODE_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_QUEUING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    MAINTENANCE_WINDOW_FIELD_NUMBER: _ClassVar[int]
    CODE_GEN_CONFIGURATION_NODES_FIELD_NUMBER: _ClassVar[int]
    description: str
    role: str
    command: JobCommand
    default_arguments: _containers.ScalarMap[str, str]
    non_overridable_arguments: _containers.ScalarMap[str, str]
    max_retries: int
    timeout: int
    execution_property: ExecutionProperty
    worker_type: str
    number_of_workers: int
    connections: ConnectionsList
    log_uri: str
    max_capacity: float
    security_configuration: str
    notification_property: JobNotificationProperty
    glue_version: str
    execution_class: str
    job_mode: str
    job_run_queuing_enabled: bool
    maintenance_window: str
    code_gen_configuration_nodes: _containers.MessageMap[str, _struct_pb2.Struct]
    def __init__(self, description: _Optional[str] = ..., role: _Optional[str] = ..., command: _Optional[_Union[JobCommand, _Mapping]] = ..., default_arguments: _Optional[_Mapping[str, str]] = ..., non_overridable_arguments: _Optional[_Mapping[str, str]] = ..., max_retries: _Optional[int] = ..., timeout: _Optional[int] = ..., execution_property: _Optional[_Union[ExecutionProperty, _Mapping]] = ..., worker_type: _Optional[str] = ..., number_of_workers: _Optional[int] = ..., connections: _Optional[_Union[ConnectionsList, _Mapping]] = ..., log_uri: _Optional[str] = ..., max_capacity: _Optional[float] = ..., security_configuration: _Optional[str] = ..., notification_property: _Optional[_Union[JobNotificationProperty, _Mapping]] = ..., glue_version: _Optional[str] = ..., execution_class: _Optional[str] = ..., job_mode: _Optional[str] = ..., job_run_queuing_enabled: _Optional[bool] = ..., maintenance_window: _Optional[str] = ..., code_gen_configuration_nodes: _Optional[_Mapping[str, _struct_pb2.Struct]] = ...) -> None: ...

class JobRun(_message.Message):
    __slots__ = ("id", "attempt", "previous_run_id", "trigger_name", "job_name", "started_on", "last_modified_on", "completed_on", "job_run_state", "arguments", "error_message", "timeout", "worker_type", "number_of_workers", "execution_time", "environment_id", "warm_start", "notification_property", "job_run_queuing_enabled")
    class ArgumentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    STARTED_ON_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_ON_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_ON_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_OF_WORKERS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_ID_FIELD_NUMBER: _ClassVar[int]
    WARM_START_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_QUEUING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    id: str
    attempt: int
    previous_run_id: str
    trigger_name: str
    job_name: str
    started_on: _timestamp_pb2.Timestamp
    last_modified_on: _timestamp_pb2.Timestamp
    completed_on: _timestamp_pb2.Timestamp
    job_run_state: JobRunState
    arguments: _containers.ScalarMap[str, str]
    error_message: str
    timeout: int
    worker_type: str
    number_of_workers: int
    execution_time: int
    environment_id: str
    warm_start: bool
    notification_property: JobNotificationProperty
    job_run_queuing_enabled: bool
    def __init__(self, id: _Optional[str] = ..., attempt: _Optional[int] = ..., previous_run_id: _Optional[str] = ..., trigger_name: _Optional[str] = ..., job_name: _Optional[str] = ..., started_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_modified_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., job_run_state: _Optional[_Union[JobRunState, str]] = ..., arguments: _Optional[_Mapping[str, str]] = ..., error_message: _Optional[str] = ..., timeout: _Optional[int] = ..., worker_type: _Optional[str] = ..., number_of_workers: _Optional[int] = ..., execution_time: _Optional[int] = ..., environment_id: _Optional[str] = ..., warm_start: _Optional[bool] = ..., notification_property: _Optional[_Union[JobNotificationProperty, _Mapping]] = ..., job_run_queuing_enabled: _Optional[bool] = ...) -> None: ...

class BatchStopJobRunSuccessfulSubmission(_message.Message):
    __slots__ = ("job_name", "job_run_id")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    job_run_id: str
    def __init__(self, job_name: _Optional[str] = ..., job_run_id: _Optional[str] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("error_code", "error_message")
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    error_code: str
    error_message: str
    def __init__(self, error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class BatchStopJobRunError(_message.Message):
    __slots__ = ("job_name", "job_run_id", "error_detail")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAIL_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    job_run_id: str
    error_detail: ErrorDetail
    def __init__(self, job_name: _Optional[str] = ..., job_run_id: _Optional[str] = ..., error_detail: _Optional[_Union[ErrorDetail, _Mapping]] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("stream", "timestamp", "message")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stream: LogStream
    timestamp: _timestamp_pb2.Timestamp
    message: str
    def __init__(self, stream: _Optional[_Union[LogStream, str]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class PoolStatus(_message.Message):
    __slots__ = ("target_size", "warm", "starting", "bound_idle", "busy", "ray_started", "ray_address", "resource_limits", "sandboxes", "queue")
    TARGET_SIZE_FIELD_NUMBER: _ClassVar[int]
    WARM_FIELD_NUMBER: _ClassVar[int]
    STARTING_FIELD_NUMBER: _ClassVar[int]
    BOUND_IDLE_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    RAY_STARTED_FIELD_NUMBER: _ClassVar[int]
    RAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    target_size: int
    warm: int
    starting: int
    bound_idle: int
    busy: int
    ray_started: bool
    ray_address: str
    resource_limits: str
    sandboxes: _containers.RepeatedCompositeFieldContainer[SandboxStatus]
    queue: _containers.RepeatedCompositeFieldContainer[QueuedRun]
    def __init__(self, target_size: _Optional[int] = ..., warm: _Optional[int] = ..., starting: _Optional[int] = ..., bound_idle: _Optional[int] = ..., busy: _Optional[int] = ..., ray_started: _Optional[bool] = ..., ray_address: _Optional[str] = ..., resource_limits: _Optional[str] = ..., sandboxes: _Optional[_Iterable[_Union[SandboxStatus, _Mapping]]] = ..., queue: _Optional[_Iterable[_Union[QueuedRun, _Mapping]]] = ...) -> None: ...

class QueuedRun(_message.Message):
    __slots__ = ("account", "job_name", "run_id", "position", "started_on")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    STARTED_ON_FIELD_NUMBER: _ClassVar[int]
    account: str
    job_name: str
    run_id: str
    position: int
    started_on: _timestamp_pb2.Timestamp
    def __init__(self, account: _Optional[str] = ..., job_name: _Optional[str] = ..., run_id: _Optional[str] = ..., position: _Optional[int] = ..., started_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SandboxStatus(_message.Message):
    __slots__ = ("sandbox_id", "account", "os_user", "state", "target_size", "warm", "starting", "bound_idle", "busy", "ray_started", "ray_address", "network_policy", "idle_since", "resource_limits")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    OS_USER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TARGET_SIZE_FIELD_NUMBER: _ClassVar[int]
    WARM_FIELD_NUMBER: _ClassVar[int]
    STARTING_FIELD_NUMBER: _ClassVar[int]
    BOUND_IDLE_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    RAY_STARTED_FIELD_NUMBER: _ClassVar[int]
    RAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NETWORK_POLICY_FIELD_NUMBER: _ClassVar[int]
    IDLE_SINCE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    account: str
    os_user: str
    state: str
    target_size: int
    warm: int
    starting: int
    bound_idle: int
    busy: int
    ray_started: bool
    ray_address: str
    network_policy: str
    idle_since: _timestamp_pb2.Timestamp
    resource_limits: str
    def __init__(self, sandbox_id: _Optional[str] = ..., account: _Optional[str] = ..., os_user: _Optional[str] = ..., state: _Optional[str] = ..., target_size: _Optional[int] = ..., warm: _Optional[int] = ..., starting: _Optional[int] = ..., bound_idle: _Optional[int] = ..., busy: _Optional[int] = ..., ray_started: _Optional[bool] = ..., ray_address: _Optional[str] = ..., network_policy: _Optional[str] = ..., idle_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resource_limits: _Optional[str] = ...) -> None: ...
