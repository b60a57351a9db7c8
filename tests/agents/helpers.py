"""Helpers of the agents tests: waiting for conditions, and what is left on the cluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import ray

from sluice.agents import naming
from sluice.agents.runs import RunProgress
from sluice.agents.supervisor import RunSupervisor

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout_s: float, interval_s: float = 0.2, what: str = ""
) -> T:
    """Poll condition until it returns something truthy; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        time.sleep(interval_s)


def wait_terminal(supervisor: RunSupervisor, run_id: str, timeout_s: float) -> RunProgress:
    """The run's progress once terminal; fail after timeout_s."""
    return wait_until(
        lambda: (p := supervisor.progress(run_id)).state.is_terminal() and p,
        timeout_s,
        what=f"run {run_id} to end",
    )


def live_placement_groups(prefix: str = naming.PLACEMENT_GROUP_PREFIX) -> dict[str, str]:
    """Id -> name of the placement groups not removed whose name starts with prefix."""
    return {
        group_id: group["name"]
        for group_id, group in ray.util.placement_group_table().items()
        if group["name"].startswith(prefix) and group["state"] != "REMOVED"
    }


def environment_actors(environment_id: str | None = None) -> list[tuple[str, str]]:
    """(namespace, name) of named actors of one environment, or of every environment."""
    namespace = naming.environment_namespace(environment_id) if environment_id else None
    return [
        (actor["namespace"], actor["name"])
        for actor in ray.util.list_named_actors(all_namespaces=True)
        if (namespace and actor["namespace"] == namespace)
        or (not namespace and actor["namespace"].startswith(naming.ENVIRONMENT_NAMESPACE_PREFIX))
    ]
