"""The agent's internal API: what crosses between the control plane and an agent process.

An agent process (`python -m agents.service`) is the Ray driver of one cluster; the control plane
talks to it over gRPC on a Unix socket in a 0700 directory (the directory's mode is the
authentication), with JSON bodies built from the agents' own dataclasses. This module holds the
method names, the bodies' shapes and the agent's configuration on the wire; it never imports Ray,
so the control plane can use it without becoming a Ray driver.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sluice.agents.config import AgentsConfig, EnvironmentSpec, PoolConfig, RayConfig
from sluice.agents.ports import PortBlock
from sluice.agents.runs import LogChunk, LogStream, RunProgress

SERVICE = "sluice.agent.internal.Agent"
SOCKET_NAME = "agent.sock"
# A unix socket path holds at most 107 bytes.
MAX_SOCKET_PATH_CHARS = 100
# Exit code of an agent whose Ray cluster died: the control plane starts it again at once.
EXIT_CLUSTER_LOST = 3


class Method(StrEnum):
    """The agent's RPCs (unary, JSON in and out)."""

    LAUNCH = "Launch"
    PROGRESS = "GetProgress"
    STOP = "StopRun"
    READ_LOGS = "ReadLogs"
    FORGET = "ForgetRun"
    POOL_STATUS = "GetPoolStatus"
    SHUTDOWN = "Shutdown"

    @property
    def path(self) -> str:
        """The gRPC method path."""
        return f"/{SERVICE}/{self.value}"


class Outcome(StrEnum):
    """How a call ended, in every response's "outcome"."""

    OK = "ok"
    # The run id was launched before (Launch): the response holds its progress.
    ALREADY_EXISTS = "already_exists"
    # No environment can take the run now; nothing was recorded, launch it again later.
    NO_CAPACITY = "no_capacity"
    # The agent is starting or stopping; nothing was recorded, call again later.
    NOT_READY = "not_ready"
    # The request failed; "message" says why.
    FAILED = "failed"
    # The request was malformed.
    INVALID = "invalid"


@dataclass(frozen=True)
class RunLaunch:
    """A launched run: its progress, its environment, and whether that came warm."""

    progress: RunProgress
    environment_id: str
    warm: bool


@dataclass(frozen=True)
class RunLogs:
    """What following a run takes, in one call: its progress and, read after it, each
    stream's text from the offset asked for (all the run wrote once progress is terminal)."""

    progress: RunProgress
    chunks: Mapping[LogStream, LogChunk]

    def to_dict(self) -> dict[str, Any]:
        return {
            "progress": self.progress.to_dict(),
            "chunks": {
                stream.value: {
                    "text": chunk.text,
                    "offset": chunk.offset,
                    "next_offset": chunk.next_offset,
                }
                for stream, chunk in self.chunks.items()
            },
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunLogs:
        return cls(
            RunProgress.from_dict(values["progress"]),
            {
                LogStream(stream): LogChunk(
                    str(chunk["text"]), int(chunk["offset"]), int(chunk["next_offset"])
                )
                for stream, chunk in values["chunks"].items()
            },
        )


@dataclass(frozen=True)
class PoolStatus:
    """Counts of the pool's environments, and whether Ray is up."""

    target_size: int
    warm: int
    starting: int
    bound_idle: int
    busy: int
    ray_started: bool
    ray_address: str
    # Whether the kernel enforces environments' resource limits, and which (sluice.agents.limits).
    resource_limits: str = ""


@dataclass(frozen=True)
class AgentSettings:
    """What the control plane tells an agent process at its start (one JSON line on stdin)."""

    config: AgentsConfig
    socket_path: Path
    # The lowest level of the records the agent sends to the server to log.
    log_level: str = "INFO"

    def to_json(self) -> str:
        """One line of JSON: every field of the config, so none can be left out of it."""
        body = {
            "socket_path": str(self.socket_path),
            "log_level": self.log_level,
            **dataclasses.asdict(self.config),
        }
        return json.dumps(body, default=str, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> AgentSettings:
        """The inverse of to_json; InvalidInput (from the config classes) on bad values."""
        values = json.loads(text)
        ray = dict(values["ray"])
        for key in ("auth_token_path", "temp_dir"):
            ray[key] = Path(ray[key]) if ray[key] is not None else None
        ray["ports"] = PortBlock(**ray["ports"]) if ray.get("ports") else None
        pool = dict(values["pool"])
        pool["spec"] = EnvironmentSpec.from_dict(pool["spec"])
        config = AgentsConfig(
            data_dir=Path(values["data_dir"]),
            ray=RayConfig(**ray),
            pool=PoolConfig(**pool),
            poll_interval_s=values["poll_interval_s"],
            rpc_timeout_s=values["rpc_timeout_s"],
            teardown_timeout_s=values["teardown_timeout_s"],
            run_as=values.get("run_as"),
            work_dir=Path(values["work_dir"]) if values.get("work_dir") is not None else None,
        )
        return cls(
            config=config,
            socket_path=Path(values["socket_path"]),
            log_level=str(values.get("log_level", "INFO")),
        )


def socket_path(data_dir: Path) -> Path:
    """Where the agent of data_dir listens: in the data dir, or in a short directory named after
    it when the data dir is too long for a unix socket path."""
    path = Path(data_dir).absolute() / "agent" / SOCKET_NAME
    if len(str(path)) <= MAX_SOCKET_PATH_CHARS:
        return path
    digest = hashlib.sha256(str(Path(data_dir).absolute()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"sluice-agent-{digest}" / SOCKET_NAME


def log_line(level: str, logger: str, message: str, exc: str = "") -> str:
    """One log record of the agent as the server reads it from the agent's output."""
    entry = {"level": level, "logger": logger, "msg": message}
    if exc:
        entry["exc"] = exc
    return json.dumps(entry, ensure_ascii=False)


def parse_log_line(line: str) -> dict[str, str] | None:
    """The inverse of log_line; None for any other output (Ray's own, for one)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("msg"), str):
        return None
    return {key: str(value) for key, value in entry.items()}


def encode(body: dict[str, Any]) -> bytes:
    """A request or response body on the wire."""
    return json.dumps(body, separators=(",", ":")).encode()


def decode(data: bytes) -> dict[str, Any]:
    """The inverse of encode; a body that is not a JSON object decodes as {}."""
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
