"""The operating-system processes of an environment, on this node: liveness and memory."""

from __future__ import annotations

from pathlib import Path

import psutil
import ray
from ray._private import state as ray_state

from sluice.agents import naming

# Ray's Java runtime extracts its native library into /tmp/ray/<millis>/ when a JVM connects as
# a driver (RayDP's app-master gateway does), whatever the temp settings say.
_RAY_JAVA_DRIVER_LIB_ROOT = Path("/tmp/ray")
_RAY_JAVA_LIB_NAME = "libcore_worker_library_java.so"


def process_alive(pid: int) -> bool:
    """Whether pid is a live process (zombies are dead)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def environment_actor_pids(environment_id: str) -> dict[str, int]:
    """Pid of each named actor of an environment (host, RayDP master, app master, executors)."""
    namespace = naming.environment_namespace(environment_id)
    pids = {}
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"] != namespace:
            continue
        try:
            handle = ray.get_actor(actor["name"], namespace=namespace)
        except ValueError:
            continue
        # Ray's public state API needs the dashboard, which the embedded head runs without.
        entry = ray_state.actors(handle._actor_id.hex())
        if entry and entry.get("Pid"):
            pids[actor["name"]] = int(entry["Pid"])
    return pids


def environment_pids(environment_id: str) -> list[int]:
    """Every live local process of an environment: its actors' and their descendants."""
    found: set[int] = set()
    for pid in environment_actor_pids(environment_id).values():
        try:
            process = psutil.Process(pid)
            found.add(pid)
            found.update(child.pid for child in process.children(recursive=True))
        except psutil.Error:
            continue
    return sorted(pid for pid in found if process_alive(pid))


def total_rss_mb(pids: list[int]) -> float:
    """Resident memory of the given processes, summed, in MiB."""
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            continue
    return total / (1024 * 1024)


def ray_java_driver_lib_dirs(pids: list[int]) -> set[Path]:
    """The /tmp/ray/<millis> dirs whose Ray Java native library the given processes mapped."""
    found = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in maps.splitlines():
            if not line.endswith(_RAY_JAVA_LIB_NAME):
                continue
            directory = Path(line.split(maxsplit=5)[-1]).parent
            if directory.parent == _RAY_JAVA_DRIVER_LIB_ROOT and directory.name.isdigit():
                found.add(directory)
    return found
