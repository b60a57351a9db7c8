"""Run states and log streams by name, over the enums of sluice.jobs.v1."""

from __future__ import annotations

from enum import StrEnum

from sluice.jobs.v1 import types_pb2

_STATE_PREFIX = "JOB_RUN_STATE_"
_STREAM_PREFIX = "LOG_STREAM_"


class RunState(StrEnum):
    """The state of a job run, as Glue names it.

    Example:
        >>> RunState.of(types_pb2.JobRun(job_run_state=types_pb2.JOB_RUN_STATE_FAILED))
        <RunState.FAILED: 'FAILED'>
        >>> RunState.FAILED.is_terminal()
        True
    """

    UNSPECIFIED = "UNSPECIFIED"
    WAITING = "WAITING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"

    @classmethod
    def of(cls, value: types_pb2.JobRun | int) -> RunState:
        """The state of a run, or of a JobRunState enum value.

        A value this SDK does not know (from a newer server) is UNSPECIFIED.
        """
        number = value.job_run_state if isinstance(value, types_pb2.JobRun) else value
        try:
            name = types_pb2.JobRunState.Name(number)
        except ValueError:
            return cls.UNSPECIFIED
        return cls(name.removeprefix(_STATE_PREFIX))

    @property
    def proto(self) -> types_pb2.JobRunState.ValueType:
        """The JobRunState enum value."""
        return types_pb2.JobRunState.Value(_STATE_PREFIX + self.value)

    def is_terminal(self) -> bool:
        """A terminal run never changes state again."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {RunState.STOPPED, RunState.SUCCEEDED, RunState.FAILED, RunState.TIMEOUT, RunState.ERROR}
)

LogStreamLike = str | int | None


def log_stream(value: LogStreamLike) -> types_pb2.LogStream.ValueType:
    """The LogStream enum value of "stdout", "stderr", "driver" (any case), an enum value, or
    None for every stream.

    Raises:
        ValueError: `value` names no stream.
    """
    if value is None:
        return types_pb2.LOG_STREAM_UNSPECIFIED
    if isinstance(value, int):
        if value not in types_pb2.LogStream.values():
            raise ValueError(f"{value} is not a LogStream value")
        return types_pb2.LogStream.ValueType(value)
    name = value.upper()
    if not name.startswith(_STREAM_PREFIX):
        name = _STREAM_PREFIX + name
    try:
        number = types_pb2.LogStream.Value(name)
    except ValueError:
        number = types_pb2.LOG_STREAM_UNSPECIFIED
    if number == types_pb2.LOG_STREAM_UNSPECIFIED:
        raise ValueError(f"log stream {value!r} is not stdout, stderr or driver")
    return number


def log_stream_name(value: int) -> str:
    """'stdout', 'stderr' or 'driver' for a LogStream value; '' when unspecified or unknown."""
    try:
        name = types_pb2.LogStream.Name(value)
    except ValueError:
        return ""
    return (
        ""
        if value == types_pb2.LOG_STREAM_UNSPECIFIED
        else name.removeprefix(_STREAM_PREFIX).lower()
    )
