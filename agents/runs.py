"""Runs as the agents see them: the request, its progress, its states and its log streams."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from sluice.agents.naming import HEAD_MARKER_VAR
from sluice.common.errors import InvalidInput

_RUN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variables a run may not override: they hold the environment's Ray, Spark and Python wiring.
# SLUICE_* variables are the control plane's to set (job name, run id, endpoint), except the
# marker of the agents' own head.
_RESERVED_ENV_PREFIXES = ("RAY_", "SPARK_", "PYSPARK_", "JAVA_", "PYTHON")
_RESERVED_ENV_NAMES = frozenset(
    {"PATH", "HOME", "TMPDIR", "LD_LIBRARY_PATH", "CLASSPATH", HEAD_MARKER_VAR}
)
MAX_ERROR_MESSAGE_CHARS = 16_000
_CLIPPED = "\n[...]\n"


class RunState(StrEnum):
    """Where a run is; terminal states never change again."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    STOPPED = "STOPPED"
    # The run's environment vanished while nobody watched (e.g. during a control-plane restart)
    # and left no final status.
    LOST = "LOST"

    def is_terminal(self) -> bool:
        """Whether the run is over."""
        return self not in (RunState.STARTING, RunState.RUNNING)


class LogStream(StrEnum):
    """The log streams captured for each run."""

    STDOUT = "stdout"
    STDERR = "stderr"
    # Log lines of the Spark driver JVM.
    DRIVER = "driver"


def check_run_id(run_id: str) -> str:
    """Return run_id if it is usable as a directory name, else raise InvalidInput."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidInput(
            f"run id {run_id!r} must be 1-128 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'"
        )
    return run_id


@dataclass(frozen=True)
class RunRequest:
    """One run to execute in an environment.

    Attributes:
        run_id: the control plane's id; names the run's working dir.
        script_text: the Python source; runs as __main__ with `spark` (and `sc`) ready.
        arguments: Glue-style arguments; "--key" or "key" keys, passed as `--key value` in
            sys.argv.
        run_env: environment variables of this run only (scoped credentials among them).
        timeout_s: the run is stopped with state TIMEOUT after this many seconds of running.
        script_name: the file name the script is saved under in the run's working dir.
    """

    run_id: str
    script_text: str
    arguments: Mapping[str, str] = field(default_factory=dict)
    run_env: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 2880 * 60.0
    script_name: str = "script.py"

    def __post_init__(self) -> None:
        check_run_id(self.run_id)
        if not isinstance(self.script_text, str):
            raise InvalidInput("script_text must be a string")
        if isinstance(self.timeout_s, bool) or not self.timeout_s > 0:
            raise InvalidInput(f"timeout_s must be positive, not {self.timeout_s!r}")
        if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.py$", self.script_name):
            raise InvalidInput(f"script_name {self.script_name!r} must be a plain NAME.py")
        for key, value in self.arguments.items():
            name = key.removeprefix("--")
            if not name or not isinstance(value, str) or any(c.isspace() for c in name):
                raise InvalidInput(f"argument {key!r} must be a non-empty name with a str value")
        for key, value in self.run_env.items():
            if not _ENV_VAR.match(key) or not isinstance(value, str) or "\0" in value:
                raise InvalidInput(f"run environment variable {key!r} is not a valid variable")
            if key in _RESERVED_ENV_NAMES or key.startswith(_RESERVED_ENV_PREFIXES):
                raise InvalidInput(f"run environment variable {key!r} is reserved")
        object.__setattr__(self, "arguments", dict(self.arguments))
        object.__setattr__(self, "run_env", dict(self.run_env))

    def argv(self, script_path: str) -> list[str]:
        """sys.argv of the script: its path, then `--key value` for every argument."""
        argv = [script_path]
        for key, value in self.arguments.items():
            argv += ["--" + key.removeprefix("--"), value]
        return argv

    def to_dict(self) -> dict[str, Any]:
        """Plain values, to cross process boundaries."""
        return {
            "run_id": self.run_id,
            "script_text": self.script_text,
            "arguments": dict(self.arguments),
            "run_env": dict(self.run_env),
            "timeout_s": self.timeout_s,
            "script_name": self.script_name,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunRequest:
        """The inverse of to_dict."""
        return cls(**values)


@dataclass(frozen=True)
class RunProgress:
    """What is known of a run. Times are seconds since the epoch.

    Attributes:
        run_id: the run.
        state: where it is.
        environment_id: the environment it ran in, if it got one.
        error_message: why it failed (a traceback for a failing script), else "".
        started_at: when the environment began executing it.
        first_line_at: when the first line of its script started.
        finished_at: when it reached a terminal state.
    """

    run_id: str
    state: RunState
    environment_id: str = ""
    error_message: str = ""
    started_at: float | None = None
    first_line_at: float | None = None
    finished_at: float | None = None

    def finish(self, state: RunState, error_message: str, at: float) -> RunProgress:
        """This progress moved to a terminal state (unchanged if it already is terminal)."""
        if self.state.is_terminal():
            return self
        return replace(self, state=state, error_message=clip_error(error_message), finished_at=at)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, to cross process boundaries and to store as JSON."""
        return {
            "run_id": self.run_id,
            "state": self.state.value,
            "environment_id": self.environment_id,
            "error_message": self.error_message,
            "started_at": self.started_at,
            "first_line_at": self.first_line_at,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunProgress:
        """The inverse of to_dict."""
        return cls(
            run_id=values["run_id"],
            state=RunState(values["state"]),
            environment_id=values.get("environment_id") or "",
            error_message=values.get("error_message") or "",
            started_at=values.get("started_at"),
            first_line_at=values.get("first_line_at"),
            finished_at=values.get("finished_at"),
        )


@dataclass(frozen=True)
class LogChunk:
    """Part of one run's log stream.

    Attributes:
        text: the bytes read, decoded as UTF-8 (undecodable bytes replaced).
        offset: the byte offset text starts at.
        next_offset: where to read next time.
    """

    text: str
    offset: int
    next_offset: int


def clip_error(message: str) -> str:
    """An error message short enough to store: its head (what failed) and its tail (why)."""
    if len(message) <= MAX_ERROR_MESSAGE_CHARS:
        return message
    head = MAX_ERROR_MESSAGE_CHARS // 4
    tail = MAX_ERROR_MESSAGE_CHARS - head - len(_CLIPPED)
    return message[:head] + _CLIPPED + message[-tail:]
