"""Port blocks: every sandbox's Ray and Spark listen on ports of a block of its own.

The server gives each sandbox a block of BLOCK_SIZE consecutive ports in the machine-wide Sluice
range [RANGE_FIRST, RANGE_LAST], disjoint from every other sandbox's on this machine (whichever
server made it), and starts the sandbox's Ray head and Spark with every listening port in it.
The kernel (sluice.agents.netpolicy) then refuses each sandbox user TCP to the Sluice range on
this host outside its own block: another account's Ray and Spark are refused by address, not
only by their authentication.

The range sits between Ray's default worker ports (10002-19999, used by clusters Sluice does not
start) and the kernel's ephemeral ports (32768-60999 by default), so that neither a cluster
started elsewhere nor a socket bound to port 0 takes a block's port.

A block's layout (offsets from its first port):

    0 GCS, 1 node manager, 2 object manager, 3 Ray client server, 4 dashboard agent (HTTP),
    5 dashboard agent (gRPC), 6 metrics export, 7 runtime env agent, 8 dashboard,
    9 autoscaler metrics, 10 dashboard metrics, 11-15 spare,
    16-143 Ray workers and drivers (one port each), 144-255 Spark (drivers, block managers,
    RayDP's app masters and their gateways).

Claims are recorded in a registry directory only root (or the server's user) can write: one
file per block, created with O_EXCL, naming the sandbox's private dir. A claim whose sandbox dir
is gone is stale and its block is given again; a block whose fixed ports are in use (a process
this registry does not know of) is skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sluice.common.errors import InternalError, InvalidInput

RANGE_FIRST = 20000
RANGE_LAST = 32767
BLOCK_SIZE = 256
# Where root's servers record their claims (machine-wide, root's only).
ROOT_REGISTRY = Path("/var/lib/sluice/port-blocks")

_GCS, _NODE_MANAGER, _OBJECT_MANAGER, _CLIENT_SERVER = 0, 1, 2, 3
_AGENT_HTTP, _AGENT_GRPC, _METRICS_EXPORT, _RUNTIME_ENV_AGENT = 4, 5, 6, 7
_DASHBOARD, _AUTOSCALER_METRICS, _DASHBOARD_METRICS = 8, 9, 10
FIXED_PORTS = 11
_WORKERS_FIRST, _WORKERS_LAST = 16, 143
_SPARK_FIRST = 144
_LOCALHOST = "127.0.0.1"
_LOCK_FILE = ".lock"
SPARK_PORTS_VAR = "SLUICE_SPARK_PORTS"


@dataclass(frozen=True)
class PortBlock:
    """The ports [first, first + size) of one sandbox.

    Attributes:
        first: its first port.
        size: how many ports (BLOCK_SIZE unless a test says otherwise; at least 256).
    """

    first: int
    size: int = BLOCK_SIZE

    def __post_init__(self) -> None:
        for name, value in (("first", self.first), ("size", self.size)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"port block {name} must be an integer, not {value!r}")
        if self.size < BLOCK_SIZE:
            raise InvalidInput(f"a port block holds at least {BLOCK_SIZE} ports, not {self.size}")
        if self.first < 1024 or self.last > 65535:
            raise InvalidInput(f"port block {self.first}-{self.last} is not in 1024..65535")

    @property
    def last(self) -> int:
        """Its last port."""
        return self.first + self.size - 1

    @property
    def ports(self) -> str:
        """The block as nft spells a range: "first-last"."""
        return f"{self.first}-{self.last}"

    @property
    def gcs(self) -> int:
        return self.first + _GCS

    @property
    def spark_first(self) -> int:
        """The first of the Spark ports."""
        return self.first + _SPARK_FIRST

    @property
    def spark_retries(self) -> int:
        """spark.port.maxRetries that keeps a Spark port from spark_first within the block."""
        return self.last - self.spark_first

    @property
    def worker_ports(self) -> tuple[int, int]:
        """The first and last port of Ray's workers (and drivers)."""
        return self.first + _WORKERS_FIRST, self.first + _WORKERS_LAST

    def ray_start_options(self, dashboard: bool) -> list[str]:
        """The `ray start --head` options that put each of the head's listening ports here."""
        low, high = self.worker_ports
        options = [
            f"--port={self.first + _GCS}",
            f"--node-manager-port={self.first + _NODE_MANAGER}",
            f"--object-manager-port={self.first + _OBJECT_MANAGER}",
            f"--ray-client-server-port={self.first + _CLIENT_SERVER}",
            f"--dashboard-agent-listen-port={self.first + _AGENT_HTTP}",
            f"--dashboard-agent-grpc-port={self.first + _AGENT_GRPC}",
            f"--metrics-export-port={self.first + _METRICS_EXPORT}",
            f"--runtime-env-agent-port={self.first + _RUNTIME_ENV_AGENT}",
            f"--min-worker-port={low}",
            f"--max-worker-port={high}",
        ]
        if dashboard:
            options.append(f"--dashboard-port={self.first + _DASHBOARD}")
        return options

    def ray_environment(self) -> dict[str, str]:
        """Environment variables of the head's processes that pin the ports Ray has no option
        for (its autoscaler's and dashboard's Prometheus endpoints, fixed ports by default)."""
        return {
            "AUTOSCALER_METRIC_PORT": str(self.first + _AUTOSCALER_METRICS),
            "DASHBOARD_METRIC_PORT": str(self.first + _DASHBOARD_METRICS),
            # Every worker inherits it: its Spark takes its ports from here (spark_ports).
            SPARK_PORTS_VAR: f"{self.spark_first}-{self.last}",
        }

    def __str__(self) -> str:
        return self.ports


def spark_ports(environ: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """The first and last Spark port of this sandbox (from the head's environment), or None
    outside a sandbox with a port block."""
    value = (os.environ if environ is None else environ).get(SPARK_PORTS_VAR, "")
    first, dash, last = value.partition("-")
    if not dash or not first.isdigit() or not last.isdigit() or int(last) < int(first):
        return None
    return int(first), int(last)


def block_at(index: int, first: int = RANGE_FIRST, size: int = BLOCK_SIZE) -> PortBlock:
    """The index-th block of the range starting at first."""
    return PortBlock(first + index * size, size)


def block_count(first: int = RANGE_FIRST, last: int = RANGE_LAST, size: int = BLOCK_SIZE) -> int:
    """How many blocks fit in the range first..last."""
    return max(0, (last - first + 1) // size)


def default_registry() -> Path:
    """The registry of claims: machine-wide for root, per user otherwise."""
    if os.geteuid() == 0:
        return ROOT_REGISTRY
    return Path(tempfile.gettempdir()) / f"sluice-port-blocks-{os.geteuid()}"


class PortRegistry:
    """Which sandbox holds which block of the range, across every server of this machine.

    Args:
        path: the registry directory (made 0700 if missing; must be this process's user's).
        first, last: the Sluice range.
        size: ports per block.
        is_free: whether a block's head ports are free now (tests replace the probe).
    """

    def __init__(
        self,
        path: Path | None = None,
        first: int = RANGE_FIRST,
        last: int = RANGE_LAST,
        size: int = BLOCK_SIZE,
        is_free: Callable[[PortBlock], bool] | None = None,
    ) -> None:
        self.path = path if path is not None else default_registry()
        self.first = first
        self.last = last
        self.size = size
        self._is_free = is_free if is_free is not None else fixed_ports_free
        if block_count(first, last, size) < 1:
            raise InvalidInput(f"the port range {first}-{last} holds no block of {size} ports")

    @property
    def range(self) -> str:
        """The Sluice range as nft spells it."""
        return f"{self.first}-{self.last}"

    def claim(self, sandbox_dir: Path) -> PortBlock:
        """The block of the sandbox whose private dir is sandbox_dir: the one it holds, or a
        free one claimed for it now.

        Raises:
            InternalError: every block is held or in use.
        """
        owner = str(Path(sandbox_dir).absolute())
        with self._locked():
            claims = self._claims()
            for index, claimed_by in claims.items():
                if claimed_by == owner:
                    return block_at(index, self.first, self.size)
            for index in range(block_count(self.first, self.last, self.size)):
                claimed_by = claims.get(index)
                if claimed_by is not None and Path(claimed_by).exists():
                    continue
                block = block_at(index, self.first, self.size)
                if not self._is_free(block):
                    continue
                self._write(index, owner)
                return block
        raise InternalError(
            f"no free port block for a new sandbox: every block of {self.size} ports in "
            f"{self.range} is held or in use (see {self.path})"
        )

    def held(self, sandbox_dir: Path) -> PortBlock | None:
        """The block the sandbox holds, or None; never claims one."""
        owner = str(Path(sandbox_dir).absolute())
        if not self.path.is_dir():
            return None
        for index, claimed_by in self._claims().items():
            if claimed_by == owner:
                return block_at(index, self.first, self.size)
        return None

    def release(self, sandbox_dir: Path) -> None:
        """Give back the sandbox's block (a no-op if it holds none)."""
        owner = str(Path(sandbox_dir).absolute())
        with self._locked():
            for index, claimed_by in self._claims().items():
                if claimed_by == owner:
                    (self.path / _claim_name(index)).unlink(missing_ok=True)

    def _claims(self) -> dict[int, str]:
        claims = {}
        for entry in self.path.iterdir():
            name, dot, extension = entry.name.partition(".")
            if not dot or extension != "json" or not name.isdigit():
                continue
            try:
                claims[int(name)] = str(json.loads(entry.read_text(encoding="utf-8"))["sandbox"])
            except (OSError, ValueError, KeyError, TypeError):
                # Unreadable: the block stays taken, never given twice.
                claims[int(name)] = str(entry)
        return claims

    def _write(self, index: int, owner: str) -> None:
        path = self.path / _claim_name(index)
        path.unlink(missing_ok=True)  # a stale claim
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"sandbox": owner, "first": self.first + index * self.size}, out)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._make_dir()
        with (self.path / _LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _make_dir(self) -> None:
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(self.path)
        except OSError as exc:
            raise InternalError(f"cannot make the port registry {self.path}: {exc}") from None
        if info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise InternalError(
                f"the port registry {self.path} must be this server's user's and private (0700)"
            )


def _claim_name(index: int) -> str:
    return f"{index}.json"


def fixed_ports_free(block: PortBlock) -> bool:
    """Whether the block's fixed ports (the head's) can be bound on loopback now."""
    for port in range(block.first, block.first + FIXED_PORTS):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As Ray's servers bind: a port left in TIME_WAIT is free to them.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((_LOCALHOST, port))
            except OSError:
                return False
    return True
