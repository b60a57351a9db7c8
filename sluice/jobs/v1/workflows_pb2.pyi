import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluice.jobs.v1 import triggers_pb2 as _triggers_pb2
from sluice.jobs.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WorkflowRunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_RUN_STATUS_UNSPECIFIED: _ClassVar[WorkflowRunStatus]
    WORKFLOW_RUN_STATUS_RUNNING: _ClassVar[WorkflowRunStatus]
    WORKFLOW_RUN_STATUS_COMPLETED: _ClassVar[WorkflowRunStatus]
    WORKFLOW_RUN_STATUS_STOPPING: _ClassVar[WorkflowRunStatus]
    WORKFLOW_RUN_STATUS_STOPPED: _ClassVar[WorkflowRunStatus]
    WORKFLOW_RUN_STATUS_ERROR: _ClassVar[WorkflowRunStatus]

class NodeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_TYPE_UNSPECIFIED: _ClassVar[NodeType]
    NODE_TYPE_CRAWLER: _ClassVar[NodeType]
    NODE_TYPE_JOB: _ClassVar[NodeType]
    NODE_TYPE_TRIGGER: _ClassVar[NodeType]
WORKFLOW_RUN_STATUS_UNSPECIFIED: WorkflowRunStatus
WORKFLOW_RUN_STATUS_RUNNING: WorkflowRunStatus
WORKFLOW_RUN_STATUS_COMPLETED: WorkflowRunStatus
WORKFLOW_RUN_STATUS_STOPPING: WorkflowRunStatus
WORKFLOW_RUN_STATUS_STOPPED: WorkflowRunStatus
WORKFLOW_RUN_STATUS_ERROR: WorkflowRunStatus
NODE_TYPE_UNSPECIFIED: NodeType
NODE_TYPE_CRAWLER: NodeType
NODE_TYPE_JOB: NodeType
NODE_TYPE_TRIGGER: NodeType

class TriggerNodeDetails(_message.Message):
    __slots__ = ("trigger",)
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    trigger: _triggers_pb2.Trigger
    def __init__(self, trigger: _Optional[_Union[_triggers_pb2.Trigger, _Mapping]] = ...) -> None: ...

class JobNodeDetails(_message.Message):
    __slots__ = ("job_runs",)
    JOB_RUNS_FIELD_NUMBER: _ClassVar[int]
    job_runs: _containers.RepeatedCompositeFieldContainer[_types_pb2.JobRun]
    def __init__(self, job_runs: _Optional[_Iterable[_Union[_types_pb2.JobRun, _Mapping]]] = ...) -> None: ...

class WorkflowCrawl(_message.Message):
    __slots__ = ("state", "started_on", "completed_on", "error_message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_ON_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_ON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: str
    started_on: _timestamp_pb2.Timestamp
    completed_on: _timestamp_pb2.Timestamp
    error_message: str
    def __init__(self, state: _Optional[str] = ..., started_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_message: _Optional[str] = ...) -> None: ...

class CrawlerNodeDetails(_message.Message):
    __slots__ = ("crawls",)
    CRAWLS_FIELD_NUMBER: _ClassVar[int]
    crawls: _containers.RepeatedCompositeFieldContainer[WorkflowCrawl]
    def __init__(self, crawls: _Optional[_Iterable[_Union[WorkflowCrawl, _Mapping]]] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("type", "name", "unique_id", "trigger_details", "job_details", "crawler_details")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_DETAILS_FIELD_NUMBER: _ClassVar[int]
    JOB_DETAILS_FIELD_NUMBER: _ClassVar[int]
    CRAWLER_DETAILS_FIELD_NUMBER: _ClassVar[int]
    type: NodeType
    name: str
    unique_id: str
    trigger_details: TriggerNodeDetails
    job_details: JobNodeDetails
    crawler_details: CrawlerNodeDetails
    def __init__(self, type: _Optional[_Union[NodeType, str]] = ..., name: _Optional[str] = ..., unique_id: _Optional[str] = ..., trigger_details: _Optional[_Union[TriggerNodeDetails, _Mapping]] = ..., job_details: _Optional[_Union[JobNodeDetails, _Mapping]] = ..., crawler_details: _Optional[_Union[CrawlerNodeDetails, _Mapping]] = ...) -> None: ...

class Edge(_message.Message):
    __slots__ = ("source_id", "destination_id")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    destination_id: str
    def __init__(self, source_id: _Optional[str] = ..., destination_id: _Optional[str] = ...) -> None: ...

class WorkflowGraph(_message.Message):
    __slots__ = ("nodes", "edges")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    edges: _containers.RepeatedCompositeFieldContainer[Edge]
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ...) -> None: ...

class WorkflowRunStatistics(_message.Message):
    __slots__ = ("total_actions", "timeout_actions", "failed_actions", "stopped_actions", "succeeded_actions", "running_actions", "errored_actions", "waiting_actions")
    TOTAL_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    FAILED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ERRORED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    WAITING_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    total_actions: int
    timeout_actions: int
    failed_actions: int
    stopped_actions: int
    succeeded_actions: int
    running_actions: int
    errored_actions: int
    waiting_actions: int
    def __init__(self, total_actions: _Optional[int] = ..., timeout_actions: _Optional[int] = ..., failed_actions: _Optional[int] = ..., stopped_actions: _Optional[int] = ..., succeeded_actions: _Optional[int] = ..., running_actions: _Optional[int] = ..., errored_actions: _Optional[int] = ..., waiting_actions: _Optional[int] = ...) -> None: ...

class WorkflowRun(_message.Message):
    __slots__ = ("name", "workflow_run_id", "previous_run_id", "workflow_run_properties", "started_on", "completed_on", "status", "error_message", "statistics", "graph")
    class WorkflowRunPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_RUN_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    STARTED_ON_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_ON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATISTICS_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    name: str
    workflow_run_id: str
    previous_run_id: str
    workflow_run_properties: _containers.ScalarMap[str, str]
    started_on: _timestamp_pb2.Timestamp
    completed_on: _timestamp_pb2.Timestamp
    status: WorkflowRunStatus
    error_message: str
    statistics: WorkflowRunStatistics
    graph: WorkflowGraph
    def __init__(self, name: _Optional[str] = ..., workflow_run_id: _Optional[str] = ..., previous_run_id: _Optional[str] = ..., workflow_run_properties: _Optional[_Mapping[str, str]] = ..., started_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[WorkflowRunStatus, str]] = ..., error_message: _Optional[str] = ..., statistics: _Optional[_Union[WorkflowRunStatistics, _Mapping]] = ..., graph: _Optional[_Union[WorkflowGraph, _Mapping]] = ...) -> None: ...

class Workflow(_message.Message):
    __slots__ = ("name", "description", "default_run_properties", "created_on", "last_modified_on", "last_run", "graph", "max_concurrent_runs")
    class DefaultRunPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_RUN_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    CREATED_ON_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_ON_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_RUNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    default_run_properties: _containers.ScalarMap[str, str]
    created_on: _timestamp_pb2.Timestamp
    last_modified_on: _timestamp_pb2.Timestamp
    last_run: WorkflowRun
    graph: WorkflowGraph
    max_concurrent_runs: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., default_run_properties: _Optional[_Mapping[str, str]] = ..., created_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_modified_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_run: _Optional[_Union[WorkflowRun, _Mapping]] = ..., graph: _Optional[_Union[WorkflowGraph, _Mapping]] = ..., max_concurrent_runs: _Optional[int] = ...) -> None: ...

class CreateWorkflowRequest(_message.Message):
    __slots__ = ("name", "description", "default_run_properties", "tags", "max_concurrent_runs")
    class DefaultRunPropertiesEntry(_message.Message):
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
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_RUN_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_RUNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    default_run_properties: _containers.ScalarMap[str, str]
    tags: _containers.ScalarMap[str, str]
    max_concurrent_runs: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., default_run_properties: _Optional[_Mapping[str, str]] = ..., tags: _Optional[_Mapping[str, str]] = ..., max_concurrent_runs: _Optional[int] = ...) -> None: ...

class CreateWorkflowResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetWorkflowRequest(_message.Message):
    __slots__ = ("name", "include_graph")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_GRAPH_FIELD_NUMBER: _ClassVar[int]
    name: str
    include_graph: bool
    def __init__(self, name: _Optional[str] = ..., include_graph: _Optional[bool] = ...) -> None: ...

class GetWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class ListWorkflowsRequest(_message.Message):
    __slots__ = ("next_token", "max_results")
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    next_token: str
    max_results: int
    def __init__(self, next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class ListWorkflowsResponse(_message.Message):
    __slots__ = ("workflows", "next_token")
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedScalarFieldContainer[str]
    next_token: str
    def __init__(self, workflows: _Optional[_Iterable[str]] = ..., next_token: _Optional[str] = ...) -> None: ...

class BatchGetWorkflowsRequest(_message.Message):
    __slots__ = ("names", "include_graph")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_GRAPH_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    include_graph: bool
    def __init__(self, names: _Optional[_Iterable[str]] = ..., include_graph: _Optional[bool] = ...) -> None: ...

class BatchGetWorkflowsResponse(_message.Message):
    __slots__ = ("workflows", "missing_workflows")
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    MISSING_WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedCompositeFieldContainer[Workflow]
    missing_workflows: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workflows: _Optional[_Iterable[_Union[Workflow, _Mapping]]] = ..., missing_workflows: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateWorkflowRequest(_message.Message):
    __slots__ = ("name", "description", "default_run_properties", "max_concurrent_runs")
    class DefaultRunPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_RUN_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_RUNS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    default_run_properties: _containers.ScalarMap[str, str]
    max_concurrent_runs: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., default_run_properties: _Optional[_Mapping[str, str]] = ..., max_concurrent_runs: _Optional[int] = ...) -> None: ...

class UpdateWorkflowResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteWorkflowRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteWorkflowResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StartWorkflowRunRequest(_message.Message):
    __slots__ = ("name", "run_properties")
    class RunPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    run_properties: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., run_properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StartWorkflowRunResponse(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetWorkflowRunRequest(_message.Message):
    __slots__ = ("name", "run_id", "include_graph")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_GRAPH_FIELD_NUMBER: _ClassVar[int]
    name: str
    run_id: str
    include_graph: bool
    def __init__(self, name: _Optional[str] = ..., run_id: _Optional[str] = ..., include_graph: _Optional[bool] = ...) -> None: ...

class GetWorkflowRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: WorkflowRun
    def __init__(self, run: _Optional[_Union[WorkflowRun, _Mapping]] = ...) -> None: ...

class GetWorkflowRunsRequest(_message.Message):
    __slots__ = ("name", "include_graph", "next_token", "max_results")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_GRAPH_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    include_graph: bool
    next_token: str
    max_results: int
    def __init__(self, name: _Optional[str] = ..., include_graph: _Optional[bool] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class GetWorkflowRunsResponse(_message.Message):
    __slots__ = ("runs", "next_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[WorkflowRun]
    next_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[WorkflowRun, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class StopWorkflowRunRequest(_message.Message):
    __slots__ = ("name", "run_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    run_id: str
    def __init__(self, name: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class StopWorkflowRunResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetWorkflowRunPropertiesRequest(_message.Message):
    __slots__ = ("name", "run_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    run_id: str
    def __init__(self, name: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class GetWorkflowRunPropertiesResponse(_message.Message):
    __slots__ = ("run_properties",)
    class RunPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    run_properties: _containers.ScalarMap[str, str]
    def __init__(self, run_properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PutWorkflowRunPropertiesRequest(_message.Message):
    __slots__ = ("name", "run_id", "run_properties")
    class RunPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    run_id: str
    run_properties: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., run_id: _Optional[str] = ..., run_properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PutWorkflowRunPropertiesResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResumeWorkflowRunRequest(_message.Message):
    __slots__ = ("name", "run_id", "node_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    run_id: str
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., run_id: _Optional[str] = ..., node_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ResumeWorkflowRunResponse(_message.Message):
    __slots__ = ("run_id", "node_ids")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_id: _Optional[str] = ..., node_ids: _Optional[_Iterable[str]] = ...) -> None: ...
