"""The RunExecutor over the agents: request translation, state mapping, log cursors, errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from sluice.agents.api import RunLogs
from sluice.agents.config import EnvironmentSpec
from sluice.agents.errors import EnvironmentStartFailed, NoCapacity
from sluice.agents.isolation import IsolationTuple as AgentsIsolation
from sluice.agents.runs import LogChunk, LogStream, RunProgress, RunRequest, RunState
from sluice.agents.supervisor import RunLaunch
from sluice.common.errors import AlreadyExists
from sluice.control_plane.jobs.agents_executor import AgentsExecutor, environment_spec
from sluice.control_plane.jobs.executor import (
    CapacityUnavailable,
    ExecutionState,
    LaunchError,
    LaunchRequest,
)
from sluice.control_plane.jobs.model import CommandName, IsolationTuple
from sluice.control_plane.jobs.model import LogStream as Stream
from sluice.control_plane.jobs.workers import worker_spec

pytestmark = pytest.mark.unit

DEFAULT = EnvironmentSpec()


@dataclass
class FakeSupervisor:
    """Records launches; progress and log text are set by the test."""

    launches: list[tuple[RunRequest, AgentsIsolation, EnvironmentSpec | None]] = field(
        default_factory=list
    )
    progresses: dict[str, RunProgress] = field(default_factory=dict)
    logs: dict[LogStream, bytes] = field(default_factory=dict)
    error: Exception | None = None
    forgotten: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    log_calls: int = 0

    def launch(
        self, request: RunRequest, isolation: AgentsIsolation, spec: EnvironmentSpec | None
    ) -> RunLaunch:
        if self.error is not None:
            raise self.error
        self.launches.append((request, isolation, spec))
        progress = RunProgress(request.run_id, RunState.RUNNING, environment_id="env-1")
        self.progresses[request.run_id] = progress
        return RunLaunch(progress, "env-1", warm=True)

    def progress(self, run_id: str) -> RunProgress:
        return self.progresses.get(run_id, RunProgress(run_id, RunState.LOST))

    def stop(self, run_id: str) -> RunProgress:
        self.stopped.append(run_id)
        return self.progress(run_id)

    def forget(self, run_id: str) -> None:
        self.forgotten.append(run_id)

    def read_logs(self, run_id: str, offsets: Mapping[LogStream, int]) -> RunLogs:
        self.log_calls += 1
        progress = self.progress(run_id)
        chunks = {}
        for stream, offset in offsets.items():
            data = self.logs.get(stream, b"")[offset:]
            if not progress.state.is_terminal():
                data = data[: data.rfind(b"\n") + 1]
            chunks[stream] = LogChunk(data.decode(), offset, offset + len(data))
        return RunLogs(progress, chunks)


def request(**changes: object) -> LaunchRequest:
    values: dict[str, object] = {
        "run_id": "jr_1",
        "job_name": "etl",
        "attempt": 0,
        "command": CommandName.GLUEETL,
        "isolation": IsolationTuple("acct", "role", "subnet-1", "sg-1"),
        "worker": worker_spec(CommandName.GLUEETL, "G.2X", 3),
        "script_location": "sluice://scripts/etl.py",
        "script_text": "print(1)",
        "arguments": {"--day": "2024-01-01"},
        "timeout_s": 60.0,
        "run_env": {"SLUICE_JOB_RUN_ID": "jr_1"},
    }
    values.update(changes)
    return LaunchRequest(**values)  # type: ignore[arg-type]


def executor(supervisor: FakeSupervisor) -> AgentsExecutor:
    return AgentsExecutor(supervisor, DEFAULT)  # type: ignore[arg-type]


def test_launch_translates_the_request() -> None:
    supervisor = FakeSupervisor()
    info = executor(supervisor).launch(request())
    assert (info.environment_id, info.warm) == ("env-1", True)
    (run, isolation, spec) = supervisor.launches[0]
    assert isolation == AgentsIsolation("acct", "role", "subnet-1", "sg-1")
    assert spec == EnvironmentSpec(
        executors=2,
        executor_cores=2,
        executor_memory_mb=2048,
        driver_memory_mb=2048,
        driver_cpus=2,
    )
    assert run.arguments == {"--day": "2024-01-01", "--JOB_NAME": "etl", "--JOB_RUN_ID": "jr_1"}
    assert run.run_env == {"SLUICE_JOB_RUN_ID": "jr_1"}
    assert run.script_name == "etl.py"
    # The scheduler's deadline comes first; the agents' is a backstop after it.
    assert run.timeout_s > 60.0


def test_a_python_shell_job_takes_the_pooled_shape() -> None:
    worker = worker_spec(CommandName.PYTHONSHELL, "", 0)
    assert environment_spec(worker, DEFAULT) is DEFAULT


def test_an_odd_script_name_is_saved_as_script_py() -> None:
    supervisor = FakeSupervisor()
    executor(supervisor).launch(request(script_location="file:///x/my job!.py"))
    assert supervisor.launches[0][0].script_name == "script.py"


def test_launching_again_returns_the_first_launch() -> None:
    supervisor = FakeSupervisor()
    runs = executor(supervisor)
    runs.launch(request())
    supervisor.error = AlreadyExists("launched")
    info = runs.launch(request())
    assert (info.environment_id, info.warm) == ("env-1", True)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (NoCapacity("full"), CapacityUnavailable),
        (EnvironmentStartFailed("spark died"), LaunchError),
    ],
)
def test_launch_errors_are_translated(error: Exception, expected: type[Exception]) -> None:
    supervisor = FakeSupervisor(error=error)
    with pytest.raises(expected):
        executor(supervisor).launch(request())


def test_a_reserved_environment_variable_is_a_launch_error() -> None:
    with pytest.raises(LaunchError, match="reserved"):
        executor(FakeSupervisor()).launch(request(run_env={"PATH": "/x"}))


@pytest.mark.parametrize(
    ("state", "message", "expected", "expected_message"),
    [
        (RunState.STARTING, "", ExecutionState.RUNNING, ""),
        (RunState.RUNNING, "", ExecutionState.RUNNING, ""),
        (RunState.SUCCEEDED, "", ExecutionState.SUCCEEDED, ""),
        (RunState.FAILED, "Traceback: boom", ExecutionState.FAILED, "Traceback: boom"),
        (RunState.TIMEOUT, "", ExecutionState.FAILED, "the run exceeded its timeout"),
        (RunState.STOPPED, "", ExecutionState.FAILED, "the run was stopped"),
    ],
)
def test_poll_maps_states(
    state: RunState, message: str, expected: ExecutionState, expected_message: str
) -> None:
    supervisor = FakeSupervisor()
    supervisor.progresses["jr_1"] = RunProgress(
        "jr_1", state, error_message=message, started_at=10.0, finished_at=12.5
    )
    progress = executor(supervisor).poll("jr_1")
    assert progress is not None
    assert progress.state is expected
    assert progress.error_message == expected_message
    assert progress.started_at is not None and progress.started_at.timestamp() == 10.0


def test_a_lost_run_is_unknown() -> None:
    assert executor(FakeSupervisor()).poll("nobody") is None


def test_follow_reads_progress_and_every_stream_in_one_agent_call() -> None:
    supervisor = FakeSupervisor()
    supervisor.progresses["jr_1"] = RunProgress(
        "jr_1", RunState.SUCCEEDED, started_at=1.0, finished_at=2.0
    )
    supervisor.logs = {LogStream.STDOUT: b"out\nlast", LogStream.DRIVER: b"jvm\n"}
    runs = executor(supervisor)

    progress, batch = runs.follow("jr_1", "")

    assert supervisor.log_calls == 1
    assert progress is not None and progress.state is ExecutionState.SUCCEEDED
    # The run is over: its last line is read even without its newline.
    assert [(line.stream, line.message) for line in batch.lines] == [
        (Stream.STDOUT, "out"),
        (Stream.STDOUT, "last"),
        (Stream.DRIVER, "jvm"),
    ]
    assert runs.follow("jr_1", batch.cursor)[1].lines == []
    assert runs.follow("nobody", "")[0] is None


def test_logs_resume_from_the_cursor_per_stream() -> None:
    supervisor = FakeSupervisor()
    supervisor.progresses["jr_1"] = RunProgress("jr_1", RunState.RUNNING)
    supervisor.logs = {LogStream.STDOUT: b"one\ntwo\npart", LogStream.STDERR: b"warn\n"}
    runs = executor(supervisor)
    first = runs.read_logs("jr_1", "")
    assert [(line.stream, line.message) for line in first.lines] == [
        (Stream.STDOUT, "one"),
        (Stream.STDOUT, "two"),
        (Stream.STDERR, "warn"),
    ]
    assert runs.read_logs("jr_1", first.cursor).lines == []
    supervisor.progresses["jr_1"] = RunProgress("jr_1", RunState.SUCCEEDED)
    last = runs.read_logs("jr_1", first.cursor)
    assert [line.message for line in last.lines] == ["part"]
    assert runs.read_logs("jr_1", last.cursor).lines == []


def test_forget_drops_the_run() -> None:
    supervisor = FakeSupervisor()
    runs = executor(supervisor)
    runs.launch(request())
    runs.forget("jr_1")
    assert supervisor.forgotten == ["jr_1"]
