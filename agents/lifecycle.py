"""Creating, finding and destroying environments on the cluster."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time

import psutil
import ray
from ray.util.placement_group import PlacementGroup

from sluice.agents import naming
from sluice.agents.cluster import RayCluster
from sluice.agents.config import EnvironmentSpec
from sluice.agents.environment import EnvironmentHandle
from sluice.agents.errors import (
    EnvironmentLost,
    EnvironmentStartFailed,
    EnvironmentUnresponsive,
    NoCapacity,
)
from sluice.agents.launcher import LaunchRequest
from sluice.agents.layout import layout_of
from sluice.agents.limits import EnvironmentLimits, limits_for, node_limits
from sluice.agents.processes import environment_actor_pids, environment_pids, process_alive
from sluice.common.errors import SluiceError
from sluice.common.secrets import without_server_secrets

# The launcher connects to Ray and starts a worker for the host actor: seconds, not minutes.
_LAUNCHER_EXTRA_S = 90.0
_HOST_READY_TIMEOUT_S = 60.0
_GONE_POLL_S = 0.2
_STDERR_TAIL_CHARS = 2000

logger = logging.getLogger(__name__)


class EnvironmentFactory:
    """Creates environments (through sluice.agents.launcher), re-attaches to them, destroys them."""

    def __init__(self, cluster: RayCluster) -> None:
        self._cluster = cluster
        self._config = cluster.config
        self._layout = layout_of(cluster.config)
        self._limits = node_limits(cluster.embedded)

    @property
    def limits(self) -> EnvironmentLimits:
        """The kernel limits of this node's environments."""
        return self._limits

    def start(self, spec: EnvironmentSpec) -> EnvironmentHandle:
        """Create an environment and start its Spark session; blocks for tens of seconds.

        Raises:
            NoCapacity: the cluster cannot place the environment.
            EnvironmentStartFailed: anything else went wrong; nothing is left behind.
        """
        handle = self.create(spec)
        self.start_created(handle)
        return handle

    def start_created(self, handle: EnvironmentHandle) -> None:
        """Start Spark in a created environment; destroy the environment if that fails."""
        try:
            handle.start(self._config.pool.start_timeout_s)
            # RayDP's master, app master and executors are actors the raylet started: not
            # children of the host, so they are moved in now that they run.
            self.confine(handle.environment_id, handle.spec)
        except SluiceError as exc:
            self.destroy(handle.environment_id, handle.placement_group_id, wait=False)
            raise EnvironmentStartFailed(
                f"environment {handle.environment_id} did not start: {exc.message}"
            ) from exc

    def create(self, spec: EnvironmentSpec) -> EnvironmentHandle:
        """Create an environment's placement group and host actor, Spark not started."""
        address = self._cluster.connect()
        environment_id = naming.new_environment_id(naming.owner_tag(self._config.data_dir))
        request = LaunchRequest(
            address=address,
            environment_id=environment_id,
            spec=spec,
            work_dir=str(self._config.work_area),
            placement_timeout_s=self._config.pool.placement_timeout_s,
            ready_timeout_s=_HOST_READY_TIMEOUT_S,
            untrusted_workers=self._config.run_as is not None,
        )
        result = self._launch(request)
        if not result.get("ok"):
            if result.get("kind") == "capacity":
                raise NoCapacity(str(result.get("error")))
            raise EnvironmentStartFailed(str(result.get("error")))
        namespace = naming.environment_namespace(environment_id)
        actor = ray.get_actor(naming.HOST_ACTOR_NAME, namespace=namespace)
        handle = EnvironmentHandle(
            environment_id, spec, actor, result["placement_group_id"], self._config.rpc_timeout_s
        )
        try:
            # Before Spark starts: the driver JVM and the scripts' children inherit the cgroup.
            self.confine(environment_id, spec)
        except SluiceError:
            self.destroy(environment_id, handle.placement_group_id, wait=False)
            raise
        return handle

    def confine(self, environment_id: str, spec: EnvironmentSpec) -> list[int]:
        """Put the environment's local processes under its kernel limits (created if missing).

        Idempotent: processes already in are moved again at no cost. Returns the pids moved.

        Raises:
            EnvironmentStartFailed: the limits could not be created or applied.
        """
        if not self._limits.enforced:
            self._limits.create(environment_id, limits_for(spec))
            return []
        try:
            self._limits.create(environment_id, limits_for(spec))
            actors = environment_actor_pids(environment_id)
            if naming.HOST_ACTOR_NAME not in actors:
                # Never report limits that bind nothing.
                raise OSError(f"the host actor's process of {environment_id} was not found")
            pids = set(actors.values()) | set(environment_pids(environment_id))
            return self._limits.add(environment_id, sorted(pids))
        except OSError as exc:
            raise EnvironmentStartFailed(
                f"environment {environment_id}: its resource limits could not be applied: {exc}"
            ) from None

    def remove_stale_limits(self, owner: str) -> list[str]:
        """Remove the limits of owner's environments that are no longer on the cluster."""
        stale = [
            environment_id
            for environment_id in self._limits.environment_ids()
            if naming.environment_owner(environment_id) == owner
        ]
        live = self.environment_ids() if stale else set()
        removed = []
        for environment_id in stale:
            if environment_id not in live:
                self._remove_limits(environment_id)
                removed.append(environment_id)
        return removed

    def _remove_limits(self, environment_id: str) -> None:
        usage = self._limits.usage(environment_id)
        if usage is not None and usage.oom_kills:
            logger.warning(
                "environment %s: the kernel killed %d of its processes for exceeding its "
                "memory limit",
                environment_id,
                usage.oom_kills,
            )
        try:
            self._limits.destroy(environment_id)
        except OSError as exc:
            logger.warning("environment %s: its cgroups stay: %s", environment_id, exc)

    def attach(self, environment_id: str) -> EnvironmentHandle | None:
        """A handle on an existing environment, or None if its host actor is gone or mute."""
        self._cluster.connect()
        try:
            actor = ray.get_actor(
                naming.HOST_ACTOR_NAME, namespace=naming.environment_namespace(environment_id)
            )
        except ValueError:
            return None
        groups = self.placement_group_ids(environment_id)
        handle = EnvironmentHandle(
            environment_id,
            EnvironmentSpec(),
            actor,
            groups[0] if groups else "",
            self._config.rpc_timeout_s,
        )
        try:
            info = handle.describe()
        except (EnvironmentLost, EnvironmentUnresponsive):
            return None
        handle.spec = info.spec
        return handle

    def environment_ids(self) -> set[str]:
        """Ids of every environment with a named actor or a live placement group on the cluster."""
        self._cluster.connect()
        found = set()
        for actor in ray.util.list_named_actors(all_namespaces=True):
            environment_id = naming.environment_id_of_namespace(actor["namespace"])
            if environment_id:
                found.add(environment_id)
        for group in ray.util.placement_group_table().values():
            environment_id = naming.environment_id_of_placement_group(group.get("name", ""))
            if environment_id and group.get("state") != "REMOVED":
                found.add(environment_id)
        return found

    def placement_group_ids(self, environment_id: str) -> list[str]:
        """Ids (hex) of the environment's placement groups that are not removed."""
        name = naming.placement_group_name(environment_id)
        return [
            group_id
            for group_id, group in ray.util.placement_group_table().items()
            if group.get("name") == name and group.get("state") != "REMOVED"
        ]

    def destroy(
        self,
        environment_id: str,
        placement_group_id: str = "",
        pids: tuple[int, ...] = (),
        wait: bool = True,
    ) -> None:
        """Kill the environment's host actor and remove its placement group (milliseconds).

        A killed detached actor leaves its placement group behind, so the group is removed by
        name and id. With wait, also await_gone: its processes end and its files go.
        """
        namespace = naming.environment_namespace(environment_id)
        with contextlib.suppress(ValueError):
            ray.kill(ray.get_actor(naming.HOST_ACTOR_NAME, namespace=namespace), no_restart=True)
        group_ids = set(self.placement_group_ids(environment_id))
        if placement_group_id:
            group_ids.add(placement_group_id)
        for group_id in group_ids:
            # A group removed meanwhile (e.g. by a concurrent destroy) is what we want anyway.
            with contextlib.suppress(Exception):
                ray.util.remove_placement_group(
                    PlacementGroup(ray.PlacementGroupID(bytes.fromhex(group_id)))
                )
        if wait:
            self.await_gone(environment_id, pids)

    def await_gone(self, environment_id: str, pids: tuple[int, ...] = ()) -> bool:
        """Wait until the environment's actors and processes are gone; remove its working dir.

        Returns:
            Whether everything was gone before the teardown deadline.
        """
        namespace = naming.environment_namespace(environment_id)
        deadline = time.monotonic() + self._config.teardown_timeout_s
        forced = False
        while True:
            names = _actor_names(namespace)
            local = [pid for pid in pids if process_alive(pid)] if self._cluster.embedded else []
            if not names and not local:
                break
            if time.monotonic() > deadline:
                shutil.rmtree(self._layout.environment_dir(environment_id), ignore_errors=True)
                self._remove_limits(environment_id)
                return False
            if not forced and time.monotonic() > deadline - self._config.teardown_timeout_s / 2:
                _kill_actors(namespace, names)
                for pid in local:
                    with contextlib.suppress(psutil.Error):
                        psutil.Process(pid).kill()
                forced = True
            time.sleep(_GONE_POLL_S)
        shutil.rmtree(self._layout.environment_dir(environment_id), ignore_errors=True)
        self._remove_limits(environment_id)
        return True

    def _launch(self, request: LaunchRequest) -> dict[str, object]:
        timeout = request.placement_timeout_s + _LAUNCHER_EXTRA_S
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "sluice.agents.launcher"],
                input=request.to_json(),
                capture_output=True,
                text=True,
                env={**without_server_secrets(os.environ), **self._cluster.client_environment()},
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.destroy(request.environment_id, wait=False)
            raise EnvironmentStartFailed(
                f"the environment launcher did not finish in {timeout:.0f} s"
            ) from None
        lines = completed.stdout.strip().splitlines()
        try:
            return json.loads(lines[-1])
        except (IndexError, ValueError):
            self.destroy(request.environment_id, wait=False)
            raise EnvironmentStartFailed(
                f"the environment launcher failed (exit code {completed.returncode}): "
                + completed.stderr[-_STDERR_TAIL_CHARS:]
            ) from None


def _actor_names(namespace: str) -> list[str]:
    return [
        actor["name"]
        for actor in ray.util.list_named_actors(all_namespaces=True)
        if actor["namespace"] == namespace
    ]


def _kill_actors(namespace: str, names: list[str]) -> None:
    for name in names:
        # Best effort on what should already be dying: some of these are RayDP's Java actors.
        with contextlib.suppress(Exception):
            ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
