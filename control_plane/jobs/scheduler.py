"""The run lifecycle engine: launches STARTING runs, follows RUNNING ones to their end, copies
their logs, enforces timeouts and stops, and lets the store create retries.

One background thread reads the active runs from the store every poll interval (at once when
woken). Launches, which may take long, run on a small thread pool. Every state change goes
through JobStore.transition, so a run changed meanwhile by a user (stop) or by the reconciler
is left as it is. Runs the executor no longer knows are the reconciler's business.

With several servers on one database, only the holder of the scheduler lease schedules (the
fence callable says whether this server holds it now), and every change it makes carries the
lease's Fence, so that a server replaced while it stalled changes nothing. Before launching a
run it records the launch in the run (claim_launch): a successor finding a launch begun under
an earlier token launches it only if its executor runs it already, and otherwise fails it
(retried per max_retries), so that no run is executed twice.

When the executor has no room for a run (CapacityUnavailable), a run with Glue's job run
queuing (job_run_queuing_enabled) waits in WAITING: each account's queued runs are launched in
the order they were started, the oldest alone at a time, as soon as a run ends (room may have
appeared) or every waiting_retry_s; they time out per their timeout while they wait. A run
without queuing stays STARTING and is tried again with a growing delay, as Glue does, up to
capacity_attempts times or capacity_window_s, and then ends FAILED.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sluice.common.errors import SluiceError
from sluice.control_plane.jobs import workers
from sluice.control_plane.jobs.executor import (
    CapacityUnavailable,
    ExecutionState,
    LaunchError,
    LaunchRequest,
    LogBatch,
    RunExecutor,
    RunProgress,
)
from sluice.control_plane.jobs.leases import Fence, LeaseLost
from sluice.control_plane.jobs.model import JobRun, RunState
from sluice.control_plane.jobs.scripts import ScriptSources
from sluice.control_plane.jobs.store import JobStore, LaunchClaim
from sluice.control_plane.jobs.tracing import RunTracing

logger = logging.getLogger(__name__)

LAUNCH_INTERNAL_ERROR = "the environment could not be started: internal error (see the server log)"
# A run without job run queuing that found no room, after its last attempt (Glue's exception name
# first, as Glue's own error messages have it).
NO_CAPACITY = (
    "ResourceNumberLimitExceededException: no room for the run on the cluster after {attempts} "
    "attempts over {seconds} s ({reason}); with job run queuing (JobRunQueuingEnabled) it would "
    "have waited for room"
)
LAUNCH_INTERRUPTED = (
    "the launch was interrupted: the server launching the run stopped or lost its scheduler "
    "lease, and the run is not executing where this server can see it (it is not launched twice)"
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SchedulerConfig:
    """poll_interval_s: how often active runs are looked at when nothing wakes the scheduler.
    launch_workers: launches in flight at once. waiting_retry_s: how long a WAITING run waits
    before it is launched again when no run ended meanwhile; a run without queuing that found
    no room is tried again after it, then twice as long each time up to
    capacity_backoff_max_s, and fails after capacity_attempts attempts or capacity_window_s.
    log_drain_pass_s: how long one pass copies the logs of a run that has ended before it looks
    at the other runs (it goes on at the next pass, from the stored cursor, and ends the run
    only once every line is copied). run_env: environment variables every run gets."""

    poll_interval_s: float = 0.15
    launch_workers: int = 2
    waiting_retry_s: float = 2.0
    # Glue: "a maximum of 15 minutes or 10 attempts, whichever comes first".
    capacity_attempts: int = 10
    capacity_window_s: float = 900.0
    capacity_backoff_max_s: float = 120.0
    log_drain_pass_s: float = 2.0
    run_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        if self.launch_workers < 1:
            raise ValueError("launch_workers must be at least 1")
        if self.waiting_retry_s < 0:
            raise ValueError("waiting_retry_s must not be negative")
        if self.log_drain_pass_s <= 0:
            raise ValueError("log_drain_pass_s must be positive")
        if self.capacity_attempts < 1:
            raise ValueError("capacity_attempts must be at least 1")
        if self.capacity_window_s < 0 or self.capacity_backoff_max_s < 0:
            raise ValueError("capacity_window_s and capacity_backoff_max_s must not be negative")


class Scheduler:
    """Drives runs through their states. start() once; stop() leaves running runs running
    (the reconciler re-attaches them at the next start)."""

    def __init__(
        self,
        store: JobStore,
        executor: RunExecutor,
        *,
        config: SchedulerConfig | None = None,
        clock: Callable[[], datetime] = utc_now,
        tracing: RunTracing | None = None,
        run_credentials: Callable[[JobRun], Mapping[str, str]] | None = None,
        scripts: ScriptSources | None = None,
        fence: Callable[[], Fence | None] | None = None,
        on_logs_stored: Callable[[str], None] | None = None,
        on_run_ended: Callable[[], None] | None = None,
    ) -> None:
        """tracing records each run's spans; run_credentials gives the environment variables
        holding a run's temporary credentials, valid while it is active; scripts says where
        scripts may be loaded from (uploads only by default). fence gives the scheduler lease's
        Fence while this server holds it, None while it does not; without it the scheduler is
        alone and always schedules. on_logs_stored is told the run id once new lines of a run
        are in the store (LogArrivals.stored); on_run_ended once a run has ended here (e.g. to
        wake the trigger firer: conditional triggers may fire); it must not block."""
        self._store = store
        self._scripts = scripts or ScriptSources()
        self._executor = executor
        self._config = config or SchedulerConfig()
        self._clock = clock
        self._tracing = tracing or RunTracing()
        self._run_credentials = run_credentials
        self._fence = fence
        self._on_logs_stored = on_logs_stored or (lambda _run_id: None)
        self._on_run_ended = on_run_ended or (lambda: None)
        # The lease tenure of the last pass; guarded by _tick_lock.
        self._tenure: Fence | None = None
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        # Runs this scheduler has handed to a launch; guarded by _lock.
        self._owned: set[str] = set()
        # Of those, the ones whose launch has not returned yet; guarded by _lock.
        self._launching: set[str] = set()
        # Runs the executor runs for this scheduler, until it forgets them; guarded by _lock.
        self._executing: set[str] = set()
        # Queued runs whose launch is in flight (taken off their account's queue, or launched
        # first); guarded by _lock.
        self._dequeued: set[str] = set()
        # Runs ended (their room freed) so far, and how many had ended when each queued run
        # last found no room; guarded by _lock.
        self._ended = 0
        self._parked: dict[str, int] = {}
        # Runs without queuing that found no room: attempts, first one, next try; guarded by
        # _lock.
        self._no_room: dict[str, _NoRoom] = {}
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the scheduler is already started")
        self._halt.clear()
        self._pool = ThreadPoolExecutor(
            max_workers=self._config.launch_workers, thread_name_prefix="sluice-launch"
        )
        self._thread = threading.Thread(target=self._loop, name="sluice-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops the loop; launches in flight finish on their own threads."""
        self._halt.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def wake(self) -> None:
        """Look at the runs now (a run was started or stopped)."""
        self._wake.set()

    def abandon(self) -> None:
        """The scheduler lease has passed to another server, which cannot follow this server's
        environments and fails their runs: stop executing them here too."""
        with self._lock:
            runs, self._executing = self._executing, set()
        for run_id in sorted(runs):
            try:
                self._executor.stop(run_id)
                self._executor.forget(run_id)
            except Exception:
                logger.exception("stopping job run %s of a lost lease failed", run_id)

    def run_once(self) -> None:
        """One pass over every active run, if this server holds the scheduler lease."""
        with self._tick_lock:
            fence = self._fence() if self._fence is not None else None
            if self._fence is not None and fence is None:
                return
            if fence != self._tenure:
                with self._lock:
                    # Launches handed out in an earlier tenure are settled by their launch
                    # claims; only those still in flight stay guarded.
                    self._owned &= self._launching
                self._tenure = fence
            # The queued runs in flight are read before the runs: a launch records its outcome
            # (WAITING or RUNNING) before it leaves _dequeued, so a run in flight when this pass
            # began is in its queue either way and nothing behind it jumps ahead.
            with self._lock:
                dequeued = set(self._dequeued)
            runs = self._store.list_active_runs()
            active = {run.id for run in runs}
            with self._lock:
                # A run gone from the active list has ended for good; it needs no guarding.
                self._owned &= active
                self._dequeued &= active
                self._parked = {k: v for k, v in self._parked.items() if k in active}
                self._no_room = {k: v for k, v in self._no_room.items() if k in active}
            # Each account's queue: its WAITING runs and those taken off it for a launch, in
            # the order they were started (the store lists active runs oldest first).
            queues: dict[str, list[str]] = {}
            for run in runs:
                if run.state is RunState.WAITING or run.id in dequeued:
                    queues.setdefault(run.account, []).append(run.id)
            now = self._clock()
            for run in runs:
                if self._halt.is_set():
                    return
                try:
                    self._step(run, now, fence, queues.get(run.account, []))
                except LeaseLost:
                    logger.warning("the scheduler lease was taken over; this pass ends")
                    return
                except Exception:
                    # One run's trouble (executor or database) must not stall the others.
                    logger.exception("scheduling job run %s failed; retrying", run.id)

    def _loop(self) -> None:
        while not self._halt.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:
                logger.exception("scheduler pass failed; retrying")
            self._wake.wait(self._config.poll_interval_s)

    def _step(self, run: JobRun, now: datetime, fence: Fence | None, queue: list[str]) -> None:
        with self._lock:
            launching = run.id in self._launching
            owned = run.id in self._owned
            no_room = self._no_room.get(run.id)
        if run.state is not RunState.STOPPING and now >= run.deadline:
            self._time_out(run, launching, fence)
        elif run.state is RunState.STARTING and not owned:
            if run.job_run_queuing_enabled and queue and run.id not in queue:
                # Its account has runs queued or launching before it: it queues behind them. Once
                # it heads the queue it tries for room at once if the runs before it found room,
                # else once a run has ended (or waiting_retry_s after).
                self._store.transition(run.id, {RunState.STARTING}, RunState.WAITING, fence=fence)
            elif no_room is None or now >= no_room.next_try:
                self._submit_launch(run, fence)
        elif run.state is RunState.STARTING and launching:
            # A script prints as soon as it starts, before its launch has returned (under load,
            # seconds before): its lines are copied meanwhile, so they reach readers at once.
            self._copy_launching_logs(run)
        elif run.state is RunState.WAITING:
            if queue and queue[0] == run.id:
                self._relaunch_waiting(run, now, fence, queue[1:])
        elif run.state is RunState.RUNNING:
            self._follow(run, fence)
        elif run.state is RunState.STOPPING and not launching:
            self._stop(run, fence)

    # Launching

    def _submit_launch(self, run: JobRun, fence: Fence | None) -> None:
        pool = self._pool
        if pool is None or self._halt.is_set():
            return
        with self._lock:
            self._owned.add(run.id)
            self._launching.add(run.id)
            if run.job_run_queuing_enabled:
                # In its account's queue while it launches: queued runs started after it wait.
                self._dequeued.add(run.id)
            # A run ending from now on may make room for it.
            self._parked[run.id] = self._ended
        pool.submit(self._launch, run, fence)

    def _relaunch_waiting(
        self, run: JobRun, now: datetime, fence: Fence | None, behind: list[str]
    ) -> None:
        """Launches the head of its account's queue again once a run has ended since it found
        no room, or waiting_retry_s after that. The room of the runs ended so far goes to the
        head: the runs behind it wait for a run to end after this (or waiting_retry_s)."""
        with self._lock:
            room = self._parked.get(run.id, -1) != self._ended
        if not room and (now - run.last_modified_on).total_seconds() < self._config.waiting_retry_s:
            return
        if self._store.transition(run.id, {RunState.WAITING}, RunState.STARTING, fence=fence):
            with self._lock:
                self._owned.discard(run.id)
                self._dequeued.add(run.id)
                for waiting in behind:
                    self._parked[waiting] = self._ended
            self._submit_launch(run, fence)

    def _launch(self, run: JobRun, fence: Fence | None) -> None:
        try:
            self._launch_and_record(run, fence)
        except LeaseLost:
            logger.warning("job run %s: the scheduler lease was taken over as it launched", run.id)
            with self._lock:
                self._owned.discard(run.id)
        except Exception:
            logger.exception("launching job run %s failed; it will be launched again", run.id)
            with self._lock:
                self._owned.discard(run.id)
        finally:
            with self._lock:
                self._launching.discard(run.id)
                self._dequeued.discard(run.id)
            self.wake()

    def _launch_and_record(self, run: JobRun, fence: Fence | None) -> None:
        starting = {RunState.STARTING}
        if fence is not None and not self._claim_launch(run, fence):
            return
        try:
            request = self._launch_request(run)
        except SluiceError as exc:
            if self._store.transition(
                run.id,
                starting,
                RunState.FAILED,
                error_message=f"cannot load script {run.command.script_location}: {exc.message}",
                fence=fence,
            ):
                self._on_run_ended()
            return
        try:
            with self._tracing.launch(run) as span:
                request = replace(
                    request,
                    run_env={**request.run_env, "TRACEPARENT": RunTracing.traceparent_of(span)},
                )
                info = self._executor.launch(request)
                span.set_attribute("sluice.environment_id", info.environment_id)
                span.set_attribute("sluice.warm_start", info.warm)
        except CapacityUnavailable as exc:
            self._no_capacity(run, exc, fence)
            return
        except LaunchError as exc:
            if self._store.transition(
                run.id, starting, RunState.ERROR, error_message=exc.message, fence=fence
            ):
                self._on_run_ended()
            return
        except Exception:
            logger.exception("the executor failed to launch job run %s", run.id)
            if self._store.transition(
                run.id, starting, RunState.ERROR, error_message=LAUNCH_INTERNAL_ERROR, fence=fence
            ):
                self._on_run_ended()
            return
        try:
            recorded = self._store.transition(
                run.id,
                starting,
                RunState.RUNNING,
                environment_id=info.environment_id,
                warm_start=info.warm,
                fence=fence,
            )
        except LeaseLost:
            # The lease's new holder owns the run now and cannot follow this server's environment.
            self._executor.stop(run.id)
            self._forget(run.id)
            raise
        if recorded:
            with self._lock:
                self._executing.add(run.id)
        else:
            # Stopped or timed out while it launched: nothing will follow this environment.
            self._executor.stop(run.id)
            self._forget(run.id)

    def _no_capacity(self, run: JobRun, exc: CapacityUnavailable, fence: Fence | None) -> None:
        """A queued run goes (back) to WAITING; one without queuing is tried again later, or
        FAILED after its last attempt."""
        starting = {RunState.STARTING}
        if run.job_run_queuing_enabled:
            self._store.transition(run.id, starting, RunState.WAITING, fence=fence)
            return
        now = self._clock()
        config = self._config
        with self._lock:
            previous = self._no_room.get(run.id)
            first = previous.first if previous is not None else now
            attempts = (previous.attempts if previous is not None else 0) + int(exc.no_room)
            delay = min(
                config.waiting_retry_s * 2 ** max(attempts - 1, 0), config.capacity_backoff_max_s
            )
            self._no_room[run.id] = _NoRoom(attempts, first, now + timedelta(seconds=delay))
            # Launched again (by a later pass) once its next try is due.
            self._owned.discard(run.id)
        waited = (now - first).total_seconds()
        if attempts < config.capacity_attempts and waited < config.capacity_window_s:
            return
        logger.warning("job run %s: no room after %d attempts; failing it", run.id, attempts)
        if self._store.transition(
            run.id,
            starting,
            RunState.FAILED,
            error_message=NO_CAPACITY.format(
                attempts=attempts, seconds=int(waited), reason=exc.message or "no capacity"
            ),
            retry=True,
            fence=fence,
        ):
            self._on_run_ended()

    def _claim_launch(self, run: JobRun, fence: Fence) -> bool:
        """Whether to launch the run: claimed for this tenure, or adopted from an earlier one
        whose launch this executor runs already (launching again then only re-attaches)."""
        claim = self._store.claim_launch(run.id, fence)
        if claim is LaunchClaim.INTERRUPTED:
            if self._executor.poll(run.id) is None:
                logger.warning("job run %s: its launch was interrupted; failing it", run.id)
                self._store.transition(
                    run.id,
                    {RunState.STARTING},
                    RunState.FAILED,
                    error_message=LAUNCH_INTERRUPTED,
                    retry=True,
                    fence=fence,
                )
                return False
            claim = self._store.claim_launch(run.id, fence, adopt=True)
        return claim is LaunchClaim.CLAIMED

    def _launch_request(self, run: JobRun) -> LaunchRequest:
        script = self._scripts.load(self._store, run.account, run.command.script_location)
        remaining = (run.deadline - self._clock()).total_seconds()
        return LaunchRequest(
            run_id=run.id,
            job_name=run.job_name,
            attempt=run.attempt,
            command=run.command.name,
            isolation=run.isolation,
            worker=workers.worker_spec(run.command.name, run.worker_type, run.number_of_workers),
            script_location=run.command.script_location,
            script_text=script,
            arguments=dict(run.arguments),
            timeout_s=max(remaining, 0.0),
            run_env={
                **self._config.run_env,
                **(self._run_credentials(run) if self._run_credentials else {}),
                "SLUICE_JOB_NAME": run.job_name,
                "SLUICE_JOB_RUN_ID": run.id,
                "SLUICE_ATTEMPT": str(run.attempt),
            },
        )

    # Following

    def _follow(self, run: JobRun, fence: Fence | None) -> None:
        # Where the run is and its new lines in one look: a line reaches readers one pass
        # after it was written, for one call to the run's agent.
        progress, batch = self._executor.follow(run.id, run.log_cursor)
        if progress is None:
            return
        with self._lock:
            # Re-attached runs too (after a restart or a takeover).
            self._executing.add(run.id)
        cursor, more = self._store_batch(run.id, run.log_cursor, batch)
        if progress.state is ExecutionState.RUNNING:
            return
        # Read after the run ended: a batch with lines may have been cut at its size, so the
        # rest is read until a batch comes back empty.
        if more and self._drain_logs(run.id, cursor) is not None:
            return  # more lines than one pass copies: the run ends at a later pass
        error = ""
        if progress.state is ExecutionState.SUCCEEDED:
            state = RunState.SUCCEEDED
            ended = self._store.transition(
                run.id,
                {RunState.RUNNING},
                RunState.SUCCEEDED,
                execution_time=_execution_time(progress),
                fence=fence,
            )
        else:
            state = RunState.FAILED
            error = progress.error_message or "the script failed"
            ended = self._store.transition(
                run.id,
                {RunState.RUNNING},
                RunState.FAILED,
                error_message=error,
                execution_time=_execution_time(progress),
                retry=True,
                fence=fence,
            )
        if ended:
            self._tracing.executed(run, progress.started_at, progress.finished_at, error)
            self._tracing.ended(run, state, error)
            self._forget(run.id)
            self.wake()

    def _time_out(self, run: JobRun, launching: bool, fence: Fence | None) -> None:
        timed_out = self._store.transition(
            run.id,
            {run.state},
            RunState.TIMEOUT,
            error_message=f"Job run timed out after {run.timeout} minutes",
            retry=True,
            fence=fence,
        )
        if not timed_out:
            return
        self._tracing.ended(run, RunState.TIMEOUT, f"timed out after {run.timeout} minutes")
        self.wake()
        if launching:
            return  # the launch finds the run ended and stops its environment
        self._executor.stop(run.id)
        # No later pass looks at a run that has ended: copy every line now.
        cursor: str | None = run.log_cursor
        while cursor is not None and not self._halt.is_set():
            cursor = self._drain_logs(run.id, cursor)
        self._forget(run.id)

    def _stop(self, run: JobRun, fence: Fence | None) -> None:
        self._executor.stop(run.id)
        if self._drain_logs(run.id, run.log_cursor) is not None:
            return  # more lines than one pass copies: the run stops at a later pass
        if self._store.transition(run.id, {RunState.STOPPING}, RunState.STOPPED, fence=fence):
            self._tracing.ended(run, RunState.STOPPED, "stopped on request")
            self._forget(run.id)

    def _forget(self, run_id: str) -> None:
        with self._lock:
            self._executing.discard(run_id)
        self._executor.forget(run_id)
        with self._lock:
            # Its environment is back: a queued run may fit now.
            self._ended += 1
        self._on_run_ended()

    # Logs

    def _copy_launching_logs(self, run: JobRun) -> None:
        """The lines a run whose launch is in flight has written so far (none while the
        executor does not know it yet). Only this thread copies a run's lines, from the cursor
        stored with the last batch, so the launch ending meanwhile loses and repeats none."""
        try:
            self._copy_logs(run.id, run.log_cursor)
        except Exception as exc:
            # The launch decides what becomes of the run; its lines are copied later anyway.
            logger.debug("lines of job run %s, still launching, not read yet: %s", run.id, exc)

    def _copy_logs(self, run_id: str, cursor: str) -> tuple[str, bool]:
        """One batch into the store; the new cursor and whether there were lines."""
        return self._store_batch(run_id, cursor, self._executor.read_logs(run_id, cursor))

    def _store_batch(self, run_id: str, cursor: str, batch: LogBatch) -> tuple[str, bool]:
        """A batch read from cursor into the store; the new cursor and whether it had lines."""
        if batch.lines or batch.cursor != cursor:
            self._store.append_logs(run_id, batch.lines, batch.cursor)
        if batch.lines:
            self._on_logs_stored(run_id)
        return batch.cursor, bool(batch.lines)

    def _drain_logs(self, run_id: str, cursor: str) -> str | None:
        """Copies the lines of a run that has ended until none are left (None), or for
        log_drain_pass_s: then the cursor to go on from (also stored with each batch)."""
        deadline = time.monotonic() + self._config.log_drain_pass_s
        while True:
            cursor, more = self._copy_logs(run_id, cursor)
            if not more:
                return None
            if time.monotonic() >= deadline:
                return cursor


@dataclass(frozen=True)
class _NoRoom:
    """A run without queuing that found no room: attempts that did, the first, the next try."""

    attempts: int
    first: datetime
    next_try: datetime


def _execution_time(progress: RunProgress) -> int | None:
    if progress.started_at is None or progress.finished_at is None:
        return None
    return int((progress.finished_at - progress.started_at).total_seconds())
