"""The agent process: the Ray driver of one cluster, serving the agent's internal API.

    python -m agents.service      (settings: one line of JSON on stdin, see agents.api)

The control plane starts it, talks to it over a unix socket (agents.client) and starts it again
when it exits. The agent hosts the RunSupervisor (warm pool, environments, runs) and watches its
cluster: when the Ray head stops answering, every run executing on it ends FAILED (recorded in
its status file) and the agent exits with EXIT_CLUSTER_LOST, so that a fresh process starts (or
reconnects to) the cluster and refills the pool; a Ray driver cannot be reset within a process.

It stops on the Shutdown call, SIGTERM or SIGINT (gracefully: see Agent.stop), and when its
control plane is gone (stdin closed), in which case it leaves everything for the next agent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from enum import StrEnum
from types import FrameType
from typing import Any

import grpc
import psutil

from sluice.agents import head
from sluice.agents.api import (
    EXIT_CLUSTER_LOST,
    SERVICE,
    AgentSettings,
    Method,
    Outcome,
    decode,
    encode,
    log_line,
)
from sluice.agents.config import EnvironmentSpec
from sluice.agents.errors import AgentUnavailable, NoCapacity
from sluice.agents.isolation import IsolationTuple
from sluice.agents.runs import LogStream, RunRequest
from sluice.agents.supervisor import RunSupervisor, cluster_lost_message
from sluice.common.errors import AlreadyExists, InvalidInput, SluiceError

logger = logging.getLogger("sluice.agent")

# How often the cluster's head is probed, and how many failed probes in a row mean it is dead.
HEALTH_INTERVAL_S = 1.0
HEALTH_PROBE_TIMEOUT_S = 1.0
HEALTH_FAILURES = 3
# The graceful part of a stop (destroying environments) gets this long; then the head goes anyway.
STOP_DEADLINE_S = 30.0
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_RPC_WORKERS = 16
_READS = frozenset({Method.PROGRESS, Method.READ_LOGS, Method.FORGET, Method.POOL_STATUS})


class StopReason(StrEnum):
    """Why the agent stops; the first reason given wins."""

    # Shutdown call or a stop signal: keep what executes, stop the rest.
    GRACEFUL = "graceful"
    # The control plane is gone: leave everything for the next agent to take over.
    ORPHANED = "orphaned"
    # The cluster's head stopped answering: its runs failed, the next agent starts afresh.
    CLUSTER_LOST = "cluster_lost"
    # The supervisor could not start (e.g. an external cluster does not answer).
    START_FAILED = "start_failed"


class Agent:
    """One agent: its supervisor, its API server and its watchers. See the module docstring."""

    def __init__(self, settings: AgentSettings) -> None:
        self._settings = settings
        self._config = settings.config
        self._supervisor = RunSupervisor(self._config)
        self._ready = threading.Event()
        self._stop_requested = threading.Event()
        # Reentrant: a signal handler may ask for a stop while the main thread holds it.
        self._lock = threading.RLock()
        self._reason: StopReason | None = None
        self._message = ""
        self._keep_requested = False
        self._server: grpc.Server | None = None
        self._handlers: dict[Method, Callable[[dict[str, Any]], dict[str, Any]]] = {
            Method.LAUNCH: self._launch,
            Method.PROGRESS: self._progress,
            Method.STOP: self._stop_run,
            Method.READ_LOGS: self._read_logs,
            Method.FORGET: self._forget,
            Method.POOL_STATUS: self._pool_status,
            Method.SHUTDOWN: self._shutdown,
        }

    def request_stop(self, reason: StopReason, message: str = "", keep: bool = False) -> None:
        """Ask the main thread to stop the agent (safe from any thread and signal handlers)."""
        with self._lock:
            if self._reason is None:
                self._reason, self._message = reason, message
            self._keep_requested = self._keep_requested or keep
        self._stop_requested.set()

    def serve(self) -> None:
        """Listen on the socket (its directory 0700: only this user may call)."""
        path = self._settings.socket_path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        path.unlink(missing_ok=True)
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=_RPC_WORKERS, thread_name_prefix="agent-rpc")
        )
        handlers = {
            method.value: grpc.unary_unary_rpc_method_handler(
                self._handler(method), request_deserializer=decode, response_serializer=encode
            )
            for method in Method
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        server.add_insecure_port(f"unix:{path}")
        server.start()
        os.chmod(path, 0o600)
        self._server = server

    def start(self) -> None:
        """Start the supervisor (it may start or join Ray: slow) and the watchers, in threads."""
        threading.Thread(target=self._start_supervisor, name="agent-start", daemon=True).start()
        threading.Thread(target=self._watch_cluster, name="agent-health", daemon=True).start()
        threading.Thread(target=self._watch_parent, name="agent-parent", daemon=True).start()

    def wait(self, on_tick: Callable[[], None]) -> None:
        """Block (in the main thread) until a stop is requested, calling on_tick now and then."""
        while not self._stop_requested.wait(0.5):
            on_tick()

    def stop(self) -> int:
        """Stop for the reason requested; returns the process's exit code.

        Graceful: environments where a run executes are kept, with Ray, for the next agent to
        take over (so are all when the control plane asks to keep them); otherwise every
        environment is destroyed and an embedded head is stopped, whatever was starting then
        (`ray start`, an environment): a launch cut short leaves no trace, and its run is
        launched again at the next start.
        """
        with self._lock:
            reason, message, keep = self._reason, self._message, self._keep_requested
        supervisor, cluster = self._supervisor, self._supervisor.cluster
        if reason is StopReason.ORPHANED:
            logger.warning("the control plane is gone; the agent leaves its environments running")
            _kill_children()
            return 0
        supervisor.begin_stop()
        cluster.close()
        if reason is StopReason.CLUSTER_LOST:
            failed = supervisor.fail_all(message)
            logger.error("%s; runs failed with it: %d", message, len(failed))
            _kill_children()
            if cluster.embedded:
                # Whatever is left of the dead head (raylet, workers, JVMs) goes too, at once.
                head.stop(self._config, timeout_s=2.0)
            return _exit_code(reason)
        keep = keep or supervisor.executing()
        # `ray start` and environment launchers in flight must not outlive the agent.
        _kill_children()
        if self._ready.is_set():
            self._shut_down_supervisor(keep)
        if cluster.embedded and not keep:
            # Also what a cut-short `ray start` or a late worker left behind.
            head.stop(self._config)
        logger.info(
            "agent stopped (%s)%s",
            reason.value if reason else "graceful",
            "; environments kept for the next start" if keep else "",
        )
        return _exit_code(reason)

    def _shut_down_supervisor(self, keep: bool) -> None:
        """The graceful part of a stop, within STOP_DEADLINE_S (a dying cluster may hang it)."""
        cluster = self._supervisor.cluster
        shutdown = threading.Thread(
            target=self._supervisor.shutdown,
            kwargs={
                "destroy_environments": not keep,
                "stop_cluster": cluster.embedded and not keep,
            },
            name="agent-shutdown",
            daemon=True,
        )
        shutdown.start()
        shutdown.join(STOP_DEADLINE_S)
        if shutdown.is_alive():
            logger.warning("the agent's shutdown did not finish in %.0f s", STOP_DEADLINE_S)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop(0)
        self._settings.socket_path.unlink(missing_ok=True)

    def _start_supervisor(self) -> None:
        try:
            reattached = self._supervisor.start()
        except Exception as exc:
            reason = exc.message if isinstance(exc, SluiceError) else repr(exc)
            logger.error("the agent could not start: %s", reason)
            self.request_stop(StopReason.START_FAILED, reason)
            return
        self._ready.set()
        logger.info(
            "agent ready: %d runs executing, Ray %s",
            len(reattached),
            self._supervisor.cluster.address or "not started yet",
        )

    def _watch_cluster(self) -> None:
        failures = 0
        cluster = self._supervisor.cluster
        while not self._stop_requested.wait(HEALTH_INTERVAL_S):
            if cluster.answers(HEALTH_PROBE_TIMEOUT_S):
                failures = 0
                continue
            failures += 1
            if failures >= HEALTH_FAILURES:
                self.request_stop(StopReason.CLUSTER_LOST, cluster_lost_message(cluster.address))
                return

    def _watch_parent(self) -> None:
        # The control plane holds our stdin open for as long as it lives.
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        self.request_stop(StopReason.ORPHANED)

    def _handler(self, method: Method) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        handle = self._handlers[method]

        def call(body: dict[str, Any], _context: Any) -> dict[str, Any]:
            if method is not Method.SHUTDOWN and not self._await_ready(method):
                return {"outcome": Outcome.NOT_READY, "message": self._not_ready_message()}
            try:
                return handle(body)
            except InvalidInput as exc:
                return {"outcome": Outcome.INVALID, "message": exc.message}
            except (KeyError, TypeError, ValueError) as exc:
                return {"outcome": Outcome.INVALID, "message": f"malformed request: {exc!r}"}
            except SluiceError as exc:
                return {"outcome": Outcome.FAILED, "message": exc.message}
            except Exception:
                logger.exception("agent call %s failed", method.value)
                return {"outcome": Outcome.FAILED, "message": "internal error in the job agent"}

        return call

    def _await_ready(self, method: Method) -> bool:
        if method in _READS and (self._ready.is_set() or method is Method.POOL_STATUS):
            # Reads go on while the agent stops: a run failed with its cluster is known at once.
            return True
        if self._stop_requested.is_set():
            return False
        if self._ready.is_set():
            return True
        if method is Method.LAUNCH:
            # A launch would wait for Ray anyway; reads must not wait.
            deadline = (
                time.monotonic()
                + self._config.ray.start_timeout_s
                + self._config.ray.connect_timeout_s
            )
            while not self._stop_requested.is_set() and time.monotonic() < deadline:
                if self._ready.wait(0.2):
                    break
        return self._ready.is_set() and not self._stop_requested.is_set()

    def _not_ready_message(self) -> str:
        if self._stop_requested.is_set():
            return "the job agent is stopping"
        return "the job agent is starting"

    def _launch(self, body: dict[str, Any]) -> dict[str, Any]:
        request = RunRequest.from_dict(body["request"])
        isolation = IsolationTuple.from_dict(body["isolation"])
        spec = EnvironmentSpec.from_dict(body["spec"]) if body.get("spec") else None
        try:
            launched = self._supervisor.launch(request, isolation, spec)
        except AlreadyExists as exc:
            return {"outcome": Outcome.ALREADY_EXISTS, "message": exc.message}
        except AgentUnavailable as exc:
            return {"outcome": Outcome.NOT_READY, "message": exc.message}
        except NoCapacity as exc:
            return {"outcome": Outcome.NO_CAPACITY, "message": exc.message}
        return {
            "outcome": Outcome.OK,
            "progress": launched.progress.to_dict(),
            "environment_id": launched.environment_id,
            "warm": launched.warm,
        }

    def _progress(self, body: dict[str, Any]) -> dict[str, Any]:
        progress = self._supervisor.progress(str(body["run_id"]))
        return {"outcome": Outcome.OK, "progress": progress.to_dict()}

    def _stop_run(self, body: dict[str, Any]) -> dict[str, Any]:
        progress = self._supervisor.stop(str(body["run_id"]))
        return {"outcome": Outcome.OK, "progress": progress.to_dict()}

    def _read_logs(self, body: dict[str, Any]) -> dict[str, Any]:
        offsets = {LogStream(stream): int(offset) for stream, offset in body["offsets"].items()}
        logs = self._supervisor.read_logs(str(body["run_id"]), offsets)
        return {"outcome": Outcome.OK, "logs": logs.to_dict()}

    def _forget(self, body: dict[str, Any]) -> dict[str, Any]:
        self._supervisor.forget(str(body["run_id"]))
        return {"outcome": Outcome.OK}

    def _pool_status(self, _body: dict[str, Any]) -> dict[str, Any]:
        status = self._supervisor.pool_status()
        return {"outcome": Outcome.OK, "pool": dataclasses.asdict(status)}

    def _shutdown(self, body: dict[str, Any]) -> dict[str, Any]:
        self.request_stop(StopReason.GRACEFUL, keep=bool(body.get("keep_environments")))
        return {"outcome": Outcome.OK}


def _exit_code(reason: StopReason | None) -> int:
    if reason is StopReason.CLUSTER_LOST:
        return EXIT_CLUSTER_LOST
    return 1 if reason is StopReason.START_FAILED else 0


def _kill_children() -> None:
    """SIGKILL this process's descendants: `ray start` and environment launchers in flight."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=10.0)


def _lock_data_dir(settings: AgentSettings) -> int:
    """Hold the data dir's agent lock for the life of the process: a new agent waits for the
    one before it to be gone, so that two never drive the same environments."""
    lock_dir = settings.config.data_dir
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(lock_dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


class _ServerLogFormatter(logging.Formatter):
    """Records as the server reads them (sluice.agents.api.log_line), to log them as its own."""

    def format(self, record: logging.LogRecord) -> str:
        exc = self.formatException(record.exc_info) if record.exc_info else ""
        return log_line(record.levelname, record.name, record.getMessage(), exc)


def main() -> int:
    """Run an agent until it stops; the exit code (see StopReason)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ServerLogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        settings = AgentSettings.from_json(sys.stdin.readline())
    except (KeyError, TypeError, ValueError, SluiceError) as exc:
        logger.error("bad agent settings on stdin: %r", exc)
        return 2
    logging.getLogger().setLevel(settings.log_level)
    agent = Agent(settings)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        agent.request_stop(StopReason.GRACEFUL)

    def take_signals() -> None:
        # Ray's driver start-up replaces the SIGTERM handler (with sys.exit, or a native handler
        # when it connects from another thread): take it back.
        for sig in _STOP_SIGNALS:
            signal.signal(sig, on_signal)

    take_signals()
    _lock_data_dir(settings)
    agent.serve()
    agent.start()
    try:
        agent.wait(take_signals)
        return agent.stop()
    finally:
        agent.close()


if __name__ == "__main__":
    # Threads blocked in Ray calls must not hold the process up once the agent has stopped.
    code = main()
    logging.shutdown()
    os._exit(code)
