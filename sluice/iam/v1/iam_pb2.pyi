from sluice.iam.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreatePrincipalRequest(_message.Message):
    __slots__ = ("account", "name", "roles", "description", "operator", "certificate_subject")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    account: str
    name: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    description: str
    operator: bool
    certificate_subject: str
    def __init__(self, account: _Optional[str] = ..., name: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., operator: _Optional[bool] = ..., certificate_subject: _Optional[str] = ...) -> None: ...

class CreatePrincipalResponse(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _types_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_types_pb2.Principal, _Mapping]] = ...) -> None: ...

class GetPrincipalRequest(_message.Message):
    __slots__ = ("account", "name")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    account: str
    name: str
    def __init__(self, account: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetPrincipalResponse(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _types_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_types_pb2.Principal, _Mapping]] = ...) -> None: ...

class ListPrincipalsRequest(_message.Message):
    __slots__ = ("account", "next_token", "max_results")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    account: str
    next_token: str
    max_results: int
    def __init__(self, account: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class ListPrincipalsResponse(_message.Message):
    __slots__ = ("principals", "next_token")
    PRINCIPALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    principals: _containers.RepeatedCompositeFieldContainer[_types_pb2.Principal]
    next_token: str
    def __init__(self, principals: _Optional[_Iterable[_Union[_types_pb2.Principal, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class UpdatePrincipalRequest(_message.Message):
    __slots__ = ("account", "name", "principal_update")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_UPDATE_FIELD_NUMBER: _ClassVar[int]
    account: str
    name: str
    principal_update: _types_pb2.PrincipalUpdate
    def __init__(self, account: _Optional[str] = ..., name: _Optional[str] = ..., principal_update: _Optional[_Union[_types_pb2.PrincipalUpdate, _Mapping]] = ...) -> None: ...

class UpdatePrincipalResponse(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _types_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_types_pb2.Principal, _Mapping]] = ...) -> None: ...

class DeletePrincipalRequest(_message.Message):
    __slots__ = ("account", "name")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    account: str
    name: str
    def __init__(self, account: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeletePrincipalResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("account", "principal_name", "description", "expires_in_seconds")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    account: str
    principal_name: str
    description: str
    expires_in_seconds: int
    def __init__(self, account: _Optional[str] = ..., principal_name: _Optional[str] = ..., description: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "token_info")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_INFO_FIELD_NUMBER: _ClassVar[int]
    token: str
    token_info: _types_pb2.TokenInfo
    def __init__(self, token: _Optional[str] = ..., token_info: _Optional[_Union[_types_pb2.TokenInfo, _Mapping]] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("account", "principal_name", "next_token", "max_results")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_NAME_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    account: str
    principal_name: str
    next_token: str
    max_results: int
    def __init__(self, account: _Optional[str] = ..., principal_name: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens", "next_token")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[_types_pb2.TokenInfo]
    next_token: str
    def __init__(self, tokens: _Optional[_Iterable[_Union[_types_pb2.TokenInfo, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("account", "token_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    account: str
    token_id: str
    def __init__(self, account: _Optional[str] = ..., token_id: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ("token_info",)
    TOKEN_INFO_FIELD_NUMBER: _ClassVar[int]
    token_info: _types_pb2.TokenInfo
    def __init__(self, token_info: _Optional[_Union[_types_pb2.TokenInfo, _Mapping]] = ...) -> None: ...

class PutPolicyRequest(_message.Message):
    __slots__ = ("account", "name", "description", "roles", "statements")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    account: str
    name: str
    description: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    statements: _containers.RepeatedCompositeFieldContainer[_types_pb2.Statement]
    def __init__(self, account: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., statements: _Optional[_Iterable[_Union[_types_pb2.Statement, _Mapping]]] = ...) -> None: ...

class PutPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: _types_pb2.Policy
    def __init__(self, policy: _Optional[_Union[_types_pb2.Policy, _Mapping]] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ("account", "name")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    account: str
    name: str
    def __init__(self, account: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: _types_pb2.Policy
    def __init__(self, policy: _Optional[_Union[_types_pb2.Policy, _Mapping]] = ...) -> None: ...

class ListPoliciesRequest(_message.Message):
    __slots__ = ("account", "role", "next_token", "max_results")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    account: str
    role: str
    next_token: str
    max_results: int
    def __init__(self, account: _Optional[str] = ..., role: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class ListPoliciesResponse(_message.Message):
    __slots__ = ("policies", "next_token")
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[_types_pb2.Policy]
    next_token: str
    def __init__(self, policies: _Optional[_Iterable[_Union[_types_pb2.Policy, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class DeletePolicyRequest(_message.Message):
    __slots__ = ("account", "name")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    account: str
    name: str
    def __init__(self, account: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeletePolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateAccessKeyRequest(_message.Message):
    __slots__ = ("account", "principal_name", "description", "access_key_id", "secret_access_key")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    account: str
    principal_name: str
    description: str
    access_key_id: str
    secret_access_key: str
    def __init__(self, account: _Optional[str] = ..., principal_name: _Optional[str] = ..., description: _Optional[str] = ..., access_key_id: _Optional[str] = ..., secret_access_key: _Optional[str] = ...) -> None: ...

class CreateAccessKeyResponse(_message.Message):
    __slots__ = ("access_key_info", "secret_access_key")
    ACCESS_KEY_INFO_FIELD_NUMBER: _ClassVar[int]
    SECRET_ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    access_key_info: _types_pb2.AccessKeyInfo
    secret_access_key: str
    def __init__(self, access_key_info: _Optional[_Union[_types_pb2.AccessKeyInfo, _Mapping]] = ..., secret_access_key: _Optional[str] = ...) -> None: ...

class ListAccessKeysRequest(_message.Message):
    __slots__ = ("account", "principal_name", "next_token", "max_results")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_NAME_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    account: str
    principal_name: str
    next_token: str
    max_results: int
    def __init__(self, account: _Optional[str] = ..., principal_name: _Optional[str] = ..., next_token: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class ListAccessKeysResponse(_message.Message):
    __slots__ = ("access_keys", "next_token")
    ACCESS_KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    access_keys: _containers.RepeatedCompositeFieldContainer[_types_pb2.AccessKeyInfo]
    next_token: str
    def __init__(self, access_keys: _Optional[_Iterable[_Union[_types_pb2.AccessKeyInfo, _Mapping]]] = ..., next_token: _Optional[str] = ...) -> None: ...

class DeleteAccessKeyRequest(_message.Message):
    __slots__ = ("account", "access_key_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    account: str
    access_key_id: str
    def __init__(self, account: _Optional[str] = ..., access_key_id: _Optional[str] = ...) -> None: ...

class DeleteAccessKeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
