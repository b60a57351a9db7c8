import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluice.audit.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryAuditEventsRequest(_message.Message):
    __slots__ = ("principal", "action", "resource", "outcome", "start_time", "end_time", "account", "next_token", "max_results", "trace_id")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    principal: str
    action: str
    resource: str
    outcome: _types_pb2.AuditOutcome
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    account: str
    next_token: str
    max_results: int
    trace_id: str
    def __init__(self, principal: _Optional[str] = ..., action: _Optional[str] = ..., resource: _Optional[str] = ..., outcome: _Optional[_Union[_types_pb2.AuditOutcome, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., account: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ..., trace_id: _Optional[str] = ...) -> None: ...

class QueryAuditEventsResponse(_message.Message):
    __slots__ = ("events", "next_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.AuditEvent]
    next_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[_types_pb2.AuditEvent, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class FollowAuditEventsRequest(_message.Message):
    __slots__ = ("principal", "action", "resource", "outcome", "start_time", "account", "trace_id")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    principal: str
    action: str
    resource: str
    outcome: _types_pb2.AuditOutcome
    start_time: _timestamp_pb2.Timestamp
    account: str
    trace_id: str
    def __init__(self, principal: _Optional[str] = ..., action: _Optional[str] = ..., resource: _Optional[str] = ..., outcome: _Optional[_Union[_types_pb2.AuditOutcome, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., account: _Optional[str] = ..., trace_id: _Optional[str] = ...) -> None: ...

class FollowAuditEventsResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.AuditEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[_types_pb2.AuditEvent, _Mapping]]] = ...) -> None: ...
