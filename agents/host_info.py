"""What an environment's host actor reports about itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sluice.agents.config import EnvironmentSpec
from sluice.agents.isolation import IsolationTuple


class HostPhase(StrEnum):
    """The life of an environment, as its host sees it."""

    CREATED = "CREATED"
    STARTING = "STARTING"
    # Spark up and warmed, bound to no tuple yet.
    READY = "READY"
    # Bound to one tuple, no run executing.
    BOUND = "BOUND"
    BUSY = "BUSY"
    # Unusable (Spark failed to start, a run failed, the driver died): destroy it.
    BROKEN = "BROKEN"

    def is_usable(self) -> bool:
        """Whether the environment can still take runs."""
        return self in (HostPhase.READY, HostPhase.BOUND, HostPhase.BUSY)


@dataclass(frozen=True)
class HostInfo:
    """A snapshot of one environment, from its host actor.

    Attributes:
        environment_id: the environment.
        namespace: its Ray namespace.
        phase: where it is in its life.
        spec: its size.
        isolation: the tuple it is bound to, if any.
        current_run_id: the run executing, if any.
        current_run_deadline: when the executing run times out (seconds since the epoch).
        spark_app_id: the Spark application id of its session ("" before Spark is up).
        host_pid: the host actor's process.
        driver_pid: the Spark driver JVM's process (0 before Spark is up).
        working_dir: the environment's working dir.
        created_at: when the host actor started (seconds since the epoch).
        ready_at: when Spark was up and warmed.
        last_active_at: when a run last ended (or the environment got ready).
        failure: why the environment is BROKEN.
    """

    environment_id: str
    namespace: str
    phase: HostPhase
    spec: EnvironmentSpec
    isolation: IsolationTuple | None
    current_run_id: str
    current_run_deadline: float | None
    spark_app_id: str
    host_pid: int
    driver_pid: int
    working_dir: str
    created_at: float
    ready_at: float | None
    last_active_at: float
    failure: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values, to cross process boundaries."""
        return {
            "environment_id": self.environment_id,
            "namespace": self.namespace,
            "phase": self.phase.value,
            "spec": self.spec.to_dict(),
            "isolation": self.isolation.to_dict() if self.isolation else None,
            "current_run_id": self.current_run_id,
            "current_run_deadline": self.current_run_deadline,
            "spark_app_id": self.spark_app_id,
            "host_pid": self.host_pid,
            "driver_pid": self.driver_pid,
            "working_dir": self.working_dir,
            "created_at": self.created_at,
            "ready_at": self.ready_at,
            "last_active_at": self.last_active_at,
            "failure": self.failure,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> HostInfo:
        """The inverse of to_dict."""
        isolation = values.get("isolation")
        return cls(
            environment_id=values["environment_id"],
            namespace=values["namespace"],
            phase=HostPhase(values["phase"]),
            spec=EnvironmentSpec.from_dict(values["spec"]),
            isolation=IsolationTuple.from_dict(isolation) if isolation else None,
            current_run_id=values.get("current_run_id") or "",
            current_run_deadline=values.get("current_run_deadline"),
            spark_app_id=values.get("spark_app_id") or "",
            host_pid=int(values.get("host_pid") or 0),
            driver_pid=int(values.get("driver_pid") or 0),
            working_dir=values.get("working_dir") or "",
            created_at=float(values["created_at"]),
            ready_at=values.get("ready_at"),
            last_active_at=float(values["last_active_at"]),
            failure=values.get("failure") or "",
        )
