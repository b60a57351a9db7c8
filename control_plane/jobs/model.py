"""Domain objects of jobs and job runs: what the job store returns and takes. Plain, frozen, no ORM.

Times are timezone-aware UTC datetimes. Names and fields mirror Glue's (proto sluice.jobs.v1).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

Params = Mapping[str, str]

DEFAULT_TIMEOUT_MINUTES = 2880
DEFAULT_MAX_CONCURRENT_RUNS = 1
DEFAULT_WORKER_TYPE = "G.1X"
DEFAULT_NUMBER_OF_WORKERS = 2
RUN_ID_PREFIX = "jr_"


class RunState(StrEnum):
    """The state of a job run, as Glue names it."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"
    WAITING = "WAITING"

    def is_terminal(self) -> bool:
        """A terminal run never changes state again."""
        return self in TERMINAL_STATES

    def can_become(self, target: RunState) -> bool:
        return target in ALLOWED_TRANSITIONS[self]


TERMINAL_STATES = frozenset(
    {RunState.STOPPED, RunState.SUCCEEDED, RunState.FAILED, RunState.TIMEOUT, RunState.ERROR}
)
ACTIVE_STATES = frozenset(set(RunState) - TERMINAL_STATES)
# Runs in these states may be stopped by a user (or by deleting their job).
STOPPABLE_STATES = frozenset({RunState.WAITING, RunState.STARTING, RunState.RUNNING})
# A run that ends in one of these gets its next attempt while it has retries left.
RETRYABLE_STATES = frozenset({RunState.FAILED, RunState.TIMEOUT})

# Every state change a run may make; the store refuses any other.
ALLOWED_TRANSITIONS: Mapping[RunState, frozenset[RunState]] = MappingProxyType(
    {
        # WAITING: the executor had no capacity; the run is launched again later.
        RunState.WAITING: frozenset({RunState.STARTING, RunState.STOPPING, RunState.TIMEOUT}),
        RunState.STARTING: frozenset(
            {
                RunState.RUNNING,
                RunState.WAITING,
                RunState.STOPPING,
                RunState.FAILED,
                RunState.TIMEOUT,
                RunState.ERROR,
            }
        ),
        RunState.RUNNING: frozenset(
            {
                RunState.SUCCEEDED,
                RunState.FAILED,
                RunState.TIMEOUT,
                RunState.ERROR,
                RunState.STOPPING,
            }
        ),
        RunState.STOPPING: frozenset({RunState.STOPPED}),
        RunState.STOPPED: frozenset(),
        RunState.SUCCEEDED: frozenset(),
        RunState.FAILED: frozenset(),
        RunState.TIMEOUT: frozenset(),
        RunState.ERROR: frozenset(),
    }
)


def check_transition(from_states: Collection[RunState], to_state: RunState, retry: bool) -> None:
    """ValueError unless ALLOWED_TRANSITIONS permits every change asked for."""
    if not from_states:
        raise ValueError("from_states must not be empty")
    refused = sorted(str(s) for s in from_states if not RunState(s).can_become(to_state))
    if refused:
        raise ValueError(f"a run cannot go from {', '.join(refused)} to {to_state}")
    if retry and to_state not in RETRYABLE_STATES:
        raise ValueError(f"a run ending {to_state} is not retried")


class CommandName(StrEnum):
    GLUEETL = "glueetl"
    PYTHONSHELL = "pythonshell"


class WorkerType(StrEnum):
    STANDARD = "Standard"
    G_1X = "G.1X"
    G_2X = "G.2X"
    G_4X = "G.4X"


class LogStream(StrEnum):
    STDOUT = "STDOUT"
    STDERR = "STDERR"
    DRIVER = "DRIVER"


@dataclass(frozen=True)
class JobCommand:
    name: CommandName
    # sluice://scripts/NAME (uploaded) or file:///absolute/path.
    script_location: str
    python_version: str = "3"


@dataclass(frozen=True)
class JobInput:
    """What CreateJob and UpdateJob give. 0 and "" mean Glue's defaults.

    UpdateJob replaces the whole definition but leaves tags alone (they are not part of it).
    """

    name: str
    role: str
    command: JobCommand
    description: str = ""
    default_arguments: Params = field(default_factory=dict)
    non_overridable_arguments: Params = field(default_factory=dict)
    max_retries: int = 0
    timeout: int = 0
    max_concurrent_runs: int = 0
    worker_type: str = ""
    number_of_workers: int = 0
    connections: tuple[str, ...] = ()
    tags: Params = field(default_factory=dict)
    # Glue members kept and returned unchanged (GlueVersion, MaxCapacity, LogUri, ...), by
    # their proto field names, as JSON values; see convert.jobs.GLUE_ONLY_FIELDS.
    glue_properties: Mapping[str, object] = field(default_factory=dict)
    # A visual job's nodes (Glue's CodeGenConfigurationNodes: node id -> {kind: structure}),
    # kept and returned unchanged; its script was generated from them.
    code_gen_configuration_nodes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """A stored job, with defaults resolved (timeout 2880, max_concurrent_runs 1, ...)."""

    name: str
    account: str
    role: str
    command: JobCommand
    created_on: datetime
    last_modified_on: datetime
    description: str = ""
    default_arguments: Params = field(default_factory=dict)
    non_overridable_arguments: Params = field(default_factory=dict)
    max_retries: int = 0
    timeout: int = DEFAULT_TIMEOUT_MINUTES
    max_concurrent_runs: int = DEFAULT_MAX_CONCURRENT_RUNS
    worker_type: str = DEFAULT_WORKER_TYPE
    number_of_workers: int = DEFAULT_NUMBER_OF_WORKERS
    connections: tuple[str, ...] = ()
    tags: Params = field(default_factory=dict)
    glue_properties: Mapping[str, object] = field(default_factory=dict)
    code_gen_configuration_nodes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class IsolationTuple:
    """What a run's environment is isolated by: runs share an environment only if all match."""

    account: str
    role: str
    subnet_id: str = ""
    security_group_id: str = ""


@dataclass(frozen=True)
class RunInput:
    """What StartJobRun gives. 0 and "" take the job's value.

    subnet_id and security_group_id come from the job's first connection; the control plane
    resolves it and passes them here.
    """

    arguments: Params = field(default_factory=dict)
    previous_run_id: str = ""
    trigger_name: str = ""
    timeout: int = 0
    worker_type: str = ""
    number_of_workers: int = 0
    # Glue's NotificationProperty.NotifyDelayAfter (minutes); None takes the job's.
    notify_delay_after: int | None = None
    subnet_id: str = ""
    security_group_id: str = ""
    # W3C traceparent of the call starting the run; "" for none.
    trace_parent: str = ""
    # The role the caller was found allowed to pass: the run starts only while the job still
    # names it (an UpdateJob in between fails the start); "" for no such condition.
    expected_role: str = ""
    # Glue's JobRunQueuingEnabled for this run; None takes the job's.
    job_run_queuing_enabled: bool | None = None


@dataclass(frozen=True)
class JobRun:
    """A run of a job. command, max_retries and isolation are the job's at the time it started."""

    id: str
    job_name: str
    attempt: int
    state: RunState
    arguments: Params
    command: JobCommand
    isolation: IsolationTuple
    started_on: datetime
    last_modified_on: datetime
    timeout: int
    worker_type: str
    number_of_workers: int
    max_retries: int = 0
    previous_run_id: str = ""
    trigger_name: str = ""
    error_message: str = ""
    # Glue's NotificationProperty.NotifyDelayAfter (minutes), its own or its job's; 0: none.
    notify_delay_after: int = 0
    completed_on: datetime | None = None
    # Seconds the run spent running.
    execution_time: int = 0
    environment_id: str = ""
    warm_start: bool = False
    # Where the scheduler last stopped reading the executor's logs (opaque to the store).
    log_cursor: str = ""
    trace_parent: str = ""
    # Glue's JobRunQueuingEnabled: with no room for it, the run waits (WAITING, in order of
    # start within its account) instead of failing.
    job_run_queuing_enabled: bool = False

    @property
    def account(self) -> str:
        return self.isolation.account

    @property
    def deadline(self) -> datetime:
        """When the run times out: its timeout counts from the moment it was started."""
        return self.started_on + timedelta(minutes=self.timeout)


@dataclass(frozen=True)
class WorkerSpec:
    """The Spark shape of a run: Glue's worker type and count turned into executors."""

    worker_type: str
    number_of_workers: int
    num_executors: int
    executor_cores: int
    executor_memory_mb: int
    driver_cores: int
    driver_memory_mb: int


@dataclass(frozen=True)
class LogLine:
    """A log line as the executor reports it, before the store numbers it."""

    stream: LogStream
    timestamp: datetime
    message: str


@dataclass(frozen=True)
class LogEntry:
    """A stored log line; seq orders the lines of one run across all its streams."""

    seq: int
    stream: LogStream
    timestamp: datetime
    message: str
