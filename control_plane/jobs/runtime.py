"""The jobs side of one server: job store, Ray agents, scheduler and reconciler, started and
stopped together."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry.trace import Tracer
from sqlalchemy.engine import make_url

from sluice.agents import head, naming, os_users
from sluice.agents.api import AgentSettings, socket_path
from sluice.agents.config import (
    MAX_RAY_TEMP_DIR_CHARS,
    MIB,
    AgentsConfig,
    EnvironmentSpec,
    PoolConfig,
    RayConfig,
)
from sluice.agents.layout import DataLayout
from sluice.agents.limits import ResourceLimits, limits_for
from sluice.agents.ports import PortBlock
from sluice.catalog.core.store.base import CatalogStore
from sluice.common.db import Database
from sluice.common.errors import SluiceError
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.errors import StartupError
from sluice.control_plane.jobs import sandbox_host
from sluice.control_plane.jobs.agent_process import AgentProcess
from sluice.control_plane.jobs.agents_executor import (
    AgentRuns,
    AgentsExecutor,
    environment_spec,
    pool_counts,
)
from sluice.control_plane.jobs.executor import PoolSnapshot, SandboxSnapshot
from sluice.control_plane.jobs.fleet import (
    AgentFleet,
    FleetRuns,
    SandboxPlan,
    default_sandbox_dir,
    is_sandbox_id,
    new_sandbox_id,
    read_binding,
    sandbox_root,
    total_pool,
)
from sluice.control_plane.jobs.leases import Fence, LeaseKeeper
from sluice.control_plane.jobs.log_arrivals import LogArrivals
from sluice.control_plane.jobs.model import (
    DEFAULT_NUMBER_OF_WORKERS,
    DEFAULT_WORKER_TYPE,
    CommandName,
    JobRun,
    RunState,
)
from sluice.control_plane.jobs.reconciler import Reconciler
from sluice.control_plane.jobs.sandbox_network import (
    held_ports,
    release_ports,
    sandbox_ports,
    secure_sandbox_user,
    server_ports,
)
from sluice.control_plane.jobs.scheduler import Scheduler, SchedulerConfig
from sluice.control_plane.jobs.scripts import DEFAULT_MAX_SCRIPT_BYTES, ScriptSources
from sluice.control_plane.jobs.sql_leases import SqlLeaseStore
from sluice.control_plane.jobs.sql_store import SqlJobStore
from sluice.control_plane.jobs.tracing import RunTracing
from sluice.control_plane.jobs.triggers.firer import TriggerFirer
from sluice.control_plane.jobs.triggers.network import job_network
from sluice.control_plane.jobs.triggers.sql_store import SqlTriggerStore
from sluice.control_plane.jobs.workers import worker_spec
from sluice.control_plane.jobs.workflows.sql_store import SqlWorkflowStore
from sluice.control_plane.logs import fields

log = logging.getLogger("sluice.jobs")

AGENTS_DIR = "agents"
RAY_JAVA_LIB_ROOT = Path("/tmp/ray")
# Ray's temp dir in a sandbox's work area (AgentsConfig.ray_temp_dir with a work_dir).
SANDBOX_RAY_TEMP = "r"
# A sandbox's agent and idle Ray head (GCS, raylet, workers' pool), beyond its environments.
SANDBOX_OVERHEAD_MB = 1536
SANDBOX_OVERHEAD_PIDS = 2048
# Servers on one database schedule runs only while they hold this lease.
SCHEDULER_LEASE = "jobs.scheduler"


def default_environment_spec() -> EnvironmentSpec:
    """The shape of pooled environments: that of a job with Glue's default workers, so that
    such a job starts warm."""
    worker = worker_spec(CommandName.GLUEETL, DEFAULT_WORKER_TYPE, DEFAULT_NUMBER_OF_WORKERS)
    return environment_spec(worker, EnvironmentSpec())


def agents_config(config: ServerConfig) -> AgentsConfig:
    """The settings of the one shared agent of a server on an existing cluster (ray_address),
    or of a server's single agent with an embedded head (tests and benchmarks of one agent)."""
    data_dir = config.data_dir / AGENTS_DIR
    temp_dir = None
    if config.ray_address is None and len(str(data_dir / "ray" / "t")) > MAX_RAY_TEMP_DIR_CHARS:
        # Ray's unix socket paths must stay short: a long data dir gets a short temp dir named
        # after it, the same one on every start so that a restarted server finds its head.
        temp_dir = default_sandbox_dir(data_dir, Path(tempfile.gettempdir()))
    return _agents_config(config, data_dir, temp_dir)


def sandbox_dir(config: ServerConfig) -> Path:
    """The root of a server's sandboxes' work areas."""
    if config.sandbox_dir is not None:
        return config.sandbox_dir.expanduser().absolute()
    return default_sandbox_dir(config.data_dir, Path(tempfile.gettempdir()))


def check_sandbox_dir(config: ServerConfig) -> Path:
    """The sandbox dir; StartupError if Ray's temp dir in a sandbox's work area under it would
    be too long for Ray's unix socket paths."""
    root = sandbox_dir(config)
    longest = root / new_sandbox_id() / SANDBOX_RAY_TEMP
    if len(str(longest)) > MAX_RAY_TEMP_DIR_CHARS:
        raise StartupError(
            f"the sandbox dir {root} is too long for Ray's unix socket paths: keep it within "
            f"{MAX_RAY_TEMP_DIR_CHARS - len(str(longest)) + len(str(root))} characters"
        )
    return root


def sandbox_limits(config: ServerConfig) -> ResourceLimits:
    """A sandbox's kernel limits: the configured ones, or room for its agent and Ray head and
    for as many environments of the default shape as a sandbox may hold (max_environments)."""
    environment = limits_for(default_environment_spec())
    count = config.max_environments
    memory_mb = config.sandbox_memory_mb or (
        SANDBOX_OVERHEAD_MB + count * (environment.memory_bytes // MIB)
    )
    return ResourceLimits(
        memory_bytes=memory_mb * MIB,
        cpus=config.sandbox_cpus or count * environment.cpus,
        pids=SANDBOX_OVERHEAD_PIDS + count * environment.pids,
    )


def sandbox_config(config: ServerConfig, plan: SandboxPlan) -> AgentsConfig:
    """The settings of one sandbox's agent: its private data dir, its work area, and its OS
    user where this server may switch users (as root)."""
    return _agents_config(
        config,
        plan.agent_dir,
        None,
        run_as=plan.os_user if os_users.can_switch_users() else None,
        work_dir=plan.work_dir,
        ports=held_ports(plan.data_dir),
    )


def sandbox_configs(config: ServerConfig) -> dict[str, AgentsConfig]:
    """The settings of every sandbox a server's data dir holds, by sandbox id (for tools and
    tests: a running server's own are in its fleet)."""
    agents_dir = config.data_dir / AGENTS_DIR
    root = sandbox_dir(config)
    try:
        ids = sorted(entry.name for entry in agents_dir.iterdir() if is_sandbox_id(entry.name))
    except FileNotFoundError:
        return {}
    return {
        sandbox_id: sandbox_config(config, SandboxPlan.of(agents_dir, root, sandbox_id))
        for sandbox_id in ids
    }


def _agents_config(
    config: ServerConfig,
    data_dir: Path,
    temp_dir: Path | None,
    *,
    run_as: str | None = None,
    work_dir: Path | None = None,
    ports: PortBlock | None = None,
) -> AgentsConfig:
    return AgentsConfig(
        data_dir=data_dir,
        # How soon the end of a run is noticed: it bounds `jobs run --wait` and runs per minute.
        poll_interval_s=0.1,
        ray=RayConfig(
            address=config.ray_address,
            auth_token_path=config.ray_auth_token_path,
            num_cpus=config.ray_num_cpus,
            temp_dir=temp_dir,
            ports=ports,
        ),
        pool=PoolConfig(
            size=config.pool_size,
            spec=default_environment_spec(),
            idle_ttl_s=config.environment_idle_ttl_s,
            max_environments=config.max_environments,
        ),
        run_as=run_as,
        work_dir=work_dir,
    )


def share_ray_java_lib_root(path: Path = RAY_JAVA_LIB_ROOT) -> None:
    """Make Ray's Java library root a directory of root's that every user may add to, and
    none remove another's entries from (mode 1777, like /tmp).

    Ray's Java runtime extracts its native library into /tmp/ray/<millis>/ whatever the temp
    settings say: left to the first sandbox user that makes it, the others' Spark cannot start.

    Raises:
        StartupError: it cannot be made so.
    """
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o1777)
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            raise StartupError(f"{path} is a link; remove it so Ray's Java runtime can start")
        if info.st_uid != os.geteuid():
            os.chown(path, os.geteuid(), os.getegid(), follow_symlinks=False)
        os.chmod(path, 0o1777)
    except OSError as exc:
        raise StartupError(f"cannot share {path} among sandbox users: {exc.strerror}") from None


def stop_single_agent_head(settings: AgentsConfig) -> None:
    """Stop the embedded head a server of the single-agent era left running in its data dir's
    agents dir (as the server's user, with no sandbox): its runs are on no sandbox's record, so
    the reconciler fails them (environment lost), and nothing of it may outlive them."""
    if head.read_record(DataLayout(settings.data_dir)) is None:
        return
    stopped = head.stop(settings)
    log.warning(
        "stopped the Ray head of the single agent of an earlier version: its runs are lost",
        extra=fields(processes=stopped),
    )


def check_script_roots(config: ServerConfig) -> None:
    """StartupError unless every script root is a directory outside the data dir."""
    data_dir = Path(os.path.realpath(config.data_dir))
    for root in config.script_roots:
        if not root.is_dir():
            raise StartupError(f"script root {root} is not a directory")
        if Path(os.path.realpath(root)).is_relative_to(data_dir):
            raise StartupError(f"script root {root} is inside the data dir {config.data_dir}")


def script_sources(config: ServerConfig) -> ScriptSources:
    """Where a server's jobs may load scripts from: its script roots, never its own files.

    Raises:
        StartupError: A script root is not a directory, or is inside the data dir.
    """
    check_script_roots(config)
    own = [
        config.data_dir,
        # The sandboxes' work areas: what job code wrote, never a script of another job.
        sandbox_dir(config),
        config.tls_key,
        config.ray_auth_token_path,
        _sqlite_file(config),
    ]
    return ScriptSources(
        roots=config.script_roots,
        protected=tuple(path for path in own if path is not None),
        max_bytes=DEFAULT_MAX_SCRIPT_BYTES,
    )


def _sqlite_file(config: ServerConfig) -> Path | None:
    url = make_url(config.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).absolute()


def lease_holder(config: ServerConfig) -> str:
    """Who holds the scheduler lease for a server: its host and data dir, the same at every
    start, so that a restarted server takes its own lease back at once."""
    return f"{socket.gethostname()[:200]}:{naming.owner_tag(config.data_dir)}"


class JobsRuntime:
    """Runs jobs for one server. start() before serving calls; stop() after."""

    def __init__(
        self,
        config: ServerConfig,
        db: Database,
        codec: PageTokenCodec,
        *,
        tracer: Tracer | None = None,
        run_credentials: Callable[[JobRun], Mapping[str, str]] | None = None,
        catalog: CatalogStore | None = None,
    ) -> None:
        """tracer records the runs' spans; run_credentials gives a run's temporary
        credentials (environment variables); catalog resolves the connections of the jobs
        triggers start."""
        self._config = config
        self._tracing = RunTracing(tracer)
        self._run_credentials = run_credentials
        try:
            settings = agents_config(config)
        except SluiceError as exc:
            raise StartupError(f"cannot run jobs: {exc.message}") from None
        self.scripts = script_sources(config)
        # One cap for uploads and local scripts alike.
        self.store = SqlJobStore(db, codec, max_script_bytes=self.scripts.max_bytes)
        self.settings = settings
        # An existing cluster: one agent for every account, as Sluice cannot split it. Embedded
        # Ray: a sandbox (agent, head, OS user) per account, and spares started ahead.
        self._agent: AgentProcess | None = None
        self.fleet: AgentFleet | None = None
        # Each sandbox's network policy and kernel limits status, by sandbox id.
        self._network_policies: dict[str, str] = {}
        self._sandbox_limits: dict[str, str] = {}
        runs: AgentRuns
        if config.ray_address is not None:
            self._agent = AgentProcess(
                AgentSettings(settings, socket_path(settings.data_dir)), on_restart=self._wake
            )
            runs = self._agent.client
        else:
            self.fleet = AgentFleet(
                config.data_dir / AGENTS_DIR,
                check_sandbox_dir(config),
                config.spares,
                self._sandbox_agent,
                idle_s=config.sandbox_idle_s,
                remove_sandbox=self._remove_sandbox,
                on_bind=self._bound,
            )
            runs = FleetRuns(self.fleet)
        self.executor = AgentsExecutor(runs, settings.pool.spec)
        self._scheduler: Scheduler | None = None
        # The scheduler here wakes the log tails here.
        self.log_arrivals = LogArrivals()
        self._reconciler: Reconciler | None = None
        # Triggers fire on the scheduler lease's holder too.
        self.triggers = SqlTriggerStore(db, codec)
        self.workflows = SqlWorkflowStore(db, codec, self.triggers)
        self.trigger_network = job_network(self.store, catalog)
        self._firer: TriggerFirer | None = None
        self.lease = LeaseKeeper(
            SqlLeaseStore(db),
            SCHEDULER_LEASE,
            lease_holder(config),
            ttl_s=config.lease_ttl_s,
            on_acquired=self._took_over,
            on_lost=self._lost_lease,
        )

    def start(self, api_address: str) -> None:
        """Start the job agent (in its own process it re-attaches to the runs still executing
        and starts or joins Ray, without holding up the server), then schedule.

        Args:
            api_address: host:port that runs use to reach this server's API.
        """
        if self.fleet is not None:
            sandbox_root(sandbox_dir(self._config))
            if os_users.can_switch_users():
                share_ray_java_lib_root()
            stop_single_agent_head(self.settings)
            self.fleet.start()
        elif self._agent is not None:
            try:
                self._agent.start()
            except OSError as exc:
                raise StartupError(f"cannot start the job agent: {exc.strerror}") from None
        scheduler = Scheduler(
            self.store,
            self.executor,
            config=SchedulerConfig(run_env={"SLUICE_ADDRESS": api_address}),
            tracing=self._tracing,
            run_credentials=self._run_credentials,
            scripts=self.scripts,
            fence=self.lease.fence,
            on_logs_stored=self.log_arrivals.stored,
            # Conditional triggers watching the run may fire now, not at the firer's next poll.
            on_run_ended=self.wake_triggers,
        )
        reconciler = Reconciler(
            self.store, self.executor, on_change=scheduler.wake, fence=self.lease.fence
        )
        self._scheduler, self._reconciler = scheduler, reconciler
        # Only the lease's holder schedules; the others serve calls and take over if it dies.
        self.lease.start()
        report = reconciler.start()
        scheduler.start()
        self._firer = TriggerFirer(
            self.triggers,
            self.trigger_network,
            fence=self.lease.fence,
            on_fired=lambda _fired: scheduler.wake(),
            workflows=self.workflows.advance,
        )
        self._firer.start()
        log.info(
            "jobs started",
            extra=fields(
                pool_size=self._config.pool_size,
                ray=self._config.ray_address or "embedded",
                agent_pid=self._agent.pid if self._agent is not None else None,
                spare_sandboxes=self._config.spares if self.fleet is not None else 0,
                reattached=len(report.reattached),
                lost=len(report.lost),
                scheduling=self.lease.fence() is not None,
            ),
        )

    def wake(self) -> None:
        """A run was started or stopped: look at the runs now."""
        self._wake()

    def wake_triggers(self) -> None:
        """A trigger changed: look at the triggers now."""
        if self._firer is not None:
            self._firer.wake()

    def stop(self) -> None:
        """Stop scheduling and the agent. Runs still executing keep running for the next start
        to re-attach; with none, the environments (and an embedded Ray) are shut down, whatever
        the agent was doing. A run whose environment was still starting is not failed: it stays
        queued (STARTING or WAITING) and is launched at the next start, as nothing of it ran."""
        if self._firer is not None:
            self._firer.stop()
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._reconciler is not None:
            self._reconciler.stop()
        fence = self.lease.fence()
        try:
            # Only runs past their launch may execute; queued ones (STARTING, WAITING) do not.
            executing = any(
                run.state in (RunState.RUNNING, RunState.STOPPING)
                for run in self.store.list_active_runs()
            )
        except Exception:
            # The database is unreachable: keep everything for the next start to sort out.
            log.exception("cannot list active runs at shutdown; environments are kept")
            executing = True
        code: object = None
        if self.fleet is not None:
            code = self.fleet.stop(keep_environments=executing)
        elif self._agent is not None:
            code = self._agent.stop(keep_environments=executing)
        if fence is not None and not executing:
            self._release_launches(fence)
        # Released, so that another server on the database takes the runs over at once.
        self.lease.stop()
        log.info("jobs stopped", extra=fields(runs_executing=executing, agent_exit_code=code))

    def pool_status(self) -> PoolSnapshot:
        """The pool of every sandbox (GetPoolStatus shows a caller its own account's)."""
        if self.fleet is None:
            return self.executor.pool_status()
        statuses = self.fleet.sandbox_statuses()
        total = total_pool([status.pool for status in statuses])
        return PoolSnapshot(
            **pool_counts(total),
            resource_limits=total.resource_limits,
            sandboxes=tuple(
                SandboxSnapshot(
                    sandbox_id=status.sandbox_id,
                    account=status.account,
                    os_user=status.os_user,
                    state=status.state,
                    **pool_counts(status.pool),
                    network_policy=self._network_policies.get(status.sandbox_id, ""),
                    idle_since=(
                        datetime.fromtimestamp(status.idle_since, UTC)
                        if status.idle_since is not None
                        else None
                    ),
                    resource_limits=self._sandbox_limits.get(status.sandbox_id, ""),
                )
                for status in statuses
            ),
        )

    def runs_dirs(self) -> list[Path]:
        """Where the agents keep runs' files: in each sandbox's private dir (final statuses)
        and work area (scripts, logs), or in the shared agent's data dir."""
        if self.fleet is None:
            return [DataLayout(self.settings.data_dir).runs_dir]
        return [
            DataLayout(path).runs_dir
            for plan in self.fleet.plans()
            for path in (plan.agent_dir, plan.work_dir)
        ]

    def _sandbox_agent(self, plan: SandboxPlan) -> AgentProcess:
        # Its port block first: every listening port of its Ray and Spark falls in it.
        ports = sandbox_ports(plan.data_dir)
        settings = sandbox_config(self._config, plan)
        agent_socket = sandbox_host.check_agent_dir(plan.agent_dir)
        # Before the agent starts as the sandbox's user: that user never reaches the database,
        # owns its dirs, and lives in its own cgroups.
        self._network_policies[plan.sandbox_id] = secure_sandbox_user(
            plan.os_user, self._config.database_url, ports, server_ports(self._config)
        )
        prepared = sandbox_host.prepare(
            plan.sandbox_id,
            plan.os_user,
            plan.user_dirs,
            sandbox_limits(self._config),
            spare=read_binding(plan.data_dir) is None,
        )
        self._sandbox_limits[plan.sandbox_id] = prepared.limits
        return AgentProcess(
            AgentSettings(settings, agent_socket),
            on_restart=self._wake,
            user=prepared.user,
            cgroups=prepared.cgroups,
            # Root connects only where the sandbox's user cannot plant a link.
            publish_to=plan.server_socket if prepared.user is not None else None,
        )

    def _bound(self, plan: SandboxPlan) -> None:
        sandbox_host.promote(plan.sandbox_id)

    def _remove_sandbox(self, plan: SandboxPlan) -> None:
        sandbox_host.dismantle(plan.sandbox_id, plan.os_user, plan.user_dirs)
        plan.server_socket.unlink(missing_ok=True)
        # Its processes are gone: its port block may be given to another sandbox.
        release_ports(plan.data_dir)
        self._network_policies.pop(plan.sandbox_id, None)
        self._sandbox_limits.pop(plan.sandbox_id, None)

    def _wake(self) -> None:
        if self._scheduler is not None:
            self._scheduler.wake()

    def _release_launches(self, fence: Fence) -> None:
        # Nothing executes any more: launches cut short may be begun again, here or elsewhere.
        try:
            self.store.release_launches(fence)
        except Exception:
            log.exception("cannot release the launches of queued runs; they will be failed")

    def _lost_lease(self, _fence: Fence) -> None:
        # Another server has the runs now, and cannot follow this one's environments.
        if self._scheduler is not None:
            self._scheduler.abandon()

    def _took_over(self, _fence: Fence) -> None:
        # A new tenure: re-attach or fail what the previous holder left, then schedule.
        if self._reconciler is not None:
            self._reconciler.wake()
        self._wake()
        self.wake_triggers()
