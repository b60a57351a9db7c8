"""An executor double and helpers shared by the scheduler and reconciler unit tests (this module
has no tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sluice.control_plane.jobs.executor import (
    ExecutionState,
    LaunchInfo,
    LaunchRequest,
    LogBatch,
    RunProgress,
)
from sluice.control_plane.jobs.model import CommandName, JobCommand, JobInput, LogLine, LogStream

WAIT_S = 10.0
LOG_BATCH = 2


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self._now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


class FakeExecutor:
    """Runs nothing: the test decides when a run finishes, what it logs, and how launches go.

    launch_errors are raised by the next launches, one each. With a gate, launch waits for it.
    """

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._progress: dict[str, RunProgress] = {}
        self._logs: dict[str, list[LogLine]] = {}
        self.launched: list[LaunchRequest] = []
        self.stopped: list[str] = []
        self.forgotten: list[str] = []
        self.launch_errors: list[Exception] = []
        self.gate: threading.Event | None = None

    # RunExecutor

    def launch(self, request: LaunchRequest) -> LaunchInfo:
        with self._lock:
            self.launched.append(request)
            gate = self.gate
        if gate is not None and not gate.wait(WAIT_S):
            raise TimeoutError("the test never opened the launch gate")
        with self._lock:
            if self.launch_errors:
                raise self.launch_errors.pop(0)
            self._progress[request.run_id] = RunProgress(
                ExecutionState.RUNNING, started_at=self._clock()
            )
            return LaunchInfo(environment_id=f"env-{len(self.launched)}", warm=True)

    def poll(self, run_id: str) -> RunProgress | None:
        with self._lock:
            return self._progress.get(run_id)

    def stop(self, run_id: str) -> None:
        with self._lock:
            self.stopped.append(run_id)
            self._progress.pop(run_id, None)

    def read_logs(self, run_id: str, cursor: str) -> LogBatch:
        with self._lock:
            start = int(cursor or 0)
            lines = self._logs.get(run_id, [])[start : start + LOG_BATCH]
            return LogBatch(lines=tuple(lines), cursor=str(start + len(lines)))

    def follow(self, run_id: str, cursor: str) -> tuple[RunProgress | None, LogBatch]:
        return self.poll(run_id), self.read_logs(run_id, cursor)

    def forget(self, run_id: str) -> None:
        with self._lock:
            self.forgotten.append(run_id)
            self._progress.pop(run_id, None)

    # What the test makes happen

    def finish(
        self,
        run_id: str,
        *,
        ok: bool = True,
        error: str = "",
        seconds: int = 0,
        last_lines: tuple[str, ...] = (),
    ) -> None:
        """Ends the run; last_lines are its stdout lines not yet read when it ends."""
        with self._lock:
            self._logs.setdefault(run_id, []).extend(
                LogLine(LogStream.STDOUT, self._clock(), message) for message in last_lines
            )
            progress = self._progress[run_id]
            started = progress.started_at or self._clock()
            self._progress[run_id] = replace(
                progress,
                state=ExecutionState.SUCCEEDED if ok else ExecutionState.FAILED,
                error_message=error,
                finished_at=started + timedelta(seconds=seconds),
            )

    def emit(self, run_id: str, *messages: str, stream: LogStream = LogStream.STDOUT) -> None:
        with self._lock:
            self._logs.setdefault(run_id, []).extend(
                LogLine(stream, self._clock(), message) for message in messages
            )

    def adopt(self, run_id: str) -> None:
        """A run launched before a control-plane restart, still running in its environment."""
        with self._lock:
            self._progress[run_id] = RunProgress(ExecutionState.RUNNING, started_at=self._clock())

    def lose(self, run_id: str) -> None:
        """The environment disappears without a word (Ray died, the control plane restarted)."""
        with self._lock:
            self._progress.pop(run_id, None)

    def knows(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._progress


def eventually(condition: Callable[[], object], what: str, timeout_s: float = WAIT_S) -> None:
    """Waits for condition to hold, failing the test with what if it does not in time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def job_input(name: str = "etl", **changes: object) -> JobInput:
    base = JobInput(
        name=name,
        role="arn:sluice:role/etl",
        command=JobCommand(CommandName.GLUEETL, "sluice://scripts/etl.py"),
    )
    return replace(base, **changes)
