"""The RunExecutor that runs jobs on Ray: the control plane's view of the job agent (an
agents.client.AgentClient talking to the agent process, which hosts agents.RunSupervisor).

It translates the control plane's run model into the agents' (isolation tuple, worker shape,
run request), the agents' run states back into execution states, and the agents' per-stream log
files into numbered log lines with a resumable cursor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sluice.agents.api import PoolStatus, RunLaunch, RunLogs
from sluice.agents.config import EnvironmentSpec
from sluice.agents.errors import AgentUnavailable, NoCapacity
from sluice.agents.isolation import IsolationTuple as AgentsIsolation
from sluice.agents.runs import LogStream as AgentsStream
from sluice.agents.runs import RunProgress as AgentsProgress
from sluice.agents.runs import RunRequest
from sluice.agents.runs import RunState as AgentsState
from sluice.common.errors import AlreadyExists, SluiceError
from sluice.control_plane.jobs.executor import (
    CapacityUnavailable,
    ExecutionState,
    LaunchError,
    LaunchInfo,
    LaunchRequest,
    LogBatch,
    PoolSnapshot,
    RunProgress,
)
from sluice.control_plane.jobs.model import IsolationTuple, LogLine, LogStream, WorkerSpec

# The agents enforce a run's timeout only as a backstop: the scheduler's own deadline comes
# first, so that the run ends TIMEOUT in the store rather than FAILED.
AGENTS_TIMEOUT_GRACE_S = 30.0
_SCRIPT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.py$")
_STREAMS = {
    LogStream.STDOUT: AgentsStream.STDOUT,
    LogStream.STDERR: AgentsStream.STDERR,
    LogStream.DRIVER: AgentsStream.DRIVER,
}
_FAILED_STATES = {
    AgentsState.FAILED: "",
    AgentsState.TIMEOUT: "the run exceeded its timeout",
    AgentsState.STOPPED: "the run was stopped",
}


def environment_spec(worker: WorkerSpec, default: EnvironmentSpec) -> EnvironmentSpec:
    """The environment a run of this worker shape needs; a run without executors (a Python
    shell job) takes the default (pooled) shape, since it needs no particular one."""
    if worker.num_executors == 0:
        return default
    return EnvironmentSpec(
        executors=worker.num_executors,
        executor_cores=worker.executor_cores,
        executor_memory_mb=worker.executor_memory_mb,
        driver_memory_mb=worker.driver_memory_mb,
        driver_cpus=worker.driver_cores,
    )


def agents_isolation(isolation: IsolationTuple) -> AgentsIsolation:
    return AgentsIsolation(
        account=isolation.account,
        role=isolation.role,
        subnet=isolation.subnet_id,
        security_group=isolation.security_group_id,
    )


class AgentRuns(Protocol):
    """What the executor needs of the agent: RunSupervisor's methods (AgentClient has them)."""

    def launch(
        self, request: RunRequest, isolation: AgentsIsolation, spec: EnvironmentSpec | None = None
    ) -> RunLaunch: ...

    def progress(self, run_id: str) -> AgentsProgress: ...

    def stop(self, run_id: str) -> AgentsProgress: ...

    def forget(self, run_id: str) -> None: ...

    def read_logs(self, run_id: str, offsets: Mapping[AgentsStream, int]) -> RunLogs: ...

    def pool_status(self) -> PoolStatus: ...


class AgentsExecutor:
    """Executes runs through the job agent; implements RunExecutor."""

    def __init__(self, supervisor: AgentRuns, default_spec: EnvironmentSpec) -> None:
        self._supervisor = supervisor
        self._default_spec = default_spec
        # Whether each run in flight got a warm environment, for a repeated launch call.
        self._warm: dict[str, bool] = {}

    def launch(self, request: LaunchRequest) -> LaunchInfo:
        try:
            run = RunRequest(
                run_id=request.run_id,
                script_text=request.script_text,
                # As in Glue, every script is told its job name and run id.
                arguments={
                    **request.arguments,
                    "--JOB_NAME": request.job_name,
                    "--JOB_RUN_ID": request.run_id,
                },
                run_env=request.run_env,
                timeout_s=max(request.timeout_s, 1.0) + AGENTS_TIMEOUT_GRACE_S,
                script_name=_script_name(request.script_location),
            )
            launched = self._supervisor.launch(
                run,
                agents_isolation(request.isolation),
                environment_spec(request.worker, self._default_spec),
            )
        except AlreadyExists:
            progress = self._supervisor.progress(request.run_id)
            return LaunchInfo(progress.environment_id, self._warm.get(request.run_id, False))
        except AgentUnavailable as exc:
            raise CapacityUnavailable(exc.message, no_room=False) from exc
        except NoCapacity as exc:
            raise CapacityUnavailable(exc.message) from exc
        except SluiceError as exc:
            raise LaunchError(exc.message) from exc
        self._warm[request.run_id] = launched.warm
        return LaunchInfo(launched.environment_id, launched.warm)

    def poll(self, run_id: str) -> RunProgress | None:
        return _execution_progress(self._supervisor.progress(run_id))

    def stop(self, run_id: str) -> None:
        self._supervisor.stop(run_id)

    def read_logs(self, run_id: str, cursor: str) -> LogBatch:
        return self.follow(run_id, cursor)[1]

    def follow(self, run_id: str, cursor: str) -> tuple[RunProgress | None, LogBatch]:
        offsets = _decode_cursor(cursor)
        logs = self._supervisor.read_logs(
            run_id, {ours: offsets.get(stream.value, 0) for stream, ours in _STREAMS.items()}
        )
        lines: list[LogLine] = []
        now = datetime.now(UTC)
        for stream, agents_stream in _STREAMS.items():
            chunk = logs.chunks.get(agents_stream)
            if chunk is None:
                continue
            offsets[stream.value] = chunk.next_offset
            text = chunk.text.removesuffix("\n")
            if text or chunk.text:
                lines.extend(LogLine(stream, now, line) for line in text.split("\n"))
        batch = LogBatch(lines, json.dumps(offsets, sort_keys=True, separators=(",", ":")))
        return _execution_progress(logs.progress), batch

    def forget(self, run_id: str) -> None:
        self._warm.pop(run_id, None)
        self._supervisor.forget(run_id)

    def pool_status(self) -> PoolSnapshot:
        status = self._supervisor.pool_status()
        return PoolSnapshot(**pool_counts(status), resource_limits=status.resource_limits)


def pool_counts(status: PoolStatus) -> dict[str, Any]:
    """The fields an agent's PoolStatus shares with PoolSnapshot and SandboxSnapshot: the one
    conversion from the agents' status to the API's."""
    return {
        "target_size": status.target_size,
        "warm": status.warm,
        "starting": status.starting,
        "bound_idle": status.bound_idle,
        "busy": status.busy,
        "ray_started": status.ray_started,
        "ray_address": status.ray_address,
    }


def _execution_progress(progress: AgentsProgress) -> RunProgress | None:
    if progress.state is AgentsState.LOST:
        return None
    started = _time(progress.started_at)
    if not progress.state.is_terminal():
        return RunProgress(ExecutionState.RUNNING, started_at=started)
    finished = _time(progress.finished_at)
    if progress.state is AgentsState.SUCCEEDED:
        return RunProgress(ExecutionState.SUCCEEDED, started_at=started, finished_at=finished)
    message = progress.error_message or _FAILED_STATES.get(progress.state, "") or "the run failed"
    return RunProgress(
        ExecutionState.FAILED, error_message=message, started_at=started, finished_at=finished
    )


def _time(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)


def _script_name(location: str) -> str:
    name = location.rstrip("/").rsplit("/", 1)[-1]
    return name if _SCRIPT_NAME.match(name) else "script.py"


def _decode_cursor(cursor: str) -> dict[str, int]:
    if not cursor:
        return {}
    try:
        values = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(values, dict):
        return {}
    return {k: v for k, v in values.items() if isinstance(k, str) and isinstance(v, int)}
