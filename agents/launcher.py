"""Creates one environment's placement group and host actor, from a process of its own.

Run as `python -m agents.launcher` with a JSON request on stdin; prints one JSON line. A separate
driver process per environment is needed because Ray gives an actor the namespace of the driver
that created it, and RayDP names its app master in that namespace: environments created by one
driver would clash. The environment is detached and outlives this process.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

import ray
from ray.util.placement_group import PlacementGroup
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from sluice.agents import naming, safe_pickle
from sluice.agents.config import MIB, EnvironmentSpec
from sluice.agents.host import EnvironmentHost

# Actor calls the control plane makes while a run executes must not wait for one another.
HOST_MAX_CONCURRENCY = 8


@dataclass(frozen=True)
class LaunchRequest:
    """What the launcher needs: where the cluster is, and what to create."""

    address: str
    environment_id: str
    spec: EnvironmentSpec
    work_dir: str
    placement_timeout_s: float
    ready_timeout_s: float
    # The cluster's workers run as another user: unpickle only what agents.safe_pickle allows.
    untrusted_workers: bool = False

    def to_json(self) -> str:
        values = {**self.__dict__, "spec": self.spec.to_dict()}
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str) -> LaunchRequest:
        values = json.loads(text)
        values["spec"] = EnvironmentSpec.from_dict(values["spec"])
        return cls(**values)


class LaunchError(Exception):
    """The environment could not be created; kind is "capacity" or "internal"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def bundles(spec: EnvironmentSpec) -> list[dict[str, float]]:
    """The placement group's bundles: one per executor first (RayDP's indexing), the host last."""
    executor = {"CPU": float(spec.executor_cores), "memory": float(spec.executor_memory_mb * MIB)}
    host = {"CPU": float(spec.driver_cpus), "memory": float(spec.driver_memory_mb * MIB)}
    return [dict(executor) for _ in range(spec.executors)] + [host]


def host_actor_options(
    environment_id: str, spec: EnvironmentSpec, placement_group: PlacementGroup
) -> dict[str, Any]:
    """The options of an environment's host actor: detached, named, in the host bundle."""
    return {
        "name": naming.HOST_ACTOR_NAME,
        "namespace": naming.environment_namespace(environment_id),
        "lifetime": "detached",
        "num_cpus": spec.driver_cpus,
        "memory": spec.driver_memory_mb * MIB,
        "max_restarts": 0,
        "max_concurrency": HOST_MAX_CONCURRENCY,
        "scheduling_strategy": PlacementGroupSchedulingStrategy(
            placement_group=placement_group,
            placement_group_bundle_index=spec.executors,
            placement_group_capture_child_tasks=False,
        ),
    }


def create_environment(request: LaunchRequest) -> str:
    """Create the placement group and the host actor; return the placement group's id (hex)."""
    placement_group = ray.util.placement_group(
        bundles(request.spec),
        strategy="PACK",
        name=naming.placement_group_name(request.environment_id),
        lifetime="detached",
    )
    try:
        ray.get(placement_group.ready(), timeout=request.placement_timeout_s)
    except ray.exceptions.GetTimeoutError:
        ray.util.remove_placement_group(placement_group)
        raise LaunchError(
            "capacity",
            f"the cluster could not place an environment of {request.spec.logical_cpus} CPUs "
            f"in {request.placement_timeout_s:.0f} s",
        ) from None
    host = None
    try:
        host = (
            ray.remote(EnvironmentHost)
            .options(**host_actor_options(request.environment_id, request.spec, placement_group))
            .remote(request.environment_id, request.spec.to_dict(), request.work_dir)
        )
        ray.get(host.__ray_ready__.remote(), timeout=request.ready_timeout_s)
    except Exception as exc:
        if host is not None:
            ray.kill(host, no_restart=True)
        ray.util.remove_placement_group(placement_group)
        raise LaunchError("internal", f"the host actor did not start: {exc!r}") from exc
    return placement_group.id.hex()


def main() -> int:
    """Entry point: read a LaunchRequest on stdin, print {"ok": ..., ...} on stdout."""
    request = LaunchRequest.from_json(sys.stdin.read())
    if request.untrusted_workers:
        safe_pickle.harden_driver()
    ray.init(
        address=request.address,
        namespace=naming.environment_namespace(request.environment_id),
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    try:
        placement_group_id = create_environment(request)
    except LaunchError as exc:
        print(json.dumps({"ok": False, "kind": exc.kind, "error": str(exc)}), flush=True)
        return 2
    print(json.dumps({"ok": True, "placement_group_id": placement_group_id}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
