"""The jobs side of one server: job store, Ray agents, scheduler and reconciler, started and
stopped together."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from opentelemetry.trace import Tracer
from sqlalchemy.engine import make_url

from agents import naming
from agents.api import AgentSettings, socket_path
from agents.config import (
    MAX_RAY_TEMP_DIR_CHARS,
    AgentsConfig,
    EnvironmentSpec,
    PoolConfig,
    RayConfig,
)
from common.db import Database
from common.errors import SluiceError
from common.paging import PageTokenCodec
from control_plane.config import ServerConfig
from control_plane.errors import StartupError
from control_plane.jobs.agent_process import AgentProcess
from control_plane.jobs.agents_executor import AgentsExecutor, environment_spec
from control_plane.jobs.leases import Fence, LeaseKeeper
from control_plane.jobs.model import (
    DEFAULT_NUMBER_OF_WORKERS,
    DEFAULT_WORKER_TYPE,
    CommandName,
    JobRun,
    RunState,
)
from control_plane.jobs.reconciler import Reconciler
from control_plane.jobs.scheduler import Scheduler, SchedulerConfig
from control_plane.jobs.scripts import DEFAULT_MAX_SCRIPT_BYTES, ScriptSources
from control_plane.jobs.sql_leases import SqlLeaseStore
from control_plane.jobs.sql_store import SqlJobStore
from control_plane.jobs.tracing import RunTracing
from control_plane.jobs.workers import worker_spec
from control_plane.logs import fields

log = logging.getLogger("sluice.jobs")

AGENTS_DIR = "agents"
# Servers on one database schedule runs only while they hold this lease.
SCHEDULER_LEASE = "jobs.scheduler"


def default_environment_spec() -> EnvironmentSpec:
    """The shape of pooled environments: that of a job with Glue's default workers, so that
    such a job starts warm."""
    worker = worker_spec(CommandName.GLUEETL, DEFAULT_WORKER_TYPE, DEFAULT_NUMBER_OF_WORKERS)
    return environment_spec(worker, EnvironmentSpec())


def agents_config(config: ServerConfig) -> AgentsConfig:
    """The agents' settings for a server."""
    data_dir = config.data_dir / AGENTS_DIR
    temp_dir = None
    if config.ray_address is None and len(str(data_dir / "ray" / "t")) > MAX_RAY_TEMP_DIR_CHARS:
        # Ray's unix socket paths must stay short: a long data dir gets a short temp dir named
        # after it, the same one on every start so that a restarted server finds its head.
        digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
        temp_dir = Path(tempfile.gettempdir()) / f"sluice-{digest}"
    return AgentsConfig(
        data_dir=data_dir,
        # How soon the end of a run is noticed: it bounds `jobs run --wait` and runs per minute.
        poll_interval_s=0.1,
        ray=RayConfig(
            address=config.ray_address,
            auth_token_path=config.ray_auth_token_path,
            num_cpus=config.ray_num_cpus,
            temp_dir=temp_dir,
        ),
        pool=PoolConfig(
            size=config.pool_size,
            spec=default_environment_spec(),
            idle_ttl_s=config.environment_idle_ttl_s,
            max_environments=config.max_environments,
        ),
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
    own = [config.data_dir, config.tls_key, config.ray_auth_token_path, _sqlite_file(config)]
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
    ) -> None:
        """tracer records the runs' spans; run_credentials gives a run's temporary
        credentials (environment variables)."""
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
        self._agent = AgentProcess(
            AgentSettings(settings, socket_path(settings.data_dir)), on_restart=self._wake
        )
        self.executor = AgentsExecutor(self._agent.client, settings.pool.spec)
        self._scheduler: Scheduler | None = None
        self._reconciler: Reconciler | None = None
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
        )
        reconciler = Reconciler(
            self.store, self.executor, on_change=scheduler.wake, fence=self.lease.fence
        )
        self._scheduler, self._reconciler = scheduler, reconciler
        # Only the lease's holder schedules; the others serve calls and take over if it dies.
        self.lease.start()
        report = reconciler.start()
        scheduler.start()
        log.info(
            "jobs started",
            extra=fields(
                pool_size=self._config.pool_size,
                ray=self._config.ray_address or "embedded",
                agent_pid=self._agent.pid,
                reattached=len(report.reattached),
                lost=len(report.lost),
                scheduling=self.lease.fence() is not None,
            ),
        )

    def wake(self) -> None:
        """A run was started or stopped: look at the runs now."""
        self._wake()

    def stop(self) -> None:
        """Stop scheduling and the agent. Runs still executing keep running for the next start
        to re-attach; with none, the environments (and an embedded Ray) are shut down, whatever
        the agent was doing. A run whose environment was still starting is not failed: it stays
        queued (STARTING or WAITING) and is launched at the next start, as nothing of it ran."""
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
        code = self._agent.stop(keep_environments=executing)
        if fence is not None and not executing:
            self._release_launches(fence)
        # Released, so that another server on the database takes the runs over at once.
        self.lease.stop()
        log.info("jobs stopped", extra=fields(runs_executing=executing, agent_exit_code=code))

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
