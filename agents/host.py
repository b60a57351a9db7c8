"""The host actor of one environment: owns its Spark session and executes its runs.

One detached, named actor per environment, in the environment's own namespace and placement
group. Its process is dedicated to the environment: runs change its cwd, argv and environment
while they execute, and its output streams are captured into the current run's files.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import ray

from sluice.agents import naming, spark_session
from sluice.agents.capture import OutputCapture
from sluice.agents.config import EnvironmentSpec
from sluice.agents.host_info import HostInfo, HostPhase
from sluice.agents.isolation import IsolationTuple
from sluice.agents.layout import DataLayout
from sluice.agents.ports import spark_ports
from sluice.agents.processes import environment_pids, process_alive, ray_java_driver_lib_dirs
from sluice.agents.run_files import write_status
from sluice.agents.runs import LogStream, RunProgress, RunRequest, RunState
from sluice.agents.script_runner import ScriptOutcome, execute_script
from sluice.common.errors import FailedPrecondition, InvalidInput
from sluice.sdk.metastore.scoped import RunScopedClients
from sluice.sdk.metastore.server import MetastoreDoor

logger = logging.getLogger(__name__)


class EnvironmentHost:
    """Actor body; created by agents.launcher, driven by agents.environment.EnvironmentHandle.

    Methods return plain dicts (HostInfo.to_dict, RunProgress.to_dict) so that callers need no
    pickled classes of this module; errors are SluiceErrors.
    """

    def __init__(self, environment_id: str, spec: dict[str, int], work_dir: str) -> None:
        self._environment_id = environment_id
        self._spec = EnvironmentSpec.from_dict(spec)
        # The host sees only the work area (its own, as the head's user, when run_as is set).
        self._layout = DataLayout(Path(work_dir))
        self._working_dir = self._layout.environment_dir(environment_id)
        self._lock = threading.RLock()
        self._phase = HostPhase.CREATED
        self._failure = ""
        self._isolation: IsolationTuple | None = None
        self._runs: dict[str, RunProgress] = {}
        self._current_run_id = ""
        self._deadlines: dict[str, float] = {}
        self._spark: Any = None
        self._spark_app_id = ""
        self._driver_pid = 0
        self._capture: OutputCapture | None = None
        self._created_at = time.time()
        self._ready_at: float | None = None
        self._last_active_at = self._created_at
        # Spark SQL's Hive metastore: a door on loopback acting as the executing run.
        self._metastore_clients = RunScopedClients()
        self._metastore: MetastoreDoor | None = None
        self._prepare_process()

    def start(self) -> dict[str, Any]:
        """Start Spark with executors in this actor's placement group and warm it up.

        Returns:
            HostInfo.to_dict() of the READY environment.
        """
        with self._lock:
            if self._phase is not HostPhase.CREATED:
                raise FailedPrecondition(f"environment already {self._phase.value}")
            self._phase = HostPhase.STARTING
        try:
            placement_group = ray.util.get_current_placement_group()
            if placement_group is None:
                raise FailedPrecondition("the host actor is not in a placement group")
            self._capture = OutputCapture(self._working_dir / "environment.log")
            warehouse = self._layout.work_area / "warehouse"
            self._metastore = self._start_metastore(warehouse)
            with self._capture.driver_launch():
                spark = spark_session.start_session(
                    self._environment_id,
                    self._spec,
                    self._working_dir,
                    placement_group,
                    metastore_uri=self._metastore.uri,
                    warehouse=warehouse,
                )
            spark_session.warm_up(spark)
            spark_session.connect_catalog(spark)
        except BaseException as exc:
            if self._metastore is not None:
                self._metastore.stop()
            with self._lock:
                self._phase = HostPhase.BROKEN
                self._failure = f"Spark failed to start: {exc!r}"
            raise
        _remove_ray_java_driver_libs(self._environment_id)
        with self._lock:
            self._spark = spark
            self._spark_app_id = spark.sparkContext.applicationId
            self._driver_pid = spark_session.find_driver_pid()
            self._phase = HostPhase.READY
            self._ready_at = self._last_active_at = time.time()
            return self._info().to_dict()

    def _start_metastore(self, warehouse: Path) -> MetastoreDoor:
        """The environment's metastore door, on loopback, before Spark takes its ports.

        Its port is the first free one of the sandbox's Spark ports, which the kernel refuses to
        other sandboxes' users (agents.ports): the door acts as the executing run, so no other
        account may reach it. Outside a port block (no sandboxes), any free port.
        """
        ports = spark_ports()
        candidates = range(ports[0], ports[1] + 1) if ports is not None else [0]
        for port in candidates:
            door = MetastoreDoor(
                self._metastore_clients,
                warehouse.as_uri(),
                host="127.0.0.1",
                port=port,
                # Dropping a managed table deletes its files, as Hive's metastore does: with
                # the sandbox user's rights, no more than the run's script has itself.
                data_root=Path("/"),
            )
            try:
                return door.start()
            except OSError:
                continue
        raise FailedPrecondition(f"no free port for the metastore door in {ports}")

    def describe(self) -> dict[str, Any]:
        """HostInfo.to_dict() of this environment now."""
        with self._lock:
            self._check_driver()
            return self._info().to_dict()

    def bind(self, isolation: dict[str, str]) -> dict[str, Any]:
        """Bind this environment to an isolation tuple, for good.

        Raises:
            FailedPrecondition: the environment is not ready, or is bound to another tuple.
        """
        wanted = IsolationTuple.from_dict(isolation)
        with self._lock:
            self._check_driver()
            if self._phase not in (HostPhase.READY, HostPhase.BOUND):
                raise FailedPrecondition(f"environment is {self._phase.value}: cannot bind")
            if self._isolation is not None and self._isolation != wanted:
                raise FailedPrecondition("environment is bound to another isolation tuple")
            self._isolation = wanted
            self._phase = HostPhase.BOUND
            return self._info().to_dict()

    def start_run(self, isolation_key: str, request: dict[str, Any]) -> dict[str, Any]:
        """Begin executing a run in a thread of this process.

        Args:
            isolation_key: IsolationTuple.key() of the run; must be the bound tuple's.
            request: RunRequest.to_dict().

        Returns:
            RunProgress.to_dict() of the run, RUNNING.
        """
        run = RunRequest.from_dict(request)
        with self._lock:
            self._check_driver()
            if self._isolation is None or self._isolation.key() != isolation_key:
                raise FailedPrecondition("environment is not bound to the run's isolation tuple")
            if self._phase is not HostPhase.BOUND:
                raise FailedPrecondition(f"environment is {self._phase.value}: cannot start a run")
            if run.run_id in self._runs:
                raise InvalidInput(f"run {run.run_id} was already started here")
            progress = RunProgress(
                run_id=run.run_id,
                state=RunState.RUNNING,
                environment_id=self._environment_id,
                started_at=time.time(),
            )
            self._runs[run.run_id] = progress
            self._deadlines[run.run_id] = (progress.started_at or 0.0) + run.timeout_s
            self._current_run_id = run.run_id
            self._phase = HostPhase.BUSY
            self._layout.run_dir(run.run_id).mkdir(parents=True, exist_ok=True)
            threading.Thread(
                target=self._execute, args=(run,), name=f"run-{run.run_id}", daemon=True
            ).start()
            return progress.to_dict()

    def progress(self, run_id: str) -> dict[str, Any] | None:
        """RunProgress.to_dict() of a run started here, or None if it is unknown here."""
        with self._lock:
            self._check_driver()
            progress = self._runs.get(run_id)
            return progress.to_dict() if progress else None

    def _execute(self, run: RunRequest) -> None:
        capture = self._capture
        if capture is None:
            self._finish(run.run_id, RunState.FAILED, "the environment's output is not captured")
            return
        run_dir = self._layout.run_dir(run.run_id)
        _flush_std()
        capture.to_files({stream: self._layout.run_log(run.run_id, stream) for stream in LogStream})
        self._metastore_clients.act_as(run.run_env)
        try:
            try:
                outcome = execute_script(
                    run,
                    run_dir,
                    {"spark": self._spark, "sc": self._spark.sparkContext},
                    lambda at: self._record_first_line(run.run_id, at),
                )
            finally:
                _flush_std()
                capture.to_default()
        except Exception as exc:
            outcome = ScriptOutcome(
                RunState.FAILED, f"the environment could not execute the run: {exc!r}"
            )
        self._forget_session_state()
        self._metastore_clients.clear()
        self._finish(run.run_id, outcome.state, outcome.error_message)

    def _forget_session_state(self) -> None:
        """Runs of one tuple share the Spark session: nothing a run cached or registered may
        reach the next one (nor hold its memory)."""
        try:
            catalog = self._spark.catalog
            catalog.clearCache()
            # The session's own list: listTables() would ask the metastore, as the run.
            views = self._spark._jsparkSession.sessionState().catalog().listLocalTempViews("*")
            for name in [views.apply(i).table() for i in range(views.size())]:
                catalog.dropTempView(name)
        # The run is over either way; a session that cannot be reset fails the next check.
        except Exception:
            logger.exception("could not reset the Spark session after a run")

    def _record_first_line(self, run_id: str, at: float) -> None:
        with self._lock:
            self._runs[run_id] = replace(self._runs[run_id], first_line_at=at)

    def _finish(self, run_id: str, state: RunState, error_message: str) -> None:
        with self._lock:
            before = self._runs[run_id]
            if before.state.is_terminal():
                return
            after = before.finish(state, error_message, time.time())
            self._runs[run_id] = after
            self._current_run_id = ""
            self._last_active_at = time.time()
            if state is RunState.SUCCEEDED and self._phase is HostPhase.BUSY:
                self._phase = HostPhase.BOUND
            elif state is not RunState.SUCCEEDED:
                # A failed run may have left the session or the process in any state.
                self._phase = HostPhase.BROKEN
                self._failure = self._failure or f"run {run_id} ended {state.value}"
            write_status(self._layout, after)

    def _check_driver(self) -> None:
        """Notice a dead driver JVM at once, even while a script is not calling Spark."""
        if not self._driver_pid or not self._phase.is_usable():
            return
        if process_alive(self._driver_pid):
            return
        self._failure = f"the Spark driver JVM (pid {self._driver_pid}) exited"
        if self._current_run_id:
            self._finish(self._current_run_id, RunState.FAILED, self._failure)
        self._phase = HostPhase.BROKEN

    def _info(self) -> HostInfo:
        return HostInfo(
            environment_id=self._environment_id,
            namespace=naming.environment_namespace(self._environment_id),
            phase=self._phase,
            spec=self._spec,
            isolation=self._isolation,
            current_run_id=self._current_run_id,
            current_run_deadline=self._deadlines.get(self._current_run_id),
            spark_app_id=self._spark_app_id,
            host_pid=os.getpid(),
            driver_pid=self._driver_pid,
            working_dir=str(self._working_dir),
            created_at=self._created_at,
            ready_at=self._ready_at,
            last_active_at=self._last_active_at,
            failure=self._failure,
        )

    def _prepare_process(self) -> None:
        tmp_dir = self._working_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        (self._working_dir / "spark-local").mkdir(exist_ok=True)
        (self._working_dir / "logs").mkdir(exist_ok=True)
        os.chdir(self._working_dir)
        os.environ["TMPDIR"] = str(tmp_dir)
        # Executors start Python workers with the driver's interpreter (pyspark reads this).
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        tempfile.tempdir = None


def _remove_ray_java_driver_libs(environment_id: str) -> None:
    """Delete the native library RayDP's gateway JVM extracted outside the data dir.

    The JVM has it mapped already; the file is not needed again.
    """
    for directory in ray_java_driver_lib_dirs(environment_pids(environment_id)):
        shutil.rmtree(directory, ignore_errors=True)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            continue
