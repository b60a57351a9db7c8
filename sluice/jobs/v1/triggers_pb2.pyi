import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TriggerType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_TYPE_UNSPECIFIED: _ClassVar[TriggerType]
    TRIGGER_TYPE_SCHEDULED: _ClassVar[TriggerType]
    TRIGGER_TYPE_CONDITIONAL: _ClassVar[TriggerType]
    TRIGGER_TYPE_ON_DEMAND: _ClassVar[TriggerType]
    TRIGGER_TYPE_EVENT: _ClassVar[TriggerType]

class TriggerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_STATE_UNSPECIFIED: _ClassVar[TriggerState]
    TRIGGER_STATE_CREATED: _ClassVar[TriggerState]
    TRIGGER_STATE_ACTIVATED: _ClassVar[TriggerState]
    TRIGGER_STATE_DEACTIVATED: _ClassVar[TriggerState]
TRIGGER_TYPE_UNSPECIFIED: TriggerType
TRIGGER_TYPE_SCHEDULED: TriggerType
TRIGGER_TYPE_CONDITIONAL: TriggerType
TRIGGER_TYPE_ON_DEMAND: TriggerType
TRIGGER_TYPE_EVENT: TriggerType
TRIGGER_STATE_UNSPECIFIED: TriggerState
TRIGGER_STATE_CREATED: TriggerState
TRIGGER_STATE_ACTIVATED: TriggerState
TRIGGER_STATE_DEACTIVATED: TriggerState

class NotificationProperty(_message.Message):
    __slots__ = ("notify_delay_after",)
    NOTIFY_DELAY_AFTER_FIELD_NUMBER: _ClassVar[int]
    notify_delay_after: int
    def __init__(self, notify_delay_after: _Optional[int] = ...) -> None: ...

class Action(_message.Message):
    __slots__ = ("job_name", "arguments", "timeout", "security_configuration", "notification_property", "crawler_name")
    class ArgumentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    CRAWLER_NAME_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    arguments: _containers.ScalarMap[str, str]
    timeout: int
    security_configuration: str
    notification_property: NotificationProperty
    crawler_name: str
    def __init__(self, job_name: _Optional[str] = ..., arguments: _Optional[_Mapping[str, str]] = ..., timeout: _Optional[int] = ..., security_configuration: _Optional[str] = ..., notification_property: _Optional[_Union[NotificationProperty, _Mapping]] = ..., crawler_name: _Optional[str] = ...) -> None: ...

class Condition(_message.Message):
    __slots__ = ("logical_operator", "job_name", "state", "crawler_name", "crawl_state")
    LOGICAL_OPERATOR_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CRAWLER_NAME_FIELD_NUMBER: _ClassVar[int]
    CRAWL_STATE_FIELD_NUMBER: _ClassVar[int]
    logical_operator: str
    job_name: str
    state: str
    crawler_name: str
    crawl_state: str
    def __init__(self, logical_operator: _Optional[str] = ..., job_name: _Optional[str] = ..., state: _Optional[str] = ..., crawler_name: _Optional[str] = ..., crawl_state: _Optional[str] = ...) -> None: ...

class Predicate(_message.Message):
    __slots__ = ("logical", "conditions")
    LOGICAL_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    logical: str
    conditions: _containers.RepeatedCompositeFieldContainer[Condition]
    def __init__(self, logical: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[Condition, _Mapping]]] = ...) -> None: ...

class EventBatchingCondition(_message.Message):
    __slots__ = ("batch_size", "batch_window")
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    BATCH_WINDOW_FIELD_NUMBER: _ClassVar[int]
    batch_size: int
    batch_window: int
    def __init__(self, batch_size: _Optional[int] = ..., batch_window: _Optional[int] = ...) -> None: ...

class Trigger(_message.Message):
    __slots__ = ("name", "workflow_name", "id", "type", "state", "description", "schedule", "actions", "predicate", "event_batching_condition", "schedule_time_zone", "next_fire_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    EVENT_BATCHING_CONDITION_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    workflow_name: str
    id: str
    type: TriggerType
    state: TriggerState
    description: str
    schedule: str
    actions: _containers.RepeatedCompositeFieldContainer[Action]
    predicate: Predicate
    event_batching_condition: EventBatchingCondition
    schedule_time_zone: str
    next_fire_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., workflow_name: _Optional[str] = ..., id: _Optional[str] = ..., type: _Optional[_Union[TriggerType, str]] = ..., state: _Optional[_Union[TriggerState, str]] = ..., description: _Optional[str] = ..., schedule: _Optional[str] = ..., actions: _Optional[_Iterable[_Union[Action, _Mapping]]] = ..., predicate: _Optional[_Union[Predicate, _Mapping]] = ..., event_batching_condition: _Optional[_Union[EventBatchingCondition, _Mapping]] = ..., schedule_time_zone: _Optional[str] = ..., next_fire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TriggerUpdate(_message.Message):
    __slots__ = ("name", "description", "schedule", "actions", "predicate", "event_batching_condition", "schedule_time_zone")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    EVENT_BATCHING_CONDITION_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    schedule: str
    actions: _containers.RepeatedCompositeFieldContainer[Action]
    predicate: Predicate
    event_batching_condition: EventBatchingCondition
    schedule_time_zone: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., schedule: _Optional[str] = ..., actions: _Optional[_Iterable[_Union[Action, _Mapping]]] = ..., predicate: _Optional[_Union[Predicate, _Mapping]] = ..., event_batching_condition: _Optional[_Union[EventBatchingCondition, _Mapping]] = ..., schedule_time_zone: _Optional[str] = ...) -> None: ...

class CreateTriggerRequest(_message.Message):
    __slots__ = ("name", "workflow_name", "type", "schedule", "predicate", "actions", "description", "start_on_creation", "tags", "event_batching_condition", "schedule_time_zone")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    START_ON_CREATION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    EVENT_BATCHING_CONDITION_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    name: str
    workflow_name: str
    type: TriggerType
    schedule: str
    predicate: Predicate
    actions: _containers.RepeatedCompositeFieldContainer[Action]
    description: str
    start_on_creation: bool
    tags: _containers.ScalarMap[str, str]
    event_batching_condition: EventBatchingCondition
    schedule_time_zone: str
    def __init__(self, name: _Optional[str] = ..., workflow_name: _Optional[str] = ..., type: _Optional[_Union[TriggerType, str]] = ..., schedule: _Optional[str] = ..., predicate: _Optional[_Union[Predicate, _Mapping]] = ..., actions: _Optional[_Iterable[_Union[Action, _Mapping]]] = ..., description: _Optional[str] = ..., start_on_creation: _Optional[bool] = ..., tags: _Optional[_Mapping[str, str]] = ..., event_batching_condition: _Optional[_Union[EventBatchingCondition, _Mapping]] = ..., schedule_time_zone: _Optional[str] = ...) -> None: ...

class CreateTriggerResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetTriggerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetTriggerResponse(_message.Message):
    __slots__ = ("trigger",)
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    trigger: Trigger
    def __init__(self, trigger: _Optional[_Union[Trigger, _Mapping]] = ...) -> None: ...

class GetTriggersRequest(_message.Message):
    __slots__ = ("next_token", "dependent_job_name", "max_results")
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEPENDENT_JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    next_token: str
    dependent_job_name: str
    max_results: int
    def __init__(self, next_token: _Optional[str] = ..., dependent_job_name: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class GetTriggersResponse(_message.Message):
    __slots__ = ("triggers", "next_token")
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    triggers: _containers.RepeatedCompositeFieldContainer[Trigger]
    next_token: str
    def __init__(self, triggers: _Optional[_Iterable[_Union[Trigger, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class ListTriggersRequest(_message.Message):
    __slots__ = ("next_token", "dependent_job_name", "max_results", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEPENDENT_JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    next_token: str
    dependent_job_name: str
    max_results: int
    tags: _containers.ScalarMap[str, str]
    def __init__(self, next_token: _Optional[str] = ..., dependent_job_name: _Optional[str] = ..., max_results: _Optional[int] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListTriggersResponse(_message.Message):
    __slots__ = ("trigger_names", "next_token")
    TRIGGER_NAMES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trigger_names: _containers.RepeatedScalarFieldContainer[str]
    next_token: str
    def __init__(self, trigger_names: _Optional[_Iterable[str]] = ..., next_token: _Optional[str] = ...) -> None: ...

class BatchGetTriggersRequest(_message.Message):
    __slots__ = ("trigger_names",)
    TRIGGER_NAMES_FIELD_NUMBER: _ClassVar[int]
    trigger_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, trigger_names: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetTriggersResponse(_message.Message):
    __slots__ = ("triggers", "triggers_not_found")
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    TRIGGERS_NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    triggers: _containers.RepeatedCompositeFieldContainer[Trigger]
    triggers_not_found: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, triggers: _Optional[_Iterable[_Union[Trigger, _Mapping]]] = ..., triggers_not_found: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateTriggerRequest(_message.Message):
    __slots__ = ("name", "trigger_update")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_UPDATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    trigger_update: TriggerUpdate
    def __init__(self, name: _Optional[str] = ..., trigger_update: _Optional[_Union[TriggerUpdate, _Mapping]] = ...) -> None: ...

class UpdateTriggerResponse(_message.Message):
    __slots__ = ("trigger",)
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    trigger: Trigger
    def __init__(self, trigger: _Optional[_Union[Trigger, _Mapping]] = ...) -> None: ...

class DeleteTriggerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteTriggerResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StartTriggerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StartTriggerResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StopTriggerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class StopTriggerResponse(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class NotifyEventRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class NotifyEventResponse(_message.Message):
    __slots__ = ("name", "pending_events")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PENDING_EVENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    pending_events: int
    def __init__(self, name: _Optional[str] = ..., pending_events: _Optional[int] = ...) -> None: ...
