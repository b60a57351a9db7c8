"""Configuration of the agents: frozen dataclasses, defaults in one place.

Defaults are sized for a small machine (2 cores, a few GB per environment): one executor of one
core and 512 MB, a warm pool of one, and more logical CPUs than cores so several environments fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sluice.agents.os_users import check_user_name
from sluice.agents.ports import PortBlock
from sluice.common.errors import InvalidInput

MIB = 1024 * 1024

# A unix socket path holds at most 107 bytes; Ray puts its sockets at
# <temp_dir>/session_<date>_<time>_<micros>_<pid>/sockets/plasma_store (about 64 bytes after
# temp_dir), so the temp dir must stay short.
MAX_RAY_TEMP_DIR_CHARS = 40


@dataclass(frozen=True)
class EnvironmentSpec:
    """The size of one isolated Spark environment.

    Attributes:
        executors: Spark executors, each an actor in the environment's placement group.
        executor_cores: CPU cores of each executor (logical Ray CPUs).
        executor_memory_mb: heap of each executor JVM, also reserved in its bundle.
        driver_memory_mb: heap of the Spark driver JVM, reserved in the host's bundle.
        driver_cpus: logical CPUs reserved for the host actor and its driver JVM.
    """

    executors: int = 1
    executor_cores: int = 1
    executor_memory_mb: int = 512
    driver_memory_mb: int = 512
    driver_cpus: int = 1

    def __post_init__(self) -> None:
        _check_range("executors", self.executors, 1, 64)
        _check_range("executor_cores", self.executor_cores, 1, 64)
        _check_range("executor_memory_mb", self.executor_memory_mb, 256, 256 * 1024)
        _check_range("driver_memory_mb", self.driver_memory_mb, 256, 256 * 1024)
        _check_range("driver_cpus", self.driver_cpus, 1, 64)

    @property
    def logical_cpus(self) -> int:
        """Logical CPUs the environment's placement group reserves."""
        return self.executors * self.executor_cores + self.driver_cpus

    def to_dict(self) -> dict[str, int]:
        """Plain values, to cross process boundaries."""
        return {
            "executors": self.executors,
            "executor_cores": self.executor_cores,
            "executor_memory_mb": self.executor_memory_mb,
            "driver_memory_mb": self.driver_memory_mb,
            "driver_cpus": self.driver_cpus,
        }

    @classmethod
    def from_dict(cls, values: dict[str, int]) -> EnvironmentSpec:
        """The inverse of to_dict."""
        return cls(**{key: int(values[key]) for key in cls().to_dict()})


@dataclass(frozen=True)
class RayConfig:
    """Where Ray runs: an embedded local head (address None) or an existing cluster.

    Attributes:
        address: GCS address (host:port) of an existing cluster to join; None starts (or
            re-attaches to) an embedded head recorded in the data dir.
        auth_token_path: token file for an existing cluster with token authentication; the
            embedded head always uses token authentication with a token in the data dir.
        num_cpus: logical CPUs of the embedded head; more than the cores so that several
            environments fit, since Spark environments mostly wait.
        object_store_memory_mb: object store of the embedded head; Spark does not use it.
        include_dashboard: start Ray's dashboard on the embedded head (costs memory and CPU).
        temp_dir: Ray's temp/session dir of the embedded head; None puts it in the data dir.
        start_timeout_s: deadline for `ray start` of the embedded head.
        connect_timeout_s: deadline for connecting this process to the cluster.
        ports: the sandbox's port block, where every listening port of the embedded head and
            of its Spark falls (sluice.agents.ports); None picks free ports (no sandbox).
    """

    address: str | None = None
    auth_token_path: Path | None = None
    num_cpus: int = 8
    object_store_memory_mb: int = 512
    include_dashboard: bool = False
    temp_dir: Path | None = None
    start_timeout_s: float = 90.0
    connect_timeout_s: float = 30.0
    ports: PortBlock | None = None

    def __post_init__(self) -> None:
        _check_range("ray.num_cpus", self.num_cpus, 1, 4096)
        _check_range("ray.object_store_memory_mb", self.object_store_memory_mb, 128, 1024 * 1024)
        _check_positive("ray.start_timeout_s", self.start_timeout_s)
        _check_positive("ray.connect_timeout_s", self.connect_timeout_s)
        if self.address is not None and ":" not in self.address:
            raise InvalidInput(f"ray.address {self.address!r} is not host:port")


@dataclass(frozen=True)
class PoolConfig:
    """The warm pool of unbound environments and the limits on all environments.

    Attributes:
        size: unbound, fully started environments kept ready; 0 disables the pool, and Ray
            then starts only when the first run needs it.
        spec: the size of pooled environments; a claim for another spec starts cold.
        idle_ttl_s: a bound environment idle this long is destroyed.
        max_environments: environments alive at once (warm, starting, bound or busy).
        start_timeout_s: deadline for one environment to start (Spark up, first action done).
        placement_timeout_s: deadline for the cluster to place an environment's resources.
        maintenance_interval_s: how often the pool reaps idle environments and refills.
        refill_backoff_s: wait after a failed refill before the next attempt.
    """

    size: int = 1
    spec: EnvironmentSpec = field(default_factory=EnvironmentSpec)
    idle_ttl_s: float = 600.0
    max_environments: int = 4
    start_timeout_s: float = 300.0
    placement_timeout_s: float = 20.0
    maintenance_interval_s: float = 2.0
    refill_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        _check_range("pool.size", self.size, 0, 64)
        _check_range("pool.max_environments", self.max_environments, 1, 256)
        if self.size > self.max_environments:
            raise InvalidInput(
                f"pool.size {self.size} exceeds pool.max_environments {self.max_environments}"
            )
        _check_positive("pool.idle_ttl_s", self.idle_ttl_s)
        _check_positive("pool.start_timeout_s", self.start_timeout_s)
        _check_positive("pool.placement_timeout_s", self.placement_timeout_s)
        _check_positive("pool.maintenance_interval_s", self.maintenance_interval_s)
        _check_positive("pool.refill_backoff_s", self.refill_backoff_s)


@dataclass(frozen=True)
class AgentsConfig:
    """Everything the agents need.

    Attributes:
        data_dir: what the agent alone reads: the embedded head's address file, start log and
            locks, the agent's socket dir, the runs' final statuses; also the work area when
            work_dir is None.
        ray: the cluster.
        pool: the warm pool.
        poll_interval_s: how often active runs are polled (failure detection latency).
        rpc_timeout_s: deadline for one call to an environment's host actor.
        teardown_timeout_s: deadline for an environment's processes to disappear.
        run_as: the OS user every process of the embedded head runs as (sluice.agents.os_users names
            it, root creates it); None runs them as this process's user. Needs a work_dir
            outside the data dir, and no ray.address (an existing cluster runs as it runs).
        work_dir: the sandbox's work area, everything the head's processes read or write (Ray's
            temp dir and token, the environments' and runs' working dirs and logs); None is
            the data dir.
    """

    data_dir: Path
    ray: RayConfig = field(default_factory=RayConfig)
    pool: PoolConfig = field(default_factory=PoolConfig)
    poll_interval_s: float = 0.5
    rpc_timeout_s: float = 15.0
    teardown_timeout_s: float = 20.0
    run_as: str | None = None
    work_dir: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().absolute())
        if self.work_dir is not None:
            object.__setattr__(self, "work_dir", Path(self.work_dir).expanduser().absolute())
        if self.run_as is not None:
            self._check_run_as()
        _check_positive("poll_interval_s", self.poll_interval_s)
        _check_positive("rpc_timeout_s", self.rpc_timeout_s)
        _check_positive("teardown_timeout_s", self.teardown_timeout_s)
        if self.ray.address is None and len(str(self.ray_temp_dir)) > MAX_RAY_TEMP_DIR_CHARS:
            raise InvalidInput(
                f"Ray's temp dir {self.ray_temp_dir} is longer than {MAX_RAY_TEMP_DIR_CHARS} "
                "characters: Ray's unix sockets would not fit; use a shorter data dir or "
                "set ray.temp_dir"
            )

    @property
    def work_area(self) -> Path:
        """The work area: work_dir, or the data dir when there is none."""
        return self.work_dir if self.work_dir is not None else self.data_dir

    @property
    def ray_temp_dir(self) -> Path:
        """Ray's temp/session dir of the embedded head."""
        if self.ray.temp_dir is not None:
            return Path(self.ray.temp_dir).expanduser().absolute()
        if self.work_dir is not None:
            return self.work_dir / "r"
        return self.data_dir / "ray" / "t"

    def _check_run_as(self) -> None:
        check_user_name(self.run_as or "")
        if self.ray.address is not None:
            raise InvalidInput(
                "run_as applies to the embedded head only: with ray.address the existing cluster "
                "runs as it runs"
            )
        work = self.work_dir
        if work is None:
            raise InvalidInput("run_as needs a work_dir: the data dir stays private to the agent")
        if work == self.data_dir or work.is_relative_to(self.data_dir):
            raise InvalidInput(f"work_dir {work} must be outside the data dir {self.data_dir}")
        if self.data_dir.is_relative_to(work):
            raise InvalidInput(f"the data dir {self.data_dir} must be outside work_dir {work}")
        temp = self.ray_temp_dir
        if temp.is_relative_to(self.data_dir) or not temp.is_relative_to(work):
            raise InvalidInput(f"with run_as, Ray's temp dir {temp} must be inside work_dir {work}")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer from {low} to {high}, not {value!r}")


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInput(f"{name} must be a positive number, not {value!r}")
