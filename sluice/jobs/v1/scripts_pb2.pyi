from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetScriptRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetScriptResponse(_message.Message):
    __slots__ = ("name", "content", "script_location")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_LOCATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    content: bytes
    script_location: str
    def __init__(self, name: _Optional[str] = ..., content: _Optional[bytes] = ..., script_location: _Optional[str] = ...) -> None: ...
