from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobBookmarkEntry(_message.Message):
    __slots__ = ("job_name", "version", "run", "attempt", "previous_run_id", "run_id", "job_bookmark")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_BOOKMARK_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    version: int
    run: int
    attempt: int
    previous_run_id: str
    run_id: str
    job_bookmark: str
    def __init__(self, job_name: _Optional[str] = ..., version: _Optional[int] = ..., run: _Optional[int] = ..., attempt: _Optional[int] = ..., previous_run_id: _Optional[str] = ..., run_id: _Optional[str] = ..., job_bookmark: _Optional[str] = ...) -> None: ...

class GetJobBookmarkRequest(_message.Message):
    __slots__ = ("job_name", "run_id")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    run_id: str
    def __init__(self, job_name: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class GetJobBookmarkResponse(_message.Message):
    __slots__ = ("job_bookmark_entry",)
    JOB_BOOKMARK_ENTRY_FIELD_NUMBER: _ClassVar[int]
    job_bookmark_entry: JobBookmarkEntry
    def __init__(self, job_bookmark_entry: _Optional[_Union[JobBookmarkEntry, _Mapping]] = ...) -> None: ...

class ResetJobBookmarkRequest(_message.Message):
    __slots__ = ("job_name", "run_id")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    run_id: str
    def __init__(self, job_name: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class ResetJobBookmarkResponse(_message.Message):
    __slots__ = ("job_bookmark_entry",)
    JOB_BOOKMARK_ENTRY_FIELD_NUMBER: _ClassVar[int]
    job_bookmark_entry: JobBookmarkEntry
    def __init__(self, job_bookmark_entry: _Optional[_Union[JobBookmarkEntry, _Mapping]] = ...) -> None: ...

class CommitJobBookmarkRequest(_message.Message):
    __slots__ = ("job_name", "run_id", "job_bookmark")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_BOOKMARK_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    run_id: str
    job_bookmark: str
    def __init__(self, job_name: _Optional[str] = ..., run_id: _Optional[str] = ..., job_bookmark: _Optional[str] = ...) -> None: ...

class CommitJobBookmarkResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
