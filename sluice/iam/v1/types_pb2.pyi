import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Effect(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EFFECT_UNSPECIFIED: _ClassVar[Effect]
    EFFECT_ALLOW: _ClassVar[Effect]
    EFFECT_DENY: _ClassVar[Effect]
EFFECT_UNSPECIFIED: Effect
EFFECT_ALLOW: Effect
EFFECT_DENY: Effect

class Principal(_message.Message):
    __slots__ = ("id", "account", "name", "roles", "description", "operator", "certificate_subject", "run_id", "created_on", "last_modified_on")
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_ON_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_ON_FIELD_NUMBER: _ClassVar[int]
    id: str
    account: str
    name: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    description: str
    operator: bool
    certificate_subject: str
    run_id: str
    created_on: _timestamp_pb2.Timestamp
    last_modified_on: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., account: _Optional[str] = ..., name: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., operator: _Optional[bool] = ..., certificate_subject: _Optional[str] = ..., run_id: _Optional[str] = ..., created_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_modified_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RoleList(_message.Message):
    __slots__ = ("roles",)
    ROLES_FIELD_NUMBER: _ClassVar[int]
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, roles: _Optional[_Iterable[str]] = ...) -> None: ...

class PrincipalUpdate(_message.Message):
    __slots__ = ("roles", "description", "certificate_subject")
    ROLES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    roles: RoleList
    description: str
    certificate_subject: str
    def __init__(self, roles: _Optional[_Union[RoleList, _Mapping]] = ..., description: _Optional[str] = ..., certificate_subject: _Optional[str] = ...) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("token_id", "account", "principal_name", "description", "created_on", "expires_on", "revoked_on")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_ON_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_ON_FIELD_NUMBER: _ClassVar[int]
    REVOKED_ON_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    account: str
    principal_name: str
    description: str
    created_on: _timestamp_pb2.Timestamp
    expires_on: _timestamp_pb2.Timestamp
    revoked_on: _timestamp_pb2.Timestamp
    def __init__(self, token_id: _Optional[str] = ..., account: _Optional[str] = ..., principal_name: _Optional[str] = ..., description: _Optional[str] = ..., created_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AccessKeyInfo(_message.Message):
    __slots__ = ("access_key_id", "account", "principal_name", "description", "created_on")
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_ON_FIELD_NUMBER: _ClassVar[int]
    access_key_id: str
    account: str
    principal_name: str
    description: str
    created_on: _timestamp_pb2.Timestamp
    def __init__(self, access_key_id: _Optional[str] = ..., account: _Optional[str] = ..., principal_name: _Optional[str] = ..., description: _Optional[str] = ..., created_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Statement(_message.Message):
    __slots__ = ("effect", "actions", "resources")
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    effect: Effect
    actions: _containers.RepeatedScalarFieldContainer[str]
    resources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, effect: _Optional[_Union[Effect, str]] = ..., actions: _Optional[_Iterable[str]] = ..., resources: _Optional[_Iterable[str]] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ("account", "name", "description", "roles", "statements", "created_on", "last_modified_on")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_ON_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_ON_FIELD_NUMBER: _ClassVar[int]
    account: str
    name: str
    description: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    statements: _containers.RepeatedCompositeFieldContainer[Statement]
    created_on: _timestamp_pb2.Timestamp
    last_modified_on: _timestamp_pb2.Timestamp
    def __init__(self, account: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., statements: _Optional[_Iterable[_Union[Statement, _Mapping]]] = ..., created_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_modified_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
