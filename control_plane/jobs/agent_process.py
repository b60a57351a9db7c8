"""The agent process of a server: started with the server, started again whenever it exits, and
stopped with the server.

The agent (`python -m agents.service`) is the only Ray driver: the server process never imports
Ray, so a dead Ray head or a crashed driver takes down the agent alone while the catalog keeps
being served. The agent gets its settings as one JSON line on stdin, which stays open for as
long as this process lives: a server killed outright leaves an agent that notices and exits.

A sandbox's agent starts as the sandbox's OS user (root only to start it: no supplementary
groups, umask 077) and is put in the sandbox's cgroups before it reads its settings, so before
it starts anything: nothing of the sandbox runs as root or outside its limits. Its socket is in
its own dir, which that user controls: root would follow a link planted there (to another
sandbox's agent), so the server moves the socket, once it checked it is one of the user's, to
a path only root may write (publish_to), and connects there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sluice.agents import head, os_users
from sluice.agents.api import EXIT_CLUSTER_LOST, AgentSettings, parse_log_line
from sluice.agents.client import AgentClient
from sluice.agents.limits import SandboxCgroups
from sluice.common.secrets import without_server_secrets
from sluice.control_plane.logs import fields

log = logging.getLogger("sluice.jobs")
AGENT_LOGGER = "sluice.agent"
agent_log = logging.getLogger(AGENT_LOGGER)

AGENT_COMMAND = (sys.executable, "-m", "sluice.agents.service")
# The agent is the longest part of a graceful stop: it destroys environments and stops Ray.
STOP_TIMEOUT_S = 90.0
# How often the server looks for a new agent's socket to publish.
PUBLISH_POLL_S = 0.05


class AgentProcess:
    """Starts and supervises the agent process; start() once, stop() once.

    Args:
        settings: what the agent is told at each start.
        min_backoff_s: wait before restarting an agent that exited; doubles on each quick exit
            up to max_backoff_s, and is reset by an agent that lived longer than stable_s.
        on_restart: called after an agent was started again (from the supervising thread).
        user: the OS user to start the agent as (None: this process's); its settings' work
            area is then the agent's working and home directory.
        cgroups: the groups the agent is put in before it runs anything.
        publish_to: where the server connects to the agent: its socket (settings.socket_path,
            directly in a dir of user's that root made) is moved there once the agent made
            it. Needs user.
    """

    def __init__(
        self,
        settings: AgentSettings,
        *,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        stable_s: float = 60.0,
        on_restart: Callable[[], None] | None = None,
        user: os_users.OsUser | None = None,
        cgroups: SandboxCgroups | None = None,
        publish_to: Path | None = None,
    ) -> None:
        if publish_to is not None and user is None:
            raise ValueError("publish_to needs a user whose socket it publishes")
        self._settings = settings
        self._user = user
        self._cgroups = cgroups
        self._publish_to = publish_to
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._stable_s = stable_s
        self._on_restart = on_restart
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self.client = AgentClient(publish_to or settings.socket_path, settings.config.pool.size)

    @property
    def pid(self) -> int | None:
        """The current agent's process id, if one runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        """Start the agent and the thread that restarts it; returns without waiting for Ray."""
        with self._lock:
            self._spawn()
        self._thread = threading.Thread(target=self._supervise, name="sluice-agent", daemon=True)
        self._thread.start()

    def stop(self, keep_environments: bool, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """Stop the agent for good: it keeps its environments (and Ray) if keep_environments
        or if a run executes in one, else destroys them and stops an embedded head.

        Returns:
            The agent's exit code, None if none ran.
        """
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is None:
            return None
        if process.poll() is None and not self.client.shutdown(keep_environments):
            # The agent does not answer (still starting): a signal asks the same of it.
            process.terminate()
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning(
                "the job agent did not stop in time; killing it", extra=fields(pid=process.pid)
            )
            process.kill()
            code = process.wait()
        self._close_stdin(process)
        config = self._settings.config
        if code != 0 and not keep_environments and config.ray.address is None:
            # No agent stopped the embedded head (the last one died, or was killed): do it here;
            # a sandbox's by its user alone (root takes no lock in that user's files).
            if self._user is not None:
                stopped = os_users.kill_processes(self._user.uid)
            else:
                stopped = head.stop(config)
            log.info("embedded Ray head stopped", extra=fields(processes=stopped))
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.client.close()
        return code

    def _spawn(self) -> None:
        """Under the lock: start an agent process."""
        env = {
            **without_server_secrets(os.environ),
            # The agent forks children (`ray start`, helpers run as the sandbox's user) while
            # it serves gRPC; grpcio's fork handlers can crash such a child before its exec.
            "GRPC_ENABLE_FORK_SUPPORT": "false",
        }
        as_user: dict[str, object] = {}
        if self._user is not None:
            home = str(self._settings.config.work_area)
            env.update(
                {
                    "HOME": home,
                    "USER": self._user.name,
                    "LOGNAME": self._user.name,
                    "TMPDIR": str(self._settings.config.data_dir),
                }
            )
            env.pop("PWD", None)
            env.pop("OLDPWD", None)
            as_user = {
                "user": self._user.uid,
                "group": self._user.gid,
                "extra_groups": [],
                "umask": 0o077,
                "cwd": home,
            }
        process = subprocess.Popen(
            AGENT_COMMAND,
            stdin=subprocess.PIPE,
            # Read back and logged as the server's own records (its format, its level).
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            # Its own session: a terminal's Ctrl-C reaches the server, which stops the agent.
            start_new_session=True,
            **as_user,  # type: ignore[arg-type]
        )
        if self._cgroups is not None:
            # The agent waits for its settings before anything else: nothing escapes the move.
            try:
                self._cgroups.add(process.pid)
            except OSError:
                process.kill()
                process.wait()
                self._close_stdin(process)
                raise
        self._process = process
        threading.Thread(
            target=_relay_output, args=(process,), name="sluice-agent-log", daemon=True
        ).start()
        if self._publish_to is not None:
            # The previous agent's socket is dead: calls wait ("starting") for the new one.
            self._publish_to.unlink(missing_ok=True)
            threading.Thread(
                target=self._publish, args=(process,), name="sluice-agent-socket", daemon=True
            ).start()
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        settings = dataclasses.replace(self._settings, log_level=level)
        if process.stdin is not None:
            # An agent that died at once is the supervising thread's business.
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write(settings.to_json().encode() + b"\n")
                process.stdin.flush()
        log.info("job agent started", extra=fields(pid=process.pid))

    def _supervise(self) -> None:
        backoff = self._min_backoff_s
        while True:
            with self._lock:
                process = self._process
            if process is None:
                return
            started = time.monotonic()
            code = process.wait()
            self._close_stdin(process)
            if self._stopping.is_set():
                return
            if code == EXIT_CLUSTER_LOST or time.monotonic() - started > self._stable_s:
                backoff = self._min_backoff_s
            log.warning(
                "the job agent exited; starting it again",
                extra=fields(
                    exit_code=code,
                    cluster_lost=code == EXIT_CLUSTER_LOST,
                    restart_in_s=round(backoff, 1),
                ),
            )
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self._max_backoff_s)
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self._spawn()
                except OSError:
                    log.exception("cannot start the job agent; retrying")
                    continue
            if self._on_restart is not None:
                self._on_restart()

    def _publish(self, process: subprocess.Popen[bytes]) -> None:
        """Move the agent's socket to publish_to once it is there, for as long as it runs."""
        assert self._publish_to is not None and self._user is not None
        while process.poll() is None and not self._stopping.is_set():
            try:
                if publish_socket(self._settings.socket_path, self._publish_to, self._user.uid):
                    return
            except OSError as exc:
                log.warning("cannot publish the agent's socket", extra=fields(error=str(exc)))
                return
            time.sleep(PUBLISH_POLL_S)

    @staticmethod
    def _close_stdin(process: subprocess.Popen[bytes]) -> None:
        if process.stdin is not None:
            try:
                process.stdin.close()
            except OSError:
                return


def publish_socket(source: Path, target: Path, uid: int) -> bool:
    """Move the unix socket source (in a dir of uid's whose parent root owns) to target (in a
    dir only root writes), if it is a socket of uid's: never through a link uid planted.

    Returns:
        Whether it was moved; False if source is not there (yet).

    Raises:
        OSError: source is something else than a socket of uid's (what is left is removed).
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    directory = os.open(source.parent, flags)
    try:
        try:
            info = os.stat(source.name, dir_fd=directory, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if not stat.S_ISSOCK(info.st_mode) or info.st_uid != uid:
            raise OSError(f"{source} is not a socket of uid {uid}")
        if stat.S_IMODE(info.st_mode) != 0o600:
            # The agent chmods its socket 0600 once it serves (Agent.serve): not before.
            return False
        # Moved by name: whatever is there now moves (a link swapped in meanwhile, too)...
        os.rename(source.name, target, src_dir_fd=directory)
    finally:
        os.close(directory)
    # ...so it is checked again where uid cannot change it any more.
    moved = os.lstat(target)
    if not stat.S_ISSOCK(moved.st_mode) or moved.st_uid != uid:
        target.unlink(missing_ok=True)
        raise OSError(f"{source} was replaced by something else than a socket of uid {uid}")
    return True


def _relay_output(process: subprocess.Popen[bytes]) -> None:
    """Log the agent's records (and any other output of it) as the server's, until it exits."""
    if process.stdout is None:
        return
    for raw in process.stdout:
        line = raw.decode("utf-8", errors="replace").rstrip()
        if not line:
            continue
        entry = parse_log_line(line)
        if entry is None:
            # Ray's own output: its lines carry their own level.
            agent_log.info(line, extra=fields(agent_pid=process.pid))
            continue
        extra = {"agent_pid": process.pid}
        if entry.get("exc"):
            extra["exc"] = entry["exc"]
        level = logging.getLevelName(entry.get("level", "INFO"))
        logging.getLogger(entry.get("logger", AGENT_LOGGER)).log(
            level if isinstance(level, int) else logging.INFO, entry["msg"], extra=fields(**extra)
        )
