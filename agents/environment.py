"""EnvironmentHandle: the control plane's side of one environment's host actor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import ray
from ray.actor import ActorHandle

from sluice.agents import naming
from sluice.agents.config import EnvironmentSpec
from sluice.agents.errors import EnvironmentLost, EnvironmentUnresponsive
from sluice.agents.host_info import HostInfo
from sluice.agents.isolation import IsolationTuple
from sluice.agents.run_files import well_typed_progress
from sluice.agents.runs import RunProgress, RunRequest
from sluice.common.errors import SluiceError

T = TypeVar("T")


class EnvironmentHandle:
    """Calls to one environment's host actor, with Ray's failures turned into SluiceErrors.

    Thread-safe. Every call waits at most rpc_timeout_s (start at most its own timeout).
    """

    def __init__(
        self,
        environment_id: str,
        spec: EnvironmentSpec,
        actor: ActorHandle,
        placement_group_id: str,
        rpc_timeout_s: float,
        info: HostInfo | None = None,
    ) -> None:
        self.environment_id = environment_id
        self.spec = spec
        self.placement_group_id = placement_group_id
        self._actor = actor
        self._rpc_timeout_s = rpc_timeout_s
        self._lock = threading.Lock()
        self._info = info

    @property
    def namespace(self) -> str:
        return naming.environment_namespace(self.environment_id)

    @property
    def info(self) -> HostInfo | None:
        """The latest HostInfo this handle received."""
        with self._lock:
            return self._info

    def start(self, timeout_s: float) -> HostInfo:
        """Start Spark in the environment and warm it up (tens of seconds)."""
        return self._remember(self._call(lambda: self._actor.start.remote(), timeout_s))

    def describe(self) -> HostInfo:
        """The environment now."""
        return self._remember(self._call(lambda: self._actor.describe.remote()))

    def bind(self, isolation: IsolationTuple) -> HostInfo:
        """Bind the environment to isolation (FailedPrecondition if bound to another)."""
        return self._remember(self._call(lambda: self._actor.bind.remote(isolation.to_dict())))

    def start_run(self, isolation: IsolationTuple, request: RunRequest) -> RunProgress:
        """Begin executing request; returns at once with the run RUNNING."""
        values = self._call(
            lambda: self._actor.start_run.remote(isolation.key(), request.to_dict())
        )
        return self._progress(values, request.run_id)

    def progress(self, run_id: str) -> RunProgress | None:
        """The run's progress, or None if this environment does not know the run."""
        return self.request_progress(run_id).result()

    def request_progress(self, run_id: str) -> PendingProgress:
        """Ask for the run's progress without waiting: many runs are polled at once."""
        return PendingProgress(self, self._actor.progress.remote(run_id), run_id)

    def kill(self) -> None:
        """Kill the host actor at once (its placement group stays: see lifecycle.destroy)."""
        try:
            ray.kill(self._actor, no_restart=True)
        except ValueError:
            return

    def _call(self, submit: Callable[[], Any], timeout_s: float | None = None) -> Any:
        return self._resolve(submit(), timeout_s)

    def _resolve(self, ref: ray.ObjectRef, timeout_s: float | None = None) -> Any:
        timeout = self._rpc_timeout_s if timeout_s is None else timeout_s
        try:
            return ray.get(ref, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            raise EnvironmentUnresponsive(
                f"environment {self.environment_id} did not answer in {timeout:.0f} s"
            ) from None
        except ray.exceptions.RayActorError as exc:
            raise EnvironmentLost(
                f"environment {self.environment_id} is gone: its host process died"
                f" ({_first_line(exc)})"
            ) from None
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, SluiceError):
                raise cause from None
            raise EnvironmentLost(
                f"environment {self.environment_id} failed: {_first_line(exc)}"
            ) from exc
        except ray.exceptions.RayError as exc:
            # E.g. an answer that may not be unpickled here (sluice.agents.safe_pickle).
            raise EnvironmentLost(
                f"environment {self.environment_id} sent an unreadable answer: {_first_line(exc)}"
            ) from None

    def _progress(self, values: Any, run_id: str) -> RunProgress:
        """A run's progress from the host's answer, which job code may have forged."""
        if not well_typed_progress(values) or values["run_id"] != run_id:
            raise EnvironmentLost(
                f"environment {self.environment_id} sent no progress of run {run_id}"
            )
        return RunProgress.from_dict(values)

    def _remember(self, values: dict[str, Any]) -> HostInfo:
        try:
            info = HostInfo.from_dict(values)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise EnvironmentLost(
                f"environment {self.environment_id} sent no description of itself: {exc!r}"
            ) from None
        with self._lock:
            self._info = info
        return info


class PendingProgress:
    """A progress call in flight."""

    def __init__(self, handle: EnvironmentHandle, ref: ray.ObjectRef, run_id: str) -> None:
        self._handle = handle
        self._ref = ref
        self._run_id = run_id

    def result(self, timeout_s: float | None = None) -> RunProgress | None:
        """The run's progress (None if the environment does not know the run)."""
        values = self._handle._resolve(self._ref, timeout_s)
        return self._handle._progress(values, self._run_id) if values is not None else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
