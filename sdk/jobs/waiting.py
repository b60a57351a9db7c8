"""Waiting for a job run to finish."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc

from sluice.jobs.v1 import jobs_pb2, types_pb2
from sluice.sdk.errors import RunWaitTimeout, from_rpc_error
from sluice.sdk.jobs.runs import RunsMixin
from sluice.sdk.jobs.states import RunState

DEFAULT_POLL_INTERVAL_S = 0.2
# Reconnecting after a broken WatchJobRun stream: pauses doubling from the first to the last,
# and at most this many breaks in a row with no response between them.
FIRST_RECONNECT_PAUSE_S = 0.2
MAX_RECONNECT_PAUSE_S = 5.0
MAX_STREAM_BREAKS = 30
# A stream that broke (the connection dropped, the server restarted): reconnect.
_BROKEN = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
)
# No stream to be had: poll GetJobRun instead.
_USE_POLLING = frozenset({grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.RESOURCE_EXHAUSTED})

OnChange = Callable[[types_pb2.JobRun], object]


def _what_shows(run: types_pb2.JobRun) -> tuple[object, ...]:
    """What a watcher of a run sees change: its state, attempt, environment and error."""
    return (run.job_run_state, run.attempt, run.environment_id, run.warm_start, run.error_message)


class WaitingMixin(RunsMixin):
    """wait_for_run of JobsClient."""

    def wait_for_run(
        self,
        job_name: str,
        run_id: str,
        *,
        timeout_s: float | None = None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        on_change: OnChange | None = None,
    ) -> types_pb2.JobRun:
        """Waits until a run is finished (STOPPED, SUCCEEDED, FAILED, TIMEOUT or ERROR).

        Args:
            job_name: The run's job.
            run_id: The run.
            timeout_s: Seconds to wait at most; None to wait however long the run takes.
            poll_interval_s: Seconds between two looks at the run, when the server cannot
                stream its changes (WatchJobRun is one call however long the run takes; a
                broken stream is reconnected).
            on_change: Called with the run when it is first seen and whenever its state,
                attempt, environment or error message changes.

        Returns:
            The finished run. Whether it succeeded is for the caller to check:
            `RunState.of(run) is RunState.SUCCEEDED`.

        Raises:
            RunWaitTimeout: `timeout_s` passed first; the run goes on.
            EntityNotFound: There is no such job or run.
            ValueError: `timeout_s` is negative or `poll_interval_s` not positive.
        """
        if timeout_s is not None and timeout_s < 0:
            raise ValueError(f"timeout_s must not be negative, not {timeout_s}")
        if poll_interval_s <= 0:
            raise ValueError(f"poll_interval_s must be positive, not {poll_interval_s}")
        waiting = _Waiting(job_name, run_id, timeout_s, on_change)
        if timeout_s == 0:
            # One look, no stream to set up.
            return self._poll_run(waiting, poll_interval_s)
        request = jobs_pb2.WatchJobRunRequest(job_name=job_name, run_id=run_id)
        pause = FIRST_RECONNECT_PAUSE_S
        breaks = 0
        while True:
            remaining = waiting.remaining()
            try:
                call = self._stub.WatchJobRun(
                    request, timeout=remaining, metadata=self._options.metadata or None
                )
                for response in call:
                    breaks, pause = 0, FIRST_RECONNECT_PAUSE_S
                    if waiting.saw(response.job_run):
                        return response.job_run
                # The stream ended before the run did (the server is shutting down).
            except grpc.RpcError as exc:
                code = exc.code() if isinstance(exc, grpc.Call) else None
                if code == grpc.StatusCode.DEADLINE_EXCEEDED and remaining is not None:
                    raise waiting.timed_out() from None
                if code in _USE_POLLING:
                    # A server without WatchJobRun, or with every stream slot taken.
                    return self._poll_run(waiting, poll_interval_s)
                if code not in _BROKEN or breaks >= MAX_STREAM_BREAKS:
                    raise from_rpc_error(exc, address=self._address) from None
            breaks += 1
            remaining = waiting.remaining()
            if remaining is not None and remaining <= 0:
                raise waiting.timed_out()
            time.sleep(pause if remaining is None else min(pause, remaining))
            pause = min(pause * 2, MAX_RECONNECT_PAUSE_S)

    def _poll_run(self, waiting: _Waiting, poll_interval_s: float) -> types_pb2.JobRun:
        """wait_for_run by GetJobRun every poll_interval_s."""
        while True:
            run = self.get_run(waiting.job_name, waiting.run_id)
            if waiting.saw(run):
                return run
            remaining = waiting.remaining()
            if remaining is not None and remaining <= 0:
                raise waiting.timed_out()
            time.sleep(poll_interval_s if remaining is None else min(poll_interval_s, remaining))


class _Waiting:
    """What one wait_for_run has seen, and its deadline."""

    def __init__(
        self, job_name: str, run_id: str, timeout_s: float | None, on_change: OnChange | None
    ) -> None:
        self.job_name = job_name
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.on_change = on_change
        self.last: types_pb2.JobRun | None = None
        self.seen: tuple[object, ...] | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def saw(self, run: types_pb2.JobRun) -> bool:
        """Takes in the run as now seen; whether it is finished."""
        self.last = run
        if self.on_change is not None and _what_shows(run) != self.seen:
            self.seen = _what_shows(run)
            self.on_change(run)
        return RunState.of(run).is_terminal()

    def timed_out(self) -> RunWaitTimeout:
        state = RunState.of(self.last) if self.last is not None else "not seen yet"
        return RunWaitTimeout(
            f"job run {self.run_id} of {self.job_name} is still {state} after {self.timeout_s:g} s",
            job_name=self.job_name,
            run_id=self.run_id,
            last_run=self.last,
        )
