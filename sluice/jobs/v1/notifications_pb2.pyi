import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluice.jobs.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_EVENT_KIND_UNSPECIFIED: _ClassVar[RunEventKind]
    RUN_EVENT_KIND_DELAYED: _ClassVar[RunEventKind]
    RUN_EVENT_KIND_FAILED: _ClassVar[RunEventKind]
    RUN_EVENT_KIND_TIMEOUT: _ClassVar[RunEventKind]
    RUN_EVENT_KIND_ERROR: _ClassVar[RunEventKind]
RUN_EVENT_KIND_UNSPECIFIED: RunEventKind
RUN_EVENT_KIND_DELAYED: RunEventKind
RUN_EVENT_KIND_FAILED: RunEventKind
RUN_EVENT_KIND_TIMEOUT: RunEventKind
RUN_EVENT_KIND_ERROR: RunEventKind

class RunEvent(_message.Message):
    __slots__ = ("id", "kind", "job_name", "run_id", "job_run_state", "message", "created_on", "notify_delay_after")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_RUN_STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_ON_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_DELAY_AFTER_FIELD_NUMBER: _ClassVar[int]
    id: int
    kind: RunEventKind
    job_name: str
    run_id: str
    job_run_state: _types_pb2.JobRunState
    message: str
    created_on: _timestamp_pb2.Timestamp
    notify_delay_after: int
    def __init__(self, id: _Optional[int] = ..., kind: _Optional[_Union[RunEventKind, str]] = ..., job_name: _Optional[str] = ..., run_id: _Optional[str] = ..., job_run_state: _Optional[_Union[_types_pb2.JobRunState, str]] = ..., message: _Optional[str] = ..., created_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., notify_delay_after: _Optional[int] = ...) -> None: ...

class GetRunEventsRequest(_message.Message):
    __slots__ = ("after_event_id", "max_results", "newest_first")
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    after_event_id: int
    max_results: int
    newest_first: bool
    def __init__(self, after_event_id: _Optional[int] = ..., max_results: _Optional[int] = ..., newest_first: _Optional[bool] = ...) -> None: ...

class GetRunEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[RunEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[RunEvent, _Mapping]]] = ...) -> None: ...

class WatchRunEventsRequest(_message.Message):
    __slots__ = ("after_event_id",)
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    after_event_id: int
    def __init__(self, after_event_id: _Optional[int] = ...) -> None: ...

class WatchRunEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[RunEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[RunEvent, _Mapping]]] = ...) -> None: ...

class Webhook(_message.Message):
    __slots__ = ("url", "last_modified_on")
    URL_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_ON_FIELD_NUMBER: _ClassVar[int]
    url: str
    last_modified_on: _timestamp_pb2.Timestamp
    def __init__(self, url: _Optional[str] = ..., last_modified_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutWebhookRequest(_message.Message):
    __slots__ = ("url", "secret")
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    url: str
    secret: str
    def __init__(self, url: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class PutWebhookResponse(_message.Message):
    __slots__ = ("webhook",)
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ...) -> None: ...

class GetWebhookRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetWebhookResponse(_message.Message):
    __slots__ = ("webhook",)
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    webhook: Webhook
    def __init__(self, webhook: _Optional[_Union[Webhook, _Mapping]] = ...) -> None: ...

class DeleteWebhookRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteWebhookResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
