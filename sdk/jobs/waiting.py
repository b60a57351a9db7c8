"""Waiting for a job run to finish."""

from __future__ import annotations

import time
from collections.abc import Callable

from sdk.errors import RunWaitTimeout
from sdk.jobs.runs import RunsMixin
from sdk.jobs.states import RunState
from sluice.jobs.v1 import types_pb2

DEFAULT_POLL_INTERVAL_S = 0.2

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
            poll_interval_s: Seconds between two looks at the run.
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
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        seen: tuple[object, ...] | None = None
        while True:
            run = self.get_run(job_name, run_id)
            if on_change is not None and _what_shows(run) != seen:
                seen = _what_shows(run)
                on_change(run)
            state = RunState.of(run)
            if state.is_terminal():
                return run
            pause = poll_interval_s
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RunWaitTimeout(
                        f"job run {run_id} of {job_name} is still {state} after {timeout_s:g} s",
                        job_name=job_name,
                        run_id=run_id,
                        last_run=run,
                    )
                pause = min(pause, remaining)
            time.sleep(pause)
