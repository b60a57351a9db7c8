"""AgentFleet: one sandbox (an agent process with its own embedded Ray head) per account.

A sandbox is bound to an account on the account's first run and never handed to another: the
binding is a file created with O_EXCL in the sandbox's private dir and never rewritten, so a
second binding cannot happen, and it outlives restarts. Unbound sandboxes ("spares") are started
ahead, so that a new account's first run binds a warm one; a new spare then replaces it.

The fleet implements the executor's AgentRuns: launches route by the run's account, the other
calls by run id (remembered in a file per run, so that a restarted server routes them too).

    <data-dir>/agents/<sandbox-id>/              0700, the server's (root's) record of it
        binding.json                             account and OS user, once bound
        launched/<run-id>                        the runs launched in the sandbox
    <sandbox-dir>/<sandbox-id>/                  0700 the sandbox user's: its work area
    <sandbox-dir>/<sandbox-id>.agent/            0700 the sandbox user's: its agent's data dir
                                                 (Ray head record, token, final statuses, socket)

The agent runs as the sandbox's OS user: nothing the server trusts (the binding, the launched
runs) is in a dir that user may write, so a sandbox cannot rewrite its binding to claim another
account after a restart. Runs are routed by the launched-run records only: a run not on record
is lost, whatever an agent says of it (an agent is now as untrusted as its job code).

A bound sandbox whose account has had no run for idle_s is reclaimed: its agent stopped, then
everything of it removed (remove_sandbox: processes, work area, OS user, network policy,
cgroups), its record marked retired (a file that is never removed, so that the sandbox id is
never used again); the account's next run binds a fresh spare. At start, retired sandboxes and
half-made ones are removed the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sluice.agents.api import PoolStatus, RunLaunch, RunLogs
from sluice.agents.config import EnvironmentSpec
from sluice.agents.errors import AgentUnavailable, NoCapacity
from sluice.agents.isolation import IsolationTuple
from sluice.agents.runs import LogChunk, LogStream, RunProgress, RunRequest, RunState, check_run_id
from sluice.common.errors import InternalError, SluiceError
from sluice.control_plane.errors import StartupError
from sluice.control_plane.jobs.agents_executor import AgentRuns
from sluice.control_plane.logs import fields

log = logging.getLogger("sluice.jobs")

BINDING_FILE = "binding.json"
LAUNCHED_DIR = "launched"
RETIRED_FILE = "retired"
SANDBOX_PREFIX = "sb-"
OS_USER_PREFIX = "sluice-"
AGENT_DIR_SUFFIX = ".agent"
SERVER_SOCKET_SUFFIX = ".sock"
_SANDBOX_ID = re.compile(r"^sb-[0-9a-f]{8}$")
# How often idle sandboxes are looked for, at most (a quarter of idle_s when shorter).
REAP_INTERVAL_S = 60.0
STOP_REAPER_TIMEOUT_S = 10.0


def new_sandbox_id() -> str:
    """A short random sandbox id: Ray's socket paths under its work area must stay short."""
    return SANDBOX_PREFIX + secrets.token_hex(4)


def is_sandbox_id(name: str) -> bool:
    """Whether name is a sandbox id (the name of a sandbox's dirs)."""
    return _SANDBOX_ID.match(name) is not None


def os_user_of(sandbox_id: str) -> str:
    """The OS user a sandbox's Ray processes run as (when the server may switch users)."""
    return OS_USER_PREFIX + sandbox_id


@dataclass(frozen=True)
class SandboxPlan:
    """Where one sandbox lives, and whom it runs as; what a SandboxAgent is made from.

    Attributes:
        sandbox_id: sb- and 8 hex digits.
        data_dir: the server's record of the sandbox (<data-dir>/agents/<sandbox-id>).
        work_dir: the sandbox's work area (<sandbox-dir>/<sandbox-id>).
        os_user: the sandbox's OS user name (used only where users can be switched).
        agent_dir: the agent's own data dir (<sandbox-dir>/<sandbox-id>.agent).
    """

    sandbox_id: str
    data_dir: Path
    work_dir: Path
    os_user: str
    agent_dir: Path

    @classmethod
    def of(cls, agents_dir: Path, sandbox_dir: Path, sandbox_id: str) -> SandboxPlan:
        """The plan of a sandbox of a server's agents dir and sandbox dir."""
        return cls(
            sandbox_id=sandbox_id,
            data_dir=agents_dir / sandbox_id,
            work_dir=sandbox_dir / sandbox_id,
            os_user=os_user_of(sandbox_id),
            agent_dir=sandbox_dir / (sandbox_id + AGENT_DIR_SUFFIX),
        )

    @property
    def server_socket(self) -> Path:
        """Where the server connects to the agent (<sandbox-dir>/<sandbox-id>.sock): its socket,
        moved out of the agent's dir into one only root writes (AgentProcess publish_to)."""
        return self.agent_dir.with_name(self.sandbox_id + SERVER_SOCKET_SUFFIX)

    @property
    def user_dirs(self) -> tuple[Path, Path]:
        """The dirs the sandbox's user owns."""
        return (self.work_dir, self.agent_dir)


@dataclass(frozen=True)
class Binding:
    """A sandbox's owner, as its binding file records it."""

    account: str
    os_user: str


@dataclass(frozen=True)
class SandboxStatus:
    """One sandbox as GetPoolStatus shows it."""

    sandbox_id: str
    # Empty for an unbound spare.
    account: str
    os_user: str
    # "up" (its agent process runs; pool.ray_started says whether Ray does) or "down".
    state: str
    pool: PoolStatus
    # Since when (epoch seconds) a bound sandbox has had no run on record; None while it has
    # one, and for a spare.
    idle_since: float | None = None


class SandboxAgent(Protocol):
    """A sandbox's agent process (AgentProcess has these)."""

    @property
    def client(self) -> AgentRuns: ...

    @property
    def pid(self) -> int | None: ...

    def start(self) -> None: ...

    def stop(self, keep_environments: bool) -> int | None: ...


@dataclass
class _Sandbox:
    plan: SandboxPlan
    agent: SandboxAgent
    account: str = ""
    # When its last run was forgotten (or it was bound, or the server started).
    idle_since: float = 0.0


class AgentFleet:
    """Sandboxes by account, and runs by sandbox; implements AgentRuns. Thread-safe.

    Args:
        agents_dir: <data-dir>/agents, where the sandboxes' private dirs are.
        sandbox_dir: the root of the sandboxes' work areas (see sandbox_root).
        spares: unbound sandboxes kept started ahead.
        make_agent: a (not yet started) agent for a sandbox.
        idle_s: a bound sandbox without a run for this long is reclaimed; 0: never.
        remove_sandbox: removes what is left of a sandbox once its agent stopped (or never
            started): its processes, dirs, OS user...; its record is the fleet's.
        on_bind: called (under the fleet's lock) once a sandbox is bound to an account.
        clock: the time now, in epoch seconds.
    """

    def __init__(
        self,
        agents_dir: Path,
        sandbox_dir: Path,
        spares: int,
        make_agent: Callable[[SandboxPlan], SandboxAgent],
        *,
        idle_s: float = 0.0,
        remove_sandbox: Callable[[SandboxPlan], None] | None = None,
        on_bind: Callable[[SandboxPlan], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if spares < 0 or idle_s < 0:
            raise ValueError("spares and idle_s must not be negative")
        self._idle_s = idle_s
        self._remove_sandbox = remove_sandbox or (lambda _plan: None)
        self._on_bind = on_bind or (lambda _plan: None)
        self._clock = clock
        self._reaper: threading.Thread | None = None
        self._halt = threading.Event()
        self._agents_dir = agents_dir
        self._sandbox_dir = sandbox_dir
        self._spares_wanted = spares
        self._make_agent = make_agent
        self._lock = threading.Lock()
        self._stopping = False
        self._sandboxes: dict[str, _Sandbox] = {}
        self._by_account: dict[str, _Sandbox] = {}
        self._spares: list[_Sandbox] = []
        self._runs: dict[str, _Sandbox] = {}

    # Start and stop

    def start(self) -> None:
        """Start the agent of every sandbox left in the data dir (bound ones re-attach to their
        runs; unbound ones are spares again), then as many new spares as are missing.

        Raises:
            StartupError: a sandbox's dir cannot be made or read.
        """
        try:
            self._agents_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            existing = sorted(
                entry.name for entry in self._agents_dir.iterdir() if is_sandbox_id(entry.name)
            )
        except OSError as exc:
            raise StartupError(f"cannot read {self._agents_dir}: {exc.strerror}") from None
        existing = self._clear_leftovers(existing)
        with self._lock:
            for sandbox_id in existing:
                sandbox = self._sandbox(sandbox_id)
                sandbox.idle_since = self._clock()
                binding = read_binding(sandbox.plan.data_dir)
                if binding is not None:
                    sandbox.account = binding.account
                    self._by_account[binding.account] = sandbox
                    for run_id in self._launched(sandbox):
                        self._runs[run_id] = sandbox
                else:
                    self._spares.append(sandbox)
                self._start_agent(sandbox)
            self._top_up()
        log.info(
            "sandboxes started",
            extra=fields(bound=len(self._by_account), spares=len(self._spares)),
        )
        if self._idle_s > 0:
            self._reaper = threading.Thread(
                target=self._reap_loop, name="sluice-sandbox-reaper", daemon=True
            )
            self._reaper.start()

    def stop(self, keep_environments: bool) -> dict[str, int | None]:
        """Stop every sandbox's agent, in parallel; spares never keep their environments.

        Returns:
            Each sandbox's agent exit code (None if none ran).
        """
        with self._lock:
            self._stopping = True
            sandboxes = list(self._sandboxes.values())
        self._halt.set()
        if self._reaper is not None:
            self._reaper.join(timeout=STOP_REAPER_TIMEOUT_S)
        if not sandboxes:
            return {}

        def stop_one(sandbox: _Sandbox) -> int | None:
            return sandbox.agent.stop(keep_environments and bool(sandbox.account))

        with ThreadPoolExecutor(max_workers=min(len(sandboxes), 8)) as pool:
            codes = list(pool.map(stop_one, sandboxes))
        ids = [sandbox.plan.sandbox_id for sandbox in sandboxes]
        return dict(zip(ids, codes, strict=True))

    # AgentRuns

    def launch(
        self, request: RunRequest, isolation: IsolationTuple, spec: EnvironmentSpec | None = None
    ) -> RunLaunch:
        """Launch in the run's account's sandbox, binding a spare (or a new, cold sandbox) on
        the account's first run. A sandbox whose agent is still starting answers NoCapacity
        (AgentUnavailable), as the single agent did: the scheduler launches again later."""
        check_run_id(request.run_id)
        sandbox = self._sandbox_of_account(isolation.account, request.run_id)
        # Before the launch: a server killed during it still knows where to look.
        (sandbox.plan.data_dir / LAUNCHED_DIR / request.run_id).touch(mode=0o600, exist_ok=True)
        try:
            return sandbox.agent.client.launch(request, isolation, spec)
        except NoCapacity:
            # Nothing of the run was recorded: it is launched (and remembered) again later.
            self._drop(request.run_id)
            raise

    def progress(self, run_id: str) -> RunProgress:
        sandbox = self._route(run_id)
        if sandbox is None:
            return RunProgress(run_id, RunState.LOST)
        return sandbox.agent.client.progress(run_id)

    def stop_run(self, run_id: str) -> RunProgress:
        sandbox = self._route(run_id)
        if sandbox is None:
            return RunProgress(run_id, RunState.LOST)
        return sandbox.agent.client.stop(run_id)

    def forget(self, run_id: str) -> None:
        sandbox = self._drop(run_id)
        if sandbox is not None:
            sandbox.agent.client.forget(run_id)

    def read_logs(self, run_id: str, offsets: Mapping[LogStream, int]) -> RunLogs:
        sandbox = self._route(run_id)
        if sandbox is None:
            return RunLogs(
                RunProgress(run_id, RunState.LOST),
                {stream: LogChunk("", offset, offset) for stream, offset in offsets.items()},
            )
        return sandbox.agent.client.read_logs(run_id, offsets)

    def pool_status(self) -> PoolStatus:
        """Every sandbox's pool, summed."""
        return total_pool([status.pool for status in self.sandbox_statuses()])

    def sandbox_statuses(self) -> list[SandboxStatus]:
        """Each sandbox, bound ones first (by account), then the spares."""
        with self._lock:
            sandboxes = sorted(
                self._sandboxes.values(),
                key=lambda s: (not s.account, s.account, s.plan.sandbox_id),
            )
        statuses = []
        with self._lock:
            busy = {id(sandbox) for sandbox in self._runs.values()}
        for sandbox in sandboxes:
            pool = sandbox.agent.client.pool_status()
            state = "up" if sandbox.agent.pid is not None else "down"
            idle = sandbox.idle_since if sandbox.account and id(sandbox) not in busy else None
            statuses.append(
                SandboxStatus(
                    sandbox.plan.sandbox_id,
                    sandbox.account,
                    sandbox.plan.os_user,
                    state,
                    pool,
                    idle_since=idle,
                )
            )
        return statuses

    def plans(self) -> list[SandboxPlan]:
        """Every sandbox's dirs and user."""
        with self._lock:
            return [sandbox.plan for sandbox in self._sandboxes.values()]

    def bound_account(self, sandbox_id: str) -> str:
        """The account a sandbox is bound to; "" for a spare or an unknown sandbox."""
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
            return sandbox.account if sandbox is not None else ""

    # Routing and binding

    def _sandbox_of_account(self, account: str, run_id: str) -> _Sandbox:
        """The account's sandbox, bound first if needed, with run_id on record in it (both
        under one hold of the lock: the reaper never takes a sandbox a launch just chose)."""
        try:
            with self._lock:
                sandbox = self._bound_sandbox(account)
                self._runs[run_id] = sandbox
                return sandbox
        except (OSError, StartupError) as exc:
            message = exc.message if isinstance(exc, StartupError) else str(exc)
            raise InternalError(f"cannot make the account's sandbox: {message}") from None

    def _bound_sandbox(self, account: str) -> _Sandbox:
        """Under the lock: the account's sandbox, a spare or a new one bound to it if none."""
        if self._stopping:
            raise AgentUnavailable("the server is stopping")
        sandbox = self._by_account.get(account)
        if sandbox is not None:
            return sandbox
        while self._spares:
            spare = self._spares.pop(0)
            if self._bind(spare, account):
                log.info(
                    "spare sandbox bound",
                    extra=fields(sandbox=spare.plan.sandbox_id, account=account),
                )
                self._top_up()
                return spare
        sandbox = self._sandbox(self._unused_sandbox_id())
        if not self._bind(sandbox, account):
            raise InternalError(f"sandbox {sandbox.plan.sandbox_id} was bound meanwhile")
        self._start_agent(sandbox)
        log.info(
            "sandbox started cold",
            extra=fields(sandbox=sandbox.plan.sandbox_id, account=account),
        )
        self._top_up()
        return sandbox

    def _bind(self, sandbox: _Sandbox, account: str) -> bool:
        """Under the lock: record the binding; False if the sandbox has one already (it is then
        given to whichever account its file names, never to this one)."""
        try:
            write_binding(sandbox.plan.data_dir, Binding(account, sandbox.plan.os_user))
        except FileExistsError:
            binding = read_binding(sandbox.plan.data_dir)
            if binding is not None and binding.account not in self._by_account:
                sandbox.account = binding.account
                self._by_account[binding.account] = sandbox
            return False
        sandbox.account = account
        sandbox.idle_since = self._clock()
        self._by_account[account] = sandbox
        # A spare ran in the background; an account's sandbox does not.
        self._on_bind(sandbox.plan)
        return True

    def _top_up(self) -> None:
        """Under the lock: start spares until there are as many as wanted."""
        while not self._stopping and len(self._spares) < self._spares_wanted:
            try:
                spare = self._sandbox(self._unused_sandbox_id())
                self._start_agent(spare)
            except (OSError, StartupError):
                # A missing spare makes the next new account start cold, nothing worse.
                log.exception("cannot start a spare sandbox")
                return
            self._spares.append(spare)
            log.info("spare sandbox started", extra=fields(sandbox=spare.plan.sandbox_id))

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        """Under the lock: a sandbox's dirs made and its agent made (not started)."""
        plan = SandboxPlan.of(self._agents_dir, self._sandbox_dir, sandbox_id)
        plan.data_dir.mkdir(mode=0o700, exist_ok=True)
        (plan.data_dir / LAUNCHED_DIR).mkdir(mode=0o700, exist_ok=True)
        sandbox = _Sandbox(plan, self._make_agent(plan))
        self._sandboxes[sandbox_id] = sandbox
        return sandbox

    def _start_agent(self, sandbox: _Sandbox) -> None:
        try:
            sandbox.agent.start()
        except OSError as exc:
            raise StartupError(
                f"cannot start the agent of sandbox {sandbox.plan.sandbox_id}: {exc.strerror}"
            ) from None

    def _unused_sandbox_id(self) -> str:
        """Under the lock: a new sandbox id with no record (a retired one's is never reused)."""
        while True:
            sandbox_id = new_sandbox_id()
            if sandbox_id not in self._sandboxes and not (self._agents_dir / sandbox_id).exists():
                return sandbox_id

    def _drop(self, run_id: str) -> _Sandbox | None:
        """Forget where a run was launched (in memory and on disk); the sandbox it was in."""
        with self._lock:
            sandbox = self._runs.pop(run_id, None)
            if sandbox is not None and sandbox not in self._runs.values():
                sandbox.idle_since = self._clock()
        if sandbox is not None:
            with contextlib.suppress(OSError, ValueError):
                marker = sandbox.plan.data_dir / LAUNCHED_DIR / check_run_id(run_id)
                marker.unlink(missing_ok=True)
        return sandbox

    def _launched(self, sandbox: _Sandbox) -> Iterable[str]:
        try:
            return [entry.name for entry in (sandbox.plan.data_dir / LAUNCHED_DIR).iterdir()]
        except OSError:
            return []

    def _route(self, run_id: str) -> _Sandbox | None:
        """The sandbox a run was launched in; None for a run not on record (launched before
        sandboxes existed, by the single agent of an older server: it is lost)."""
        with self._lock:
            return self._runs.get(run_id)

    # Reclaim

    def reap_idle(self) -> list[str]:
        """Reclaim every bound sandbox without a run for idle_s (nothing if idle_s is 0).

        Returns:
            The ids of the sandboxes reclaimed.
        """
        if self._idle_s <= 0:
            return []
        now = self._clock()
        with self._lock:
            if self._stopping:
                return []
            busy = {id(sandbox) for sandbox in self._runs.values()}
            idle = [
                sandbox
                for sandbox in self._by_account.values()
                if id(sandbox) not in busy and now - sandbox.idle_since >= self._idle_s
            ]
            for sandbox in idle:
                # Out of every map first: the account's next run binds another sandbox.
                del self._by_account[sandbox.account]
                del self._sandboxes[sandbox.plan.sandbox_id]
                self._retire(sandbox.plan)
        for sandbox in idle:
            log.info(
                "idle sandbox reclaimed",
                extra=fields(
                    sandbox=sandbox.plan.sandbox_id,
                    account=sandbox.account,
                    idle_s=round(now - sandbox.idle_since),
                ),
            )
            sandbox.agent.stop(False)
            self._remove(sandbox.plan)
        return [sandbox.plan.sandbox_id for sandbox in idle]

    def _reap_loop(self) -> None:
        interval = min(max(self._idle_s / 4, 1.0), REAP_INTERVAL_S)
        while not self._halt.wait(interval):
            try:
                self.reap_idle()
            except Exception:
                # A sandbox that cannot be removed now is tried again at the next start.
                log.exception("cannot reclaim idle sandboxes")

    def _retire(self, plan: SandboxPlan) -> None:
        """Mark a sandbox's record retired: it is removed, and never started or bound again."""
        with contextlib.suppress(FileExistsError):
            fd = os.open(plan.data_dir / RETIRED_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)

    def _remove(self, plan: SandboxPlan) -> None:
        try:
            self._remove_sandbox(plan)
        except (OSError, SluiceError) as exc:
            # Its record stays retired: the next start tries again.
            log.warning(
                "cannot remove a retired sandbox",
                extra=fields(sandbox=plan.sandbox_id, error=str(exc)),
            )

    def _clear_leftovers(self, existing: list[str]) -> list[str]:
        """Remove retired and half-made sandboxes (and work areas without a record); the ids of
        the sandboxes to start."""
        kept = []
        for sandbox_id in existing:
            plan = SandboxPlan.of(self._agents_dir, self._sandbox_dir, sandbox_id)
            if (plan.data_dir / RETIRED_FILE).exists():
                self._remove(plan)
                continue
            if not (plan.data_dir / LAUNCHED_DIR).is_dir() and read_binding(plan.data_dir) is None:
                # Made, never started: nothing ran in it that needs its record.
                log.info("half-made sandbox removed", extra=fields(sandbox=sandbox_id))
                self._retire(plan)
                self._remove(plan)
                continue
            kept.append(sandbox_id)
        known = set(existing)
        with contextlib.suppress(OSError):
            for entry in self._sandbox_dir.iterdir():
                sandbox_id = entry.name.removesuffix(AGENT_DIR_SUFFIX)
                if is_sandbox_id(sandbox_id) and sandbox_id not in known:
                    # A work area whose record was never written: ours, as the sandbox dir is.
                    known.add(sandbox_id)
                    log.info("orphan sandbox work area removed", extra=fields(sandbox=sandbox_id))
                    self._remove(SandboxPlan.of(self._agents_dir, self._sandbox_dir, sandbox_id))
        return kept


class FleetRuns:
    """The fleet as the executor's AgentRuns (its stop() stops a run, not the fleet)."""

    def __init__(self, fleet: AgentFleet) -> None:
        self._fleet = fleet

    def launch(
        self, request: RunRequest, isolation: IsolationTuple, spec: EnvironmentSpec | None = None
    ) -> RunLaunch:
        return self._fleet.launch(request, isolation, spec)

    def progress(self, run_id: str) -> RunProgress:
        return self._fleet.progress(run_id)

    def stop(self, run_id: str) -> RunProgress:
        return self._fleet.stop_run(run_id)

    def forget(self, run_id: str) -> None:
        self._fleet.forget(run_id)

    def read_logs(self, run_id: str, offsets: Mapping[LogStream, int]) -> RunLogs:
        return self._fleet.read_logs(run_id, offsets)

    def pool_status(self) -> PoolStatus:
        return self._fleet.pool_status()


def total_pool(pools: list[PoolStatus]) -> PoolStatus:
    """Several pools as one: counts summed; the Ray address only if there is one cluster."""
    addresses = {pool.ray_address for pool in pools if pool.ray_address}
    limits = next((pool.resource_limits for pool in pools if pool.resource_limits), "")
    return PoolStatus(
        target_size=sum(pool.target_size for pool in pools),
        warm=sum(pool.warm for pool in pools),
        starting=sum(pool.starting for pool in pools),
        bound_idle=sum(pool.bound_idle for pool in pools),
        busy=sum(pool.busy for pool in pools),
        ray_started=any(pool.ray_started for pool in pools),
        ray_address=addresses.pop() if len(addresses) == 1 else "",
        resource_limits=limits,
    )


def write_binding(data_dir: Path, binding: Binding) -> None:
    """Create a sandbox's binding file; FileExistsError if it has one (never overwritten)."""
    body = json.dumps({"account": binding.account, "os_user": binding.os_user}).encode()
    fd = os.open(data_dir / BINDING_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_binding(data_dir: Path) -> Binding | None:
    """A sandbox's binding, None if it is unbound.

    Raises:
        StartupError: the binding file exists but cannot be read: the sandbox is not
            handed out again, whatever happened to the file.
    """
    path = data_dir / BINDING_FILE
    try:
        values = json.loads(path.read_bytes())
        return Binding(account=str(values["account"]), os_user=str(values["os_user"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        name = path.parent.name
        raise StartupError(f"cannot read the binding of sandbox {name}: {exc}") from None


def default_sandbox_dir(data_dir: Path, temp_dir: Path) -> Path:
    """<temp>/sluice-<12 hex of the data dir's sha256>: short, as Ray's socket paths are
    under each sandbox's work area, and the same at every start of the server."""
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return temp_dir / f"sluice-{digest}"


def sandbox_root(path: Path) -> Path:
    """Make (or check) the root of the sandboxes' work areas: a directory of this process's
    user, mode 0711, so sandboxes reach their own area by name and list nobody's.

    Raises:
        StartupError: it exists and is not such a directory (someone else's, or a link).
    """
    try:
        path.mkdir(mode=0o711, parents=True, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise StartupError(f"cannot make the sandbox dir {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise StartupError(f"the sandbox dir {path} is not a directory of this server's user")
    if stat.S_IMODE(info.st_mode) != 0o711:
        os.chmod(path, 0o711)
    return path
