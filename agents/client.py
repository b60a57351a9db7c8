"""AgentClient: the agent process's internal API as the RunSupervisor's methods.

The control plane holds one for the lifetime of the server; the agent behind the socket may be
restarted meanwhile. While no agent answers, reads say what little is known (a run is still
running, no new log text, an empty pool) and launches raise AgentUnavailable, so that nothing
is decided on the agent's absence alone. This module never imports Ray.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc

from sluice.agents.api import Method, Outcome, PoolStatus, RunLaunch, RunLogs, decode, encode
from sluice.agents.config import EnvironmentSpec
from sluice.agents.errors import AgentUnavailable, EnvironmentStartFailed, NoCapacity
from sluice.agents.isolation import IsolationTuple
from sluice.agents.runs import LogChunk, LogStream, RunProgress, RunRequest, RunState
from sluice.common.errors import AlreadyExists, InternalError, InvalidInput

# A launch waits for its environment, cold ones included (the agent enforces its own limits).
LAUNCH_TIMEOUT_S = 3600.0
CALL_TIMEOUT_S = 10.0
_CHANNEL_OPTIONS = [
    # A restarted agent is found again within a second, not after gRPC's default backoff.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]


class AgentClient:
    """Calls the agent listening on a unix socket; thread-safe.

    Args:
        socket_path: the agent's socket (sluice.agents.api.socket_path of its data dir).
        pool_size: the agent's configured pool size, reported while it does not answer.
    """

    def __init__(self, socket_path: Path, pool_size: int = 0) -> None:
        self._channel = grpc.insecure_channel(f"unix:{socket_path}", options=_CHANNEL_OPTIONS)
        self._pool_size = pool_size
        self._calls = {
            method: self._channel.unary_unary(
                method.path, request_serializer=encode, response_deserializer=decode
            )
            for method in Method
        }

    def close(self) -> None:
        self._channel.close()

    def launch(
        self, request: RunRequest, isolation: IsolationTuple, spec: EnvironmentSpec | None = None
    ) -> RunLaunch:
        """Execute a run; returns once its script started (see RunSupervisor.launch).

        Raises:
            AlreadyExists: the run id was launched before.
            NoCapacity: no environment now (AgentUnavailable: no agent now); nothing recorded.
            EnvironmentStartFailed: the agent could not start the run (message says why).
        """
        reply = self._call(
            Method.LAUNCH,
            {
                "request": request.to_dict(),
                "isolation": isolation.to_dict(),
                "spec": spec.to_dict() if spec is not None else None,
            },
            LAUNCH_TIMEOUT_S,
        )
        outcome, message = reply.get("outcome"), str(reply.get("message", ""))
        if outcome == Outcome.ALREADY_EXISTS:
            raise AlreadyExists(message or f"run {request.run_id} was already launched")
        if outcome == Outcome.NO_CAPACITY:
            raise NoCapacity(message)
        if outcome == Outcome.INVALID:
            raise InvalidInput(message)
        if outcome != Outcome.OK:
            raise EnvironmentStartFailed(message or "the agent could not launch the run")
        return RunLaunch(
            RunProgress.from_dict(reply["progress"]),
            str(reply["environment_id"]),
            bool(reply["warm"]),
        )

    def progress(self, run_id: str) -> RunProgress:
        """What the agent knows of a run; RUNNING while no agent answers."""
        try:
            reply = self._call(Method.PROGRESS, {"run_id": run_id})
        except AgentUnavailable:
            # Absence of the agent says nothing of the run: it may execute still.
            return RunProgress(run_id, RunState.RUNNING)
        return RunProgress.from_dict(reply["progress"])

    def stop(self, run_id: str) -> RunProgress:
        """Stop a run. Raises AgentUnavailable while no agent answers (call again later)."""
        return RunProgress.from_dict(self._call(Method.STOP, {"run_id": run_id})["progress"])

    def forget(self, run_id: str) -> None:
        """Drop what the agent keeps in memory of a finished run (nothing without an agent)."""
        try:
            self._call(Method.FORGET, {"run_id": run_id})
        except AgentUnavailable:
            return

    def read_logs(self, run_id: str, offsets: Mapping[LogStream, int]) -> RunLogs:
        """A run's progress and its streams' text from offsets, in one call (see
        RunSupervisor.read_logs); RUNNING and nothing new while no agent answers."""
        try:
            reply = self._call(
                Method.READ_LOGS,
                {
                    "run_id": run_id,
                    "offsets": {stream.value: offset for stream, offset in offsets.items()},
                },
            )
        except AgentUnavailable:
            return RunLogs(
                RunProgress(run_id, RunState.RUNNING),
                {stream: LogChunk("", offset, offset) for stream, offset in offsets.items()},
            )
        return RunLogs.from_dict(reply["logs"])

    def pool_status(self) -> PoolStatus:
        """The agent's pool; empty, and Ray not started, while no agent answers."""
        try:
            reply = self._call(Method.POOL_STATUS, {})
        except AgentUnavailable:
            return PoolStatus(self._pool_size, 0, 0, 0, 0, False, "")
        return PoolStatus(**reply["pool"])

    def shutdown(self, keep_environments: bool, timeout_s: float = CALL_TIMEOUT_S) -> bool:
        """Ask the agent to stop; it keeps its environments (and Ray) if keep_environments or
        if a run executes in one. Returns whether an agent took the request."""
        try:
            self._call(Method.SHUTDOWN, {"keep_environments": keep_environments}, timeout_s)
        except AgentUnavailable:
            return False
        return True

    def _call(
        self, method: Method, body: dict[str, Any], timeout_s: float = CALL_TIMEOUT_S
    ) -> dict[str, Any]:
        try:
            reply = self._calls[method](body, timeout=timeout_s)
        except grpc.RpcError as exc:
            # No agent listens (or it died mid-call): the caller decides what that means.
            code = exc.code() if isinstance(exc, grpc.Call) else None
            raise AgentUnavailable(f"the job agent did not answer ({code})") from None
        if reply.get("outcome") == Outcome.NOT_READY:
            raise AgentUnavailable(str(reply.get("message", "the job agent is not ready")))
        if method is not Method.LAUNCH:
            if reply.get("outcome") == Outcome.INVALID:
                raise InvalidInput(str(reply.get("message", "")))
            if reply.get("outcome") != Outcome.OK:
                raise InternalError(str(reply.get("message", "the job agent failed")))
        return reply
