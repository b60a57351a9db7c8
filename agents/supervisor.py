"""RunSupervisor: what the control plane calls to execute runs on Ray.

It owns this process's Ray connection, the warm pool and the runs in flight, and watches them:
a background thread polls every active run, enforces timeouts, notices dead environments within
a poll interval or two, and hands environments back to the pool (or destroys them) when runs end.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from itertools import islice

from sluice.agents import head, naming
from sluice.agents.api import PoolStatus, RunLaunch, RunLogs
from sluice.agents.cluster import RayCluster
from sluice.agents.config import AgentsConfig, EnvironmentSpec
from sluice.agents.environment import EnvironmentHandle, PendingProgress
from sluice.agents.errors import (
    AgentUnavailable,
    EnvironmentLost,
    EnvironmentUnresponsive,
    NoCapacity,
)
from sluice.agents.host_info import HostInfo
from sluice.agents.isolation import IsolationTuple
from sluice.agents.layout import layout_of
from sluice.agents.lifecycle import EnvironmentFactory
from sluice.agents.pool import WarmPool
from sluice.agents.recovery import find_environments, take_over
from sluice.agents.run_files import (
    DEFAULT_MAX_BYTES,
    has_status,
    read_log,
    read_status,
    write_final_status,
)
from sluice.agents.runs import LogChunk, LogStream, RunProgress, RunRequest, RunState
from sluice.common.errors import AlreadyExists, SluiceError

logger = logging.getLogger(__name__)

_FINISHED_KEPT = 10_000
# Run dirs looked at for lost runs at start.
_RUN_DIRS_SCANNED = 100_000
LOST_RUN_MESSAGE = (
    "the run's environment was lost while no agent followed it (the agent or its Ray cluster "
    "stopped while the run executed)"
)


@dataclass(eq=False)
class _ActiveRun:
    run_id: str
    progress: RunProgress
    timeout_s: float
    handle: EnvironmentHandle | None = None
    deadline: float | None = None
    stop_requested: bool = False
    # A thread is ending the run (stop or finalize); the monitor leaves it alone.
    ending: bool = False


def cluster_lost_message(address: str | None) -> str:
    """The error of a run whose Ray cluster stopped answering."""
    return (
        f"the Ray cluster at {address or '(unknown)'} stopped answering (its head died); "
        "the run was lost with it"
    )


class RunSupervisor:
    """Executes runs in isolated Spark environments on Ray, and follows them.

    Thread-safe. launch() blocks until the run's script is executing (tens of seconds when the
    environment starts cold): call it from a worker thread. Every other method returns quickly.

    Args:
        config: the agents' configuration.
        on_update: called (from the supervisor's threads) with each new progress of a run,
            terminal ones included; it must not block for long.
    """

    def __init__(
        self, config: AgentsConfig, on_update: Callable[[RunProgress], None] | None = None
    ) -> None:
        self._config = config
        self._layout = layout_of(config)
        self._cluster = RayCluster(config)
        self._factory = EnvironmentFactory(self._cluster)
        self._pool = WarmPool(config, self._cluster, self._factory)
        self._on_update = on_update
        self._lock = threading.Lock()
        self._active: dict[str, _ActiveRun] = {}
        self._finished: OrderedDict[str, RunProgress] = OrderedDict()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    @property
    def cluster(self) -> RayCluster:
        return self._cluster

    @property
    def pool(self) -> WarmPool:
        return self._pool

    @property
    def factory(self) -> EnvironmentFactory:
        return self._factory

    def start(self) -> list[RunProgress]:
        """Take over what is on the cluster, then start the pool and the monitor.

        Ray is connected now if the pool has a size, if an existing cluster is configured, or if
        the data dir's embedded head is still running (after a restart); otherwise Ray starts
        with the first launch.

        Returns:
            The progress of every run found still executing, now followed again.
        """
        reattached = []
        if (
            self._config.pool.size > 0
            or not self._cluster.embedded
            or head.running_record(self._config) is not None
        ):
            self._cluster.connect()
            taken = take_over(
                self._factory,
                self._pool,
                self._config.pool,
                naming.owner_tag(self._config.data_dir),
            )
            for run in taken:
                reattached.append(self._follow(run.run_id, run.handle, run.info))
        self._record_lost({progress.run_id for progress in reattached})
        self._pool.start()
        self._monitor = threading.Thread(target=self._watch, name="run-monitor", daemon=True)
        self._monitor.start()
        return reattached

    def launch(
        self, request: RunRequest, isolation: IsolationTuple, spec: EnvironmentSpec | None = None
    ) -> RunLaunch:
        """Execute a run in an environment bound to isolation; return once its script started.

        Raises:
            AlreadyExists: the run id was launched before.
            NoCapacity: no environment can be had now; nothing is recorded, so the same run
                may be launched again.
            EnvironmentStartFailed: a cold environment failed to start (the run is FAILED).
        """
        active = _ActiveRun(
            request.run_id, RunProgress(request.run_id, RunState.STARTING), request.timeout_s
        )
        with self._lock:
            if (
                request.run_id in self._active
                or request.run_id in self._finished
                or has_status(self._layout, request.run_id)
            ):
                raise AlreadyExists(f"run {request.run_id} was already launched")
            self._active[request.run_id] = active
        self._notify(active.progress)
        try:
            claim = self._pool.claim(isolation, spec)
        except NoCapacity:
            # Nothing ran: leave no trace, so that the run can be launched again later.
            self._drop(active)
            raise
        except SluiceError as exc:
            if self._stopping.is_set():
                # The agent stops: the run never started and is launched again at its next start.
                self._drop(active)
                raise AgentUnavailable(
                    "the agent stopped before the run's environment was ready"
                ) from exc
            self._finalize(active, f"no environment for the run: {exc.message}", RunState.FAILED)
            raise
        environment_id = claim.handle.environment_id
        with self._lock:
            active.progress = replace(active.progress, environment_id=environment_id)
            stop_requested = active.stop_requested
        if stop_requested:
            self._pool.release(environment_id, healthy=True)
            final = self._finalize(active, "stopped before it started", RunState.STOPPED)
            return RunLaunch(final, environment_id, claim.warm)
        try:
            progress = claim.handle.start_run(isolation, request)
        except SluiceError as exc:
            self._pool.release(environment_id, healthy=False)
            final = self._finalize(
                active, f"the environment could not start the run: {exc.message}", RunState.FAILED
            )
            return RunLaunch(final, environment_id, claim.warm)
        logger.info(
            "run %s started in environment %s (%s)",
            request.run_id,
            environment_id,
            "warm" if claim.warm else "cold",
        )
        with self._lock:
            active.handle = claim.handle
            active.progress = progress
            active.deadline = (progress.started_at or time.time()) + request.timeout_s
            stop_requested = active.stop_requested
        self._notify(progress)
        if stop_requested:
            progress = self.stop(request.run_id)
        return RunLaunch(progress, environment_id, claim.warm)

    def progress(self, run_id: str) -> RunProgress:
        """What is known of a run; LOST if nothing executes it and it left no final status."""
        with self._lock:
            active = self._active.get(run_id)
            if active is not None:
                return active.progress
            finished = self._finished.get(run_id)
        if finished is not None:
            return finished
        recorded = read_status(self._layout, run_id)
        if recorded is not None:
            return recorded
        return RunProgress(
            run_id,
            RunState.LOST,
            error_message="no environment executes this run and it left no final status",
        )

    def stop(self, run_id: str) -> RunProgress:
        """Stop a run: its environment is destroyed at once and the run ends STOPPED.

        A run still waiting for its environment ends STOPPED as soon as it gets one.
        """
        with self._lock:
            active = self._active.get(run_id)
            if active is not None:
                if active.handle is None:
                    active.stop_requested = True
                    return active.progress
                if active.ending:
                    return active.progress
                active.ending = True
                handle = active.handle
        if active is None:
            # Not under the lock: progress() takes it.
            return self.progress(run_id)
        try:
            current = handle.progress(run_id)
        except SluiceError:
            current = None
        if current is not None and current.state.is_terminal():
            self._pool.release(handle.environment_id, healthy=current.state is RunState.SUCCEEDED)
            return self._record_final(active, current)
        self._pool.discard(handle.environment_id)
        return self._finalize(
            active, "stopped on request; its environment was destroyed", RunState.STOPPED
        )

    def forget(self, run_id: str) -> None:
        """Drop the final progress kept in memory of a run that is over (its status file stays,
        so the run cannot be launched twice)."""
        with self._lock:
            self._finished.pop(run_id, None)

    def read_log(
        self, run_id: str, stream: LogStream, offset: int = 0, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> LogChunk:
        """Read a run's log stream from a byte offset (next time: the chunk's next_offset).

        While the run executes only complete lines are returned; once it is over, everything.
        """
        whole_lines = not self.progress(run_id).state.is_terminal()
        return read_log(self._layout, run_id, stream, offset, max_bytes, whole_lines)

    def read_logs(
        self, run_id: str, offsets: Mapping[LogStream, int], max_bytes: int = DEFAULT_MAX_BYTES
    ) -> RunLogs:
        """A run's progress and every stream's text from its offset in offsets (0 for a stream
        not there): one call for each look of a scheduler that follows the run. The progress
        is read first, so the text read with a terminal one is everything the run wrote (up to
        max_bytes a stream)."""
        progress = self.progress(run_id)
        whole_lines = not progress.state.is_terminal()
        return RunLogs(
            progress,
            {
                stream: read_log(
                    self._layout, run_id, stream, offsets.get(stream, 0), max_bytes, whole_lines
                )
                for stream in LogStream
            },
        )

    def pool_status(self) -> PoolStatus:
        """Counts of the pool's environments, and whether Ray is up."""
        return self._pool.status()

    def environments(self) -> list[HostInfo]:
        """Every environment on the cluster, as its host describes it (none if Ray is down)."""
        if not self._cluster.connected:
            return []
        return [env.info for env in find_environments(self._factory) if env.info is not None]

    def environment(self, environment_id: str) -> HostInfo | None:
        """One environment, as its host describes it now; None if it is gone."""
        if not self._cluster.connected:
            return None
        handle = self._factory.attach(environment_id)
        return handle.info if handle is not None else None

    def shutdown(self, destroy_environments: bool = False, stop_cluster: bool = False) -> None:
        """Stop following runs and maintaining the pool.

        Args:
            destroy_environments: destroy every environment of this process (its runs end
                STOPPED); without it they keep running, for a restarted process to take over.
            stop_cluster: also stop the embedded Ray head.
        """
        self._stopping.set()
        if self._monitor is not None:
            self._monitor.join()
        if destroy_environments:
            with self._lock:
                # A run still waiting for its environment never started: it leaves no trace,
                # and its launch fails with AgentUnavailable (launch it again later).
                for run in [r for r in self._active.values() if r.handle is None]:
                    del self._active[run.run_id]
                active = [run for run in self._active.values() if not run.ending]
                for run in active:
                    run.ending = True
            for run in active:
                self._finalize(run, "the agents shut down", RunState.STOPPED)
        self._pool.shutdown(destroy=destroy_environments)
        if stop_cluster:
            self._cluster.stop()

    def executing(self) -> bool:
        """Whether a run's script executes (or may) in an environment of this supervisor."""
        with self._lock:
            return any(run.handle is not None for run in self._active.values())

    def begin_stop(self) -> None:
        """From now on, a launch that fails leaves no trace (the run is launched again later),
        and the monitor stops; shutdown() does the rest."""
        self._stopping.set()

    def fail_all(self, message: str) -> list[RunProgress]:
        """The cluster died: every run executing on it ends FAILED with message, recorded in its
        status file for whoever asks next (environments are not touched: they are gone).

        Returns:
            The final progress of each run failed.
        """
        self._stopping.set()
        with self._lock:
            runs = [run for run in self._active.values() if run.handle is not None]
            for run in runs:
                run.ending = True
        return [self._finalize(run, message, RunState.FAILED) for run in runs]

    def _drop(self, active: _ActiveRun) -> None:
        with self._lock:
            if self._active.get(active.run_id) is active:
                del self._active[active.run_id]

    def _record_lost(self, followed: set[str]) -> None:
        """Runs that started executing and are neither followed again nor finished were lost
        while no agent watched; say so in their status, so that their end is known at once."""
        try:
            # The work area's run dirs: job code may have added some, hence the bound.
            with os.scandir(self._layout.runs_dir) as entries:
                run_ids = [entry.name for entry in islice(entries, _RUN_DIRS_SCANNED)]
        except OSError:
            return
        now = time.time()
        for run_id in run_ids:
            try:
                if run_id in followed or has_status(self._layout, run_id):
                    continue
                lost = RunProgress(run_id, RunState.FAILED, error_message=LOST_RUN_MESSAGE)
                write_final_status(self._layout, replace(lost, finished_at=now))
            except (OSError, SluiceError) as exc:
                logger.warning("run %s: lost status not recorded: %s", run_id, exc)
                continue
            logger.info("run %s was lost while no agent followed it", run_id)

    def _follow(self, run_id: str, handle: EnvironmentHandle, info: HostInfo) -> RunProgress:
        try:
            progress = handle.progress(run_id)
        except SluiceError:
            progress = None
        if progress is None:
            progress = RunProgress(run_id, RunState.RUNNING, environment_id=handle.environment_id)
        active = _ActiveRun(
            run_id,
            progress,
            timeout_s=(info.current_run_deadline or 0.0) - (progress.started_at or 0.0),
            handle=handle,
            deadline=info.current_run_deadline,
        )
        with self._lock:
            self._active[run_id] = active
        return progress

    def _watch(self) -> None:
        while not self._stopping.wait(self._config.poll_interval_s):
            with self._lock:
                runs = [r for r in self._active.values() if r.handle is not None and not r.ending]
            pending: list[tuple[_ActiveRun, PendingProgress]] = []
            for run in runs:
                if run.handle is not None:
                    pending.append((run, run.handle.request_progress(run.run_id)))
            for run, call in pending:
                self._check(run, call)

    def _check(self, run: _ActiveRun, call: PendingProgress) -> None:
        handle = run.handle
        if handle is None:
            return
        now = time.time()
        current: RunProgress | None = run.progress
        try:
            current = call.result()
        except EnvironmentUnresponsive:
            current = run.progress
        except SluiceError as exc:
            if not self._cluster.answers():
                # The head died, and the environment with it: say so, and leave the rest (the
                # environment is gone) to the agent, which restarts the cluster.
                self._end(run, cluster_lost_message(self._cluster.address), RunState.FAILED, False)
                return
            what = "died" if isinstance(exc, EnvironmentLost) else "failed"
            self._end(run, f"the run's environment {what}: {exc.message}", RunState.FAILED, True)
            return
        if current is None:
            self._end(run, "the run's environment does not know the run", RunState.FAILED, True)
            return
        if current.state.is_terminal():
            if self._claim_ending(run):
                self._pool.release(
                    handle.environment_id, healthy=current.state is RunState.SUCCEEDED
                )
                self._record_final(run, current)
            return
        if run.deadline is not None and now > run.deadline:
            message = (
                f"the run exceeded its timeout of {run.timeout_s:g} s; "
                "its environment was destroyed"
            )
            self._end(run, message, RunState.TIMEOUT, True)
            return
        if current != run.progress:
            with self._lock:
                run.progress = current
            self._notify(current)

    def _end(self, run: _ActiveRun, message: str, state: RunState, destroy: bool) -> None:
        if not self._claim_ending(run):
            return
        if destroy and run.handle is not None:
            self._pool.discard(run.handle.environment_id)
        self._finalize(run, message, state)

    def _claim_ending(self, run: _ActiveRun) -> bool:
        with self._lock:
            if run.ending:
                return False
            run.ending = True
            return True

    def _finalize(self, run: _ActiveRun, message: str, state: RunState) -> RunProgress:
        final = run.progress.finish(state, message, time.time())
        return self._record_final(run, final)

    def _record_final(self, run: _ActiveRun, final: RunProgress) -> RunProgress:
        with self._lock:
            if self._active.get(run.run_id) is not run:
                return self._finished.get(run.run_id, final)
            del self._active[run.run_id]
            self._finished[run.run_id] = final
            while len(self._finished) > _FINISHED_KEPT:
                self._finished.popitem(last=False)
        logger.info(
            "run %s ended %s%s",
            final.run_id,
            final.state.value,
            f": {final.error_message.splitlines()[-1]}" if final.error_message else "",
        )
        try:
            write_final_status(self._layout, final)
        except OSError as exc:
            logger.warning("run %s: final status not recorded: %s", run.run_id, exc)
        self._notify(final)
        return final

    def _notify(self, progress: RunProgress) -> None:
        if self._on_update is None:
            return
        try:
            self._on_update(progress)
        # The callback is the caller's code; its failure must not stop the monitor.
        except Exception:
            logger.exception("on_update failed for run %s", progress.run_id)
