"""The execution side of runs, as the scheduler and reconciler see it.

The agents package provides the real RunExecutor (Ray environments from a warm pool); tests use
a double. Every method is called with a run id and must be safe to call again for the same run
(the control plane may restart between two calls).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sluice.control_plane.jobs.model import (
    CommandName,
    IsolationTuple,
    JobRun,
    LogLine,
    RunState,
    WorkerSpec,
)


@dataclass(frozen=True)
class LaunchRequest:
    """Everything an executor needs to start one run."""

    run_id: str
    job_name: str
    attempt: int
    command: CommandName
    isolation: IsolationTuple
    worker: WorkerSpec
    script_location: str
    script_text: str
    # The run's arguments, --JOB_NAME and --JOB_RUN_ID not included.
    arguments: Mapping[str, str]
    # Seconds left before the run times out; the scheduler enforces it too.
    timeout_s: float
    # Extra environment variables for the script's process.
    run_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LaunchInfo:
    environment_id: str
    # True if the environment came ready from the warm pool.
    warm: bool


class ExecutionState(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class RunProgress:
    state: ExecutionState
    error_message: str = ""
    # When the script started and ended in its environment, if it has.
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class LogBatch:
    lines: Sequence[LogLine]
    # Pass back to read_logs to get the lines after these.
    cursor: str


@dataclass(frozen=True)
class SandboxSnapshot:
    """One sandbox (an agent with its own Ray head, for one account) and its environments."""

    sandbox_id: str
    # Empty for an unbound spare.
    account: str
    os_user: str
    # "up" (its agent process runs) or "down".
    state: str
    target_size: int
    warm: int
    starting: int
    bound_idle: int
    busy: int
    ray_started: bool
    ray_address: str
    # Whether the kernel refuses the sandbox's OS user the database ("enforced: ..."), or why not.
    network_policy: str = ""
    # Since when a bound sandbox has had no run; None while it has one, and for a spare.
    idle_since: datetime | None = None
    # The sandbox's own kernel limits (its cgroup), "enforced: ..." or "not enforced: <why>".
    resource_limits: str = ""


@dataclass(frozen=True)
class QueuedRun:
    """A run waiting for room (WAITING, with job run queuing); position 1 starts next of its
    account's."""

    account: str
    job_name: str
    run_id: str
    position: int
    started_on: datetime


def queue_of(runs: Sequence[JobRun]) -> tuple[QueuedRun, ...]:
    """The WAITING runs of runs (the store's active runs, oldest first), each account's numbered
    in the order the scheduler launches them."""
    positions: dict[str, int] = {}
    queue = []
    for run in runs:
        if run.state is RunState.WAITING:
            positions[run.account] = positions.get(run.account, 0) + 1
            queue.append(
                QueuedRun(run.account, run.job_name, run.id, positions[run.account], run.started_on)
            )
    return tuple(queue)


@dataclass(frozen=True)
class PoolSnapshot:
    """The warm pool's environments by what they do, and whether Ray is up (GetPoolStatus)."""

    target_size: int
    warm: int
    starting: int
    bound_idle: int
    busy: int
    ray_started: bool
    ray_address: str
    # Whether the kernel enforces environments' resource limits, and which ("" if unknown).
    resource_limits: str = ""
    # Each account's sandbox and the spares; empty with one shared agent (--ray-address).
    sandboxes: tuple[SandboxSnapshot, ...] = ()
    # The runs waiting for room, each account's in order.
    queue: tuple[QueuedRun, ...] = ()

    def seen_by(self, account: str) -> PoolSnapshot:
        """What a caller of an account (not the operator) may see: its own sandbox alone, its
        counts as the pool's, and no Ray address. With one shared agent (no sandboxes), the
        shared pool's counts, without the address."""
        queue = tuple(run for run in self.queue if run.account == account)
        if not self.sandboxes:
            return replace(self, ray_address="", queue=queue)
        own = tuple(
            replace(sandbox, ray_address="")
            for sandbox in self.sandboxes
            if sandbox.account == account
        )
        return PoolSnapshot(
            target_size=sum(sandbox.target_size for sandbox in own),
            warm=sum(sandbox.warm for sandbox in own),
            starting=sum(sandbox.starting for sandbox in own),
            bound_idle=sum(sandbox.bound_idle for sandbox in own),
            busy=sum(sandbox.busy for sandbox in own),
            ray_started=any(sandbox.ray_started for sandbox in own),
            ray_address="",
            resource_limits=self.resource_limits,
            sandboxes=own,
            queue=queue,
        )


class LaunchError(Exception):
    """The run cannot be launched; message says why, for the run's error_message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CapacityUnavailable(Exception):
    """No environment can take the run now: a run with job run queuing waits (WAITING) and is
    launched again when room appears; one without is tried again a few times, then FAILED.

    no_room is False when the executor itself is not available (its agent restarts): such
    attempts are not counted against a run without queuing."""

    def __init__(self, message: str = "", *, no_room: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.no_room = no_room


class RunExecutor(Protocol):
    def launch(self, request: LaunchRequest) -> LaunchInfo:
        """Starts the run in an environment for its isolation tuple and returns at once it is
        running. Launching a run it already runs returns that run's LaunchInfo.

        Raises LaunchError or CapacityUnavailable.
        """
        ...

    def poll(self, run_id: str) -> RunProgress | None:
        """Where the run is; None if this executor knows no such run (never launched, or its
        environment is gone)."""
        ...

    def stop(self, run_id: str) -> None:
        """Kills the run's script and releases its environment; a no-op for an unknown run."""
        ...

    def read_logs(self, run_id: str, cursor: str) -> LogBatch:
        """Log lines after cursor ("" for the first); an empty batch when there are no more
        yet. Also called while the run's launch is in flight: what its script has written so
        far, an empty batch (or an error) while the executor does not know the run yet."""
        ...

    def follow(self, run_id: str, cursor: str) -> tuple[RunProgress | None, LogBatch]:
        """poll and read_logs in one look (one call to the run's agent): the progress is taken
        first, so the lines read with a terminal one are all the run wrote, up to a batch."""
        ...

    def forget(self, run_id: str) -> None:
        """The run has finished in the store: drop what is kept about it and return its
        environment to the pool."""
        ...
