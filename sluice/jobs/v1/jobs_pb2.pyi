from google.protobuf import struct_pb2 as _struct_pb2
from sluice.jobs.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateJobRequest(_message.Message):
    __slots__ = ("name", "description", "role", "command", "default_arguments", "non_overridable_arguments", "max_retries", "timeout", "execution_property", "worker_type", "number_of_workers", "connections", "tags", "log_uri", "max_capacity", "security_configuration", "notification_property", "glue_version", "execution_class", "job_mode", "job_run_queuing_enabled", "maintenance_window", "code_gen_configuration_nodes")
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
    command: _types_pb2.JobCommand
    default_arguments: _containers.ScalarMap[str, str]
    non_overridable_arguments: _containers.ScalarMap[str, str]
    max_retries: int
    timeout: int
    execution_property: _types_pb2.ExecutionProperty
    worker_type: str
    number_of_workers: int
    connections: _types_pb2.ConnectionsList
    tags: _containers.ScalarMap[str, str]
    log_uri: str
    max_capacity: float
    security_configuration: str
    notification_property: _types_pb2.JobNotificationProperty
    glue_version: str
    execution_class: str
    job_mode: str
    job_run_queuing_enabled: bool
    maintenance_window: str
    code_gen_configuration_nodes: _containers.MessageMap[str, _struct_pb2.Struct]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., role: _Optional[str] = ..., command: _Optional[_Union[_types_pb2.JobCommand, _Mapping]] = ..., default_arguments: _Optional[_Mapping[str, str]] = ..., non_overridable_arguments: _Optional[_Mapping[str, str]] = ..., max_retries: _Optional[int] = ..., timeout: _Optional[int] = ..., execution_property: _Optional[_Union[_types_pb2.ExecutionProperty, _Mapping]] = ..., worker_type: _Optional[str] = ..., number_of_workers: _Optional[int] = ..., connections: _Optional[_Union[_types_pb2.ConnectionsList, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., log_uri: _Optional[str] = ..., max_capacity: _Optional[float] = ..., security_configuration: _Optional[str] = ..., notification_property: _Optional[_Union[_types_pb2.JobNotificationProperty, _Mapping]] = ..., glue_version: _Optional[str] = ..., execution_class: _Optional[str] = ..., job_mode: _Optional[str] = ..., job_run_queuing_enabled: _Optional[bool] = ..., maintenance_window: _Optional[str] = ..., code_gen_configuration_nodes: _Optional[_Mapping[str, _struct_pb2.Struct]] = ...) -> None: ...

class CreateJobResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _types_pb2.Job
    def __init__(self, job: _Optional[_Union[_types_pb2.Job, _Mapping]] = ...) -> None: ...

class GetJobsRequest(_message.Message):
    __slots__ = ("next_token", "max_results")
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    next_token: str
    max_results: int
    def __init__(self, next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class GetJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_types_pb2.Job]
    next_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_types_pb2.Job, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("next_token", "max_results", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    next_token: str
    max_results: int
    tags: _containers.ScalarMap[str, str]
    def __init__(self, next_token: _Optional[str] = ..., max_results: _Optional[int] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("job_names", "next_token")
    JOB_NAMES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    job_names: _containers.RepeatedScalarFieldContainer[str]
    next_token: str
    def __init__(self, job_names: _Optional[_Iterable[str]] = ..., next_token: _Optional[str] = ...) -> None: ...

class UpdateJobRequest(_message.Message):
    __slots__ = ("job_name", "job_update")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_UPDATE_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    job_update: _types_pb2.JobUpdate
    def __init__(self, job_name: _Optional[str] = ..., job_update: _Optional[_Union[_types_pb2.JobUpdate, _Mapping]] = ...) -> None: ...

class UpdateJobResponse(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class DeleteJobRequest(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class DeleteJobResponse(_message.Message):
    __slots__ = ("job_name",)
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    def __init__(self, job_name: _Optional[str] = ...) -> None: ...

class UploadScriptRequest(_message.Message):
    __slots__ = ("name", "content")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    content: bytes
    def __init__(self, name: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class UploadScriptResponse(_message.Message):
    __slots__ = ("script_location",)
    SCRIPT_LOCATION_FIELD_NUMBER: _ClassVar[int]
    script_location: str
    def __init__(self, script_location: _Optional[str] = ...) -> None: ...

class StartJobRunRequest(_message.Message):
    __slots__ = ("job_name", "job_run_id", "arguments", "timeout", "worker_type", "number_of_workers", "notification_property", "job_run_queuing_enabled")
    class ArgumentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WORKER_TYPE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_OF_WORKERS_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_QUEUING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    job_run_id: str
    arguments: _containers.ScalarMap[str, str]
    timeout: int
    worker_type: str
    number_of_workers: int
    notification_property: _types_pb2.JobNotificationProperty
    job_run_queuing_enabled: bool
    def __init__(self, job_name: _Optional[str] = ..., job_run_id: _Optional[str] = ..., arguments: _Optional[_Mapping[str, str]] = ..., timeout: _Optional[int] = ..., worker_type: _Optional[str] = ..., number_of_workers: _Optional[int] = ..., notification_property: _Optional[_Union[_types_pb2.JobNotificationProperty, _Mapping]] = ..., job_run_queuing_enabled: _Optional[bool] = ...) -> None: ...

class StartJobRunResponse(_message.Message):
    __slots__ = ("job_run_id",)
    JOB_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    job_run_id: str
    def __init__(self, job_run_id: _Optional[str] = ...) -> None: ...

class GetJobRunRequest(_message.Message):
    __slots__ = ("job_name", "run_id", "predecessors_included")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PREDECESSORS_INCLUDED_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    run_id: str
    predecessors_included: bool
    def __init__(self, job_name: _Optional[str] = ..., run_id: _Optional[str] = ..., predecessors_included: _Optional[bool] = ...) -> None: ...

class GetJobRunResponse(_message.Message):
    __slots__ = ("job_run",)
    JOB_RUN_FIELD_NUMBER: _ClassVar[int]
    job_run: _types_pb2.JobRun
    def __init__(self, job_run: _Optional[_Union[_types_pb2.JobRun, _Mapping]] = ...) -> None: ...

class GetJobRunsRequest(_message.Message):
    __slots__ = ("job_name", "next_token", "max_results")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    next_token: str
    max_results: int
    def __init__(self, job_name: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class GetJobRunsResponse(_message.Message):
    __slots__ = ("job_runs", "next_token")
    JOB_RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    job_runs: _containers.RepeatedCompositeFieldContainer[_types_pb2.JobRun]
    next_token: str
    def __init__(self, job_runs: _Optional[_Iterable[_Union[_types_pb2.JobRun, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class BatchStopJobRunRequest(_message.Message):
    __slots__ = ("job_name", "job_run_ids")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    job_run_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, job_name: _Optional[str] = ..., job_run_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchStopJobRunResponse(_message.Message):
    __slots__ = ("successful_submissions", "errors")
    SUCCESSFUL_SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    successful_submissions: _containers.RepeatedCompositeFieldContainer[_types_pb2.BatchStopJobRunSuccessfulSubmission]
    errors: _containers.RepeatedCompositeFieldContainer[_types_pb2.BatchStopJobRunError]
    def __init__(self, successful_submissions: _Optional[_Iterable[_Union[_types_pb2.BatchStopJobRunSuccessfulSubmission, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[_types_pb2.BatchStopJobRunError, _Mapping]]] = ...) -> None: ...

class GetJobRunLogsRequest(_message.Message):
    __slots__ = ("job_name", "run_id", "stream", "next_token", "max_results")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    run_id: str
    stream: _types_pb2.LogStream
    next_token: str
    max_results: int
    def __init__(self, job_name: _Optional[str] = ..., run_id: _Optional[str] = ..., stream: _Optional[_Union[_types_pb2.LogStream, str]] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class GetJobRunLogsResponse(_message.Message):
    __slots__ = ("entries", "next_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_types_pb2.LogEntry]
    next_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_types_pb2.LogEntry, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class TailJobRunLogsRequest(_message.Message):
    __slots__ = ("job_name", "run_id", "stream")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    run_id: str
    stream: _types_pb2.LogStream
    def __init__(self, job_name: _Optional[str] = ..., run_id: _Optional[str] = ..., stream: _Optional[_Union[_types_pb2.LogStream, str]] = ...) -> None: ...

class TailJobRunLogsResponse(_message.Message):
    __slots__ = ("entries", "job_run_state")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_types_pb2.LogEntry]
    job_run_state: _types_pb2.JobRunState
    def __init__(self, entries: _Optional[_Iterable[_Union[_types_pb2.LogEntry, _Mapping]]] = ..., job_run_state: _Optional[_Union[_types_pb2.JobRunState, str]] = ...) -> None: ...

class GetPoolStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPoolStatusResponse(_message.Message):
    __slots__ = ("pool_status",)
    POOL_STATUS_FIELD_NUMBER: _ClassVar[int]
    pool_status: _types_pb2.PoolStatus
    def __init__(self, pool_status: _Optional[_Union[_types_pb2.PoolStatus, _Mapping]] = ...) -> None: ...

class WatchJobRunRequest(_message.Message):
    __slots__ = ("job_name", "run_id")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    run_id: str
    def __init__(self, job_name: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class WatchJobRunResponse(_message.Message):
    __slots__ = ("job_run",)
    JOB_RUN_FIELD_NUMBER: _ClassVar[int]
    job_run: _types_pb2.JobRun
    def __init__(self, job_run: _Optional[_Union[_types_pb2.JobRun, _Mapping]] = ...) -> None: ...
