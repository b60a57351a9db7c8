"""Brings the store's active runs back in line with what the executor knows: at start-up (after
a control-plane restart) and then on a timer.

A RUNNING run the executor still knows is re-attached (the scheduler follows it again); one it
does not know has lost its environment and fails, retried if it has retries left. A STOPPING run
the executor does not know is STOPPED. STARTING and WAITING runs are the scheduler's: it
launches them (again). Finished runs of deleted jobs are purged.

With several servers on one database only the holder of the scheduler lease reconciles, at once
when it acquires the lease (taking over from a server that died) and then on the timer; its
changes carry the lease's Fence. An executor sees only the environments of its own server, so a
run taken over from another server is lost unless it executes where this one can find it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sluice.control_plane.jobs.executor import RunExecutor
from sluice.control_plane.jobs.leases import Fence, LeaseLost
from sluice.control_plane.jobs.model import RunState
from sluice.control_plane.jobs.store import JobStore

logger = logging.getLogger(__name__)

LOST_MESSAGE = (
    "environment lost: the control plane that ran it restarted, or another server took its "
    "runs over, and the run is not executing where this server can see it"
)


@dataclass(frozen=True)
class ReconcilerConfig:
    interval_s: float = 30.0

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError("interval_s must be positive")


@dataclass(frozen=True)
class ReconcileReport:
    """Run ids by what became of them, and how many orphan runs were purged."""

    reattached: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    purged: int = 0


def _nothing() -> None:
    return None


class Reconciler:
    """start() reconciles once, synchronously, then every interval on its own thread.

    on_change is called when a pass changed a run (so the scheduler can look at once).
    """

    def __init__(
        self,
        store: JobStore,
        executor: RunExecutor,
        *,
        config: ReconcilerConfig | None = None,
        on_change: Callable[[], None] = _nothing,
        fence: Callable[[], Fence | None] | None = None,
    ) -> None:
        """fence gives the scheduler lease's Fence while this server holds it, None while it
        does not; without it the reconciler is alone and always reconciles."""
        self._store = store
        self._executor = executor
        self._config = config or ReconcilerConfig()
        self._on_change = on_change
        self._fence = fence
        self._halt = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ReconcileReport:
        if self._thread is not None:
            raise RuntimeError("the reconciler is already started")
        report = self.reconcile_once()
        self._halt.clear()
        self._thread = threading.Thread(target=self._loop, name="sluice-reconciler", daemon=True)
        self._thread.start()
        return report

    def stop(self, timeout_s: float = 10.0) -> None:
        self._halt.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def wake(self) -> None:
        """Reconcile now (this server has just taken the scheduler lease over)."""
        self._wake.set()

    def reconcile_once(self) -> ReconcileReport:
        """One pass, if this server holds the scheduler lease (an empty report if not)."""
        fence = self._fence() if self._fence is not None else None
        if self._fence is not None and fence is None:
            return ReconcileReport()
        try:
            return self._reconcile(fence)
        except LeaseLost:
            logger.warning("the scheduler lease was taken over; reconciling stops")
            return ReconcileReport()

    def _reconcile(self, fence: Fence | None) -> ReconcileReport:
        reattached: list[str] = []
        lost: list[str] = []
        stopped: list[str] = []
        for run in self._store.list_active_runs():
            if run.state not in (RunState.RUNNING, RunState.STOPPING):
                continue
            if self._executor.poll(run.id) is not None:
                reattached.append(run.id)
            elif run.state is RunState.RUNNING:
                if self._store.transition(
                    run.id,
                    {RunState.RUNNING},
                    RunState.FAILED,
                    error_message=LOST_MESSAGE,
                    retry=True,
                    fence=fence,
                ):
                    lost.append(run.id)
            elif self._store.transition(run.id, {RunState.STOPPING}, RunState.STOPPED, fence=fence):
                stopped.append(run.id)
        report = ReconcileReport(
            reattached=tuple(reattached),
            lost=tuple(lost),
            stopped=tuple(stopped),
            purged=self._store.purge_orphan_runs(),
        )
        if lost or stopped:
            logger.info(
                "reconciled job runs: %d lost, %d stopped, %d re-attached",
                len(lost),
                len(stopped),
                len(reattached),
            )
            self._on_change()
        return report

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._config.interval_s)
            self._wake.clear()
            if self._halt.is_set():
                return
            try:
                self.reconcile_once()
            except Exception:
                # A database or executor hiccup must not end reconciliation for good.
                logger.exception("reconciling job runs failed; retrying at the next interval")
