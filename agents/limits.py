"""Kernel-enforced resource limits per environment: memory, CPU and process count.

Ray's `num_cpus` and `memory` are bookkeeping for placement only: a script may use any amount of
either. Here every process of an environment is put in a cgroup of its own whose limits the
kernel enforces: the OOM killer acts inside the cgroup when it exceeds its memory, and the CFS
quota throttles it beyond its CPUs. Only cgroup v1 (one hierarchy per controller) is supported;
where it is not usable, UnenforcedLimits says so once in the log and enforces nothing.

Each environment's cgroups are created under the cgroups of the agent process itself, so that
whatever limits the agent lives under still apply to its environments. On the embedded Ray the
server (root) puts each sandbox's agent in a SandboxCgroups group of its own, whose limits only
root may change, and delegates it to the sandbox's OS user: the unprivileged agent may create its
environments' groups below it (they inherit its user), never raise the sandbox's own limits.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from sluice.agents import naming
from sluice.agents.config import MIB, EnvironmentSpec

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "cpu", "pids")
CFS_PERIOD_US = 100_000
# One logical CPU weighs as much as a plain process in the parent cgroup (the kernel's default).
SHARES_PER_CPU = 1024
# Outside the JVM heaps: the host's Python, RayDP's master and gateway JVM, the app-master JVM
# (about 800 MB measured idle, see shared notes), with room for a script's own data.
BASE_OVERHEAD_MB = 1024
# Spark's own default memoryOverhead per JVM: max(384 MB, 10% of the heap).
MIN_JVM_OVERHEAD_MB = 384
# Threads count as pids: a Spark environment idles at a few hundred.
DEFAULT_PIDS = 4096
_REMOVE_TIMEOUT_S = 10.0
_REMOVE_POLL_S = 0.1


@dataclass(frozen=True)
class ResourceLimits:
    """What one environment may use.

    Attributes:
        memory_bytes: resident memory of all its processes together (page cache included).
        cpus: CPU time per wall-clock second, in cores (the CFS quota).
        pids: processes and threads alive at once.
    """

    memory_bytes: int
    cpus: float
    pids: int = DEFAULT_PIDS

    def __post_init__(self) -> None:
        if self.memory_bytes < 64 * MIB or self.cpus <= 0 or self.pids < 16:
            raise ValueError(f"limits too small to run anything: {self}")


def limits_for(spec: EnvironmentSpec) -> ResourceLimits:
    """The limits of an environment of spec: its heaps plus Spark's overheads, its logical CPUs."""
    driver = spec.driver_memory_mb + _jvm_overhead_mb(spec.driver_memory_mb)
    executor = spec.executor_memory_mb + _jvm_overhead_mb(spec.executor_memory_mb)
    memory_mb = BASE_OVERHEAD_MB + driver + spec.executors * executor
    return ResourceLimits(memory_bytes=memory_mb * MIB, cpus=float(spec.logical_cpus))


def _jvm_overhead_mb(heap_mb: int) -> int:
    return max(MIN_JVM_OVERHEAD_MB, heap_mb // 10)


@dataclass(frozen=True)
class LimitUsage:
    """What the kernel counted for one environment (None where not enforced).

    Attributes:
        memory_bytes: memory charged now.
        memory_failcnt: times an allocation hit the memory limit.
        oom_kills: processes the OOM killer killed inside the cgroup.
        nr_throttled: CFS periods in which the cgroup was throttled.
    """

    memory_bytes: int
    memory_failcnt: int
    oom_kills: int
    nr_throttled: int


class EnvironmentLimits(Protocol):
    """Creates, fills and removes the kernel limits of environments (one set per environment)."""

    @property
    def enforced(self) -> bool:
        """Whether the kernel enforces the limits (False: nothing is limited)."""
        ...

    def describe(self) -> str:
        """One line for operators: "enforced: <how>" or "not enforced: <why>"."""
        ...

    def create(self, environment_id: str, limits: ResourceLimits) -> None:
        """Create the environment's limits (replacing the values of existing ones)."""
        ...

    def add(self, environment_id: str, pids: Iterable[int]) -> list[int]:
        """Move processes (with all their threads) under the environment's limits.

        Returns:
            The pids moved; processes gone meanwhile are skipped.
        """
        ...

    def pids(self, environment_id: str) -> set[int]:
        """The processes under the environment's limits now."""
        ...

    def usage(self, environment_id: str) -> LimitUsage | None:
        """The kernel's counters of the environment, or None if it has no limits here."""
        ...

    def destroy(self, environment_id: str) -> None:
        """Kill what is left under the environment's limits and remove them."""
        ...

    def environment_ids(self) -> set[str]:
        """Ids of the environments that have limits here, of any owner."""
        ...


class CgroupV1Limits:
    """EnvironmentLimits as cgroup v1 groups `<own cgroup>/sluice-env-<id>` of memory, cpu, pids."""

    def __init__(self, parents: dict[str, Path]) -> None:
        """Args: parents: the directory under which each controller's groups are created."""
        self._parents = parents

    @classmethod
    def below_own_cgroups(cls, root: Path = CGROUP_ROOT) -> CgroupV1Limits:
        """Groups under this process's own cgroup of each controller.

        Raises:
            OSError: a controller is not mounted as cgroup v1 or its groups cannot be created.
        """
        own = _own_cgroups()
        parents = {}
        for controller in CONTROLLERS:
            if controller not in own:
                raise OSError(errno.ENOENT, f"no cgroup v1 {controller} hierarchy")
            parent = root / controller / own[controller].lstrip("/")
            if not (parent / "cgroup.procs").is_file():
                raise OSError(errno.ENOENT, f"{parent} is not a cgroup v1 {controller} group")
            parents[controller] = parent
        limits = cls(parents)
        limits._probe()
        return limits

    @property
    def enforced(self) -> bool:
        return True

    def describe(self) -> str:
        return "enforced: cgroup v1 memory, cpu and pids groups per environment"

    def create(self, environment_id: str, limits: ResourceLimits) -> None:
        groups = {c: self._group(c, environment_id) for c in CONTROLLERS}
        for group in groups.values():
            group.mkdir(exist_ok=True)
        # cgroup v1 refuses a CFS quota above the parent's: an environment gets its sandbox's.
        parent_cpus = _quota_cpus(self._parents["cpu"])
        if parent_cpus is not None and limits.cpus > parent_cpus:
            limits = replace(limits, cpus=parent_cpus)
        set_limits(groups, limits)

    def add(self, environment_id: str, pids: Iterable[int]) -> list[int]:
        moved = []
        for pid in pids:
            try:
                for controller in CONTROLLERS:
                    _write(self._group(controller, environment_id) / "cgroup.procs", pid)
            except ProcessLookupError:
                continue
            except OSError as exc:
                # ESRCH: the process ended between listing and moving.
                if exc.errno == errno.ESRCH:
                    continue
                raise
            moved.append(pid)
        return moved

    def pids(self, environment_id: str) -> set[int]:
        return _procs(self._group("memory", environment_id))

    def usage(self, environment_id: str) -> LimitUsage | None:
        memory = self._group("memory", environment_id)
        cpu = self._group("cpu", environment_id)
        if not memory.is_dir() or not cpu.is_dir():
            return None
        return LimitUsage(
            memory_bytes=_read_int(memory / "memory.usage_in_bytes"),
            memory_failcnt=_read_int(memory / "memory.failcnt"),
            oom_kills=_flat_keys(memory / "memory.oom_control").get("oom_kill", 0),
            nr_throttled=_flat_keys(cpu / "cpu.stat").get("nr_throttled", 0),
        )

    def destroy(self, environment_id: str) -> None:
        groups = [self._group(c, environment_id) for c in CONTROLLERS]
        deadline = time.monotonic() + _REMOVE_TIMEOUT_S
        while True:
            left = set().union(*(_procs(group) for group in groups))
            for pid in left:
                # Whatever outlived the environment's teardown must not outlive its limits.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            busy = []
            for group in groups:
                try:
                    group.rmdir()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        raise
                    busy.append(group)
            if not busy:
                return
            if time.monotonic() > deadline:
                raise OSError(errno.EBUSY, f"cgroups still busy: {busy}")
            time.sleep(_REMOVE_POLL_S)

    def environment_ids(self) -> set[str]:
        found = set()
        for controller in CONTROLLERS:
            with contextlib.suppress(FileNotFoundError):
                for entry in self._parents[controller].iterdir():
                    environment_id = naming.environment_id_of_cgroup(entry.name)
                    if environment_id and entry.is_dir():
                        found.add(environment_id)
        return found

    def _group(self, controller: str, environment_id: str) -> Path:
        return self._parents[controller] / naming.cgroup_name(environment_id)

    def _probe(self) -> None:
        """Create and remove a group per controller: proves we may, before any environment."""
        probe = f"{naming.CGROUP_PREFIX}probe-{os.getpid()}"
        for controller in CONTROLLERS:
            group = self._parents[controller] / probe
            group.mkdir(exist_ok=True)
            group.rmdir()


class UnenforcedLimits:
    """EnvironmentLimits where the kernel cannot enforce any: nothing is limited, and it says so."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self._warned = False

    @property
    def enforced(self) -> bool:
        return False

    def describe(self) -> str:
        return f"not enforced: {self.reason}"

    def create(self, environment_id: str, limits: ResourceLimits) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "environment resource limits are NOT enforced (%s): one environment can "
                "use all of a node's memory and CPUs",
                self.reason,
            )

    def add(self, environment_id: str, pids: Iterable[int]) -> list[int]:
        return []

    def pids(self, environment_id: str) -> set[int]:
        return set()

    def usage(self, environment_id: str) -> LimitUsage | None:
        return None

    def destroy(self, environment_id: str) -> None:
        return None

    def environment_ids(self) -> set[str]:
        return set()


def set_limits(groups: dict[str, Path], limits: ResourceLimits) -> None:
    """Write limits into existing groups (controller -> group dir)."""
    memory = groups["memory"]
    # Memory a process touched before it moved in is charged here too, where the kernel
    # still can (newer kernels refuse: pages charged before the move stay with the parent).
    with contextlib.suppress(OSError):
        _write(memory / "memory.move_charge_at_immigrate", 3)
    files = ["memory.limit_in_bytes"]
    if (memory / "memory.memsw.limit_in_bytes").exists():
        # With swap, memory+swap gets the same limit: the group cannot swap out instead.
        # The kernel keeps memory <= memory+swap at every step: raise the latter first.
        raising = limits.memory_bytes > _read_int(memory / "memory.limit_in_bytes")
        files = (
            ["memory.memsw.limit_in_bytes", *files]
            if raising
            else [*files, "memory.memsw.limit_in_bytes"]
        )
    for name in files:
        _write(memory / name, limits.memory_bytes)
    cpu = groups["cpu"]
    _write(cpu / "cpu.cfs_period_us", CFS_PERIOD_US)
    _write(cpu / "cpu.cfs_quota_us", max(1000, int(limits.cpus * CFS_PERIOD_US)))
    _write(cpu / "cpu.shares", max(2, int(limits.cpus * SHARES_PER_CPU)))
    _write(groups["pids"] / "pids.max", limits.pids)


# What a delegated group's user may write: moving its own processes between its groups. The
# directory is its too, so that it may make child groups (which then are its own entirely).
DELEGATED_FILES = ("cgroup.procs", "tasks")


class SandboxCgroups:
    """One sandbox's cgroup v1 groups (memory, cpu, pids) below the server's own, made by root.

    Root writes the limits; the group's directory, cgroup.procs and tasks are then given to the
    sandbox's user, so its agent (and CgroupV1Limits.below_own_cgroups in it) makes environment
    groups below, while the limit files stay root's: the sandbox cannot raise its own limits,
    nor move a process out (the parent's cgroup.procs is root's).
    """

    def __init__(self, groups: dict[str, Path]) -> None:
        """Args: groups: the sandbox's group dir of each controller (made or not)."""
        self.groups = groups

    @classmethod
    def below_own_cgroups(cls, name: str, root: Path = CGROUP_ROOT) -> SandboxCgroups:
        """The groups named name under this process's own group of each controller.

        Raises:
            OSError: a controller is not mounted as cgroup v1.
        """
        own = _own_cgroups()
        groups = {}
        for controller in CONTROLLERS:
            if controller not in own:
                raise OSError(errno.ENOENT, f"no cgroup v1 {controller} hierarchy")
            parent = root / controller / own[controller].lstrip("/")
            if not (parent / "cgroup.procs").is_file():
                raise OSError(errno.ENOENT, f"{parent} is not a cgroup v1 {controller} group")
            groups[controller] = parent / name
        return cls(groups)

    def create(self, limits: ResourceLimits, uid: int, gid: int) -> None:
        """Make the groups (or update their limits) and delegate them to uid:gid."""
        for group in self.groups.values():
            group.mkdir(exist_ok=True)
        set_limits(self.groups, limits)
        for group in self.groups.values():
            for path in (group, *(group / name for name in DELEGATED_FILES)):
                os.chown(path, uid, gid, follow_symlinks=False)

    def set_cpu_shares(self, shares: int) -> None:
        """The sandbox's weight against its siblings (the server's own processes among them)
        when the CPUs are busy; its quota is unchanged."""
        _write(self.groups["cpu"] / "cpu.shares", max(2, shares))

    def add(self, pid: int) -> None:
        """Move a process (all its threads) into the sandbox's groups."""
        for group in self.groups.values():
            _write(group / "cgroup.procs", pid)

    def limits(self) -> ResourceLimits | None:
        """The limits in force, or None if the groups do not exist."""
        try:
            quota = _quota_cpus(self.groups["cpu"])
            return ResourceLimits(
                memory_bytes=_read_int(self.groups["memory"] / "memory.limit_in_bytes"),
                cpus=quota if quota is not None else float(os.cpu_count() or 1),
                pids=_read_int(self.groups["pids"] / "pids.max"),
            )
        except (OSError, ValueError):
            return None

    def pids(self) -> set[int]:
        """Every process in the groups and their child groups."""
        found: set[int] = set()
        for group in self.groups.values():
            for directory in _tree(group):
                found |= _procs(directory)
        return found

    def destroy(self) -> None:
        """Kill every process left in the groups (child groups too) and remove them all."""
        deadline = time.monotonic() + _REMOVE_TIMEOUT_S
        while True:
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            busy = []
            for group in self.groups.values():
                # Deepest first: a group with child groups cannot be removed.
                for directory in reversed(_tree(group)):
                    try:
                        directory.rmdir()
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        if exc.errno != errno.EBUSY:
                            raise
                        busy.append(directory)
            if not busy:
                return
            if time.monotonic() > deadline:
                raise OSError(errno.EBUSY, f"cgroups still busy: {busy}")
            time.sleep(_REMOVE_POLL_S)


def _tree(group: Path) -> list[Path]:
    """group and the groups below it, parents before children; [] if it does not exist."""
    if not group.is_dir():
        return []
    found = [group]
    for entry in sorted(group.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            found.extend(_tree(entry))
    return found


def _quota_cpus(cpu_group: Path) -> float | None:
    """A cpu group's CFS quota in CPUs; None if it has none (or cannot be read)."""
    try:
        quota = _read_int(cpu_group / "cpu.cfs_quota_us")
        period = _read_int(cpu_group / "cpu.cfs_period_us")
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def node_limits(embedded: bool) -> EnvironmentLimits:
    """The limits of this node: cgroup v1 groups, or UnenforcedLimits with the reason why not.

    Args:
        embedded: whether the environments' processes run on this node (the embedded head);
            the processes of an existing cluster's nodes are out of this process's reach.
    """
    if not embedded:
        return UnenforcedLimits("the environments run on an existing Ray cluster's nodes")
    try:
        return CgroupV1Limits.below_own_cgroups()
    except OSError as exc:
        return UnenforcedLimits(f"cgroup v1 memory, cpu and pids groups are not usable: {exc}")


def _own_cgroups() -> dict[str, str]:
    """Controller -> this process's cgroup path in it, from /proc/self/cgroup (v1 lines)."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller:
                own[controller] = path
    return own


def _write(path: Path, value: int) -> None:
    with open(path, "w") as stream:
        stream.write(str(value))


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def _flat_keys(path: Path) -> dict[str, int]:
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            values[key] = int(value)
    return values


def _procs(group: Path) -> set[int]:
    try:
        return {int(line) for line in (group / "cgroup.procs").read_text().split()}
    except FileNotFoundError:
        return set()
