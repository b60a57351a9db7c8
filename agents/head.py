"""The embedded Ray head: started with `ray start --head` so it outlives the control plane.

Its address is recorded in the data dir, so a control plane restarted (even after SIGKILL)
re-attaches to it. It listens on 127.0.0.1 only, on free ports (never Redis's 6379), with token
authentication, and every process of it keeps its temp files in the work area. With run_as,
every process of the head runs as that unprivileged user, in a work area it owns, and the data
dir (the agent's) stays out of its reach.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from sluice.agents.config import MIB, AgentsConfig
from sluice.agents.errors import ClusterUnavailable
from sluice.agents.layout import DataLayout, layout_of
from sluice.agents.naming import HEAD_MARKER_VAR
from sluice.agents.os_users import OsUser, can_switch_users, ensure_user, lookup
from sluice.agents.ports import PortBlock
from sluice.common.secrets import without_server_secrets

_LOCALHOST = "127.0.0.1"
_LOG_TAIL_CHARS = 2000
_PREPARE_TIMEOUT_S = 30.0

# Run as the head's user: creates the work area's dirs and writes the token (from stdin), so
# that nothing in the work area, which that user controls, is written to by root.
_PREPARE_WORK_AREA = """
import os, sys
token = sys.stdin.read()
for directory in sys.argv[2:]:
    os.makedirs(directory, mode=0o700, exist_ok=True)
path = sys.argv[1]
new = path + ".new"
if os.path.lexists(new):
    os.unlink(new)
fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
with os.fdopen(fd, "w") as out:
    out.write(token)
os.replace(new, path)
"""


@dataclass(frozen=True)
class HeadRecord:
    """What the data dir remembers of the embedded head."""

    address: str
    ray_client_port: int
    temp_dir: str
    started_at: float


def client_environment(config: AgentsConfig) -> dict[str, str]:
    """Environment variables a process needs to connect to the configured cluster."""
    env = {}
    if config.ray.address is None:
        env["RAY_AUTH_MODE"] = "token"
        # The agent's own copy, in its private area: the work area's is the head user's to change.
        env["RAY_AUTH_TOKEN_PATH"] = str(DataLayout(config.data_dir).token_file)
    elif config.ray.auth_token_path is not None:
        env["RAY_AUTH_MODE"] = "token"
        env["RAY_AUTH_TOKEN_PATH"] = str(config.ray.auth_token_path)
    if config.ray.address is None or is_loopback(config.ray.address):
        # Ray's way to keep a node on 127.0.0.1 (its default picks the routable address).
        env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    return env


def is_loopback(address: str) -> bool:
    """Whether a host:port address is on the loopback interface."""
    host = address.rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def start_or_attach(config: AgentsConfig) -> HeadRecord:
    """The running embedded head of config's data dir, started first if it is not running."""
    layout = layout_of(config)
    layout.ray_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _head_lock(layout):
        record = read_record(layout)
        if record is not None and reachable(record.address):
            return record
        # A head whose GCS is gone is of no use; clear whatever is left of it.
        stop_processes(config, timeout_s=10.0)
        return _start(config, layout)


def running_record(config: AgentsConfig) -> HeadRecord | None:
    """The recorded embedded head if it answers, else None; never starts one."""
    record = read_record(DataLayout(config.data_dir))
    return record if record is not None and reachable(record.address) else None


def read_record(layout: DataLayout) -> HeadRecord | None:
    """The recorded head, or None."""
    try:
        return HeadRecord(**json.loads(layout.cluster_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def stop(config: AgentsConfig, timeout_s: float = 15.0) -> int:
    """Stop the embedded head of config's data dir and forget it.

    Returns:
        How many processes were stopped.
    """
    layout = layout_of(config)
    with _head_lock(layout):
        stopped = stop_processes(config, timeout_s)
        layout.cluster_file.unlink(missing_ok=True)
        return stopped


def head_processes(config: AgentsConfig) -> list[psutil.Process]:
    """The live processes of the embedded head of config (workers and JVMs included).

    Ray's own daemons name the head's temp dir on their command line; workers rename themselves
    (which also blanks their environment in /proc), so they are found as the daemons'
    descendants; orphaned JVMs still carry the head's marker variable. With run_as, every
    process of that user is the head's (the user is the sandbox's alone), wherever job code put
    it.
    """
    marker = str(DataLayout(config.data_dir).ray_dir)
    temp_dir = str(config.ray_temp_dir)
    user = lookup(config.run_as) if config.run_as is not None else None
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter():
        try:
            if process.pid == os.getpid():
                continue
            if (
                (user is not None and user.uid in process.uids())
                or temp_dir in " ".join(process.cmdline())
                or process.environ().get(HEAD_MARKER_VAR) == marker
            ):
                found[process.pid] = process
                found.update((child.pid, child) for child in process.children(recursive=True))
        except psutil.Error:
            continue
    found.pop(os.getpid(), None)
    return list(found.values())


def stop_processes(config: AgentsConfig, timeout_s: float) -> int:
    """SIGTERM the head's processes, then SIGKILL those still there after timeout_s."""
    processes = head_processes(config)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=timeout_s)
    return len(processes)


def _start(config: AgentsConfig, layout: DataLayout) -> HeadRecord:
    _ensure_token(layout)
    user = _head_user(config)
    temp_dir = config.ray_temp_dir
    if user is None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        layout.cluster_tmp_dir.mkdir(parents=True, exist_ok=True)
        if layout.separate:
            _copy_token(layout)
    else:
        _prepare_work_area(config, layout, user)
    command = [
        sys.executable,
        "-m",
        "ray.scripts.scripts",
        "start",
        "--head",
        f"--node-ip-address={_LOCALHOST}",
        f"--num-cpus={config.ray.num_cpus}",
        f"--object-store-memory={config.ray.object_store_memory_mb * MIB}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
        *_port_options(config.ray.ports, config.ray.include_dashboard),
    ]
    if config.ray.include_dashboard:
        command += ["--include-dashboard=true", f"--dashboard-host={_LOCALHOST}"]
    else:
        command.append("--include-dashboard=false")
    gcs_port = int(_option(command, "--port"))
    client_port = int(_option(command, "--ray-client-server-port"))
    with layout.head_log.open("ab") as log:
        try:
            # A session of its own: the head must survive the control plane's process group.
            result = subprocess.run(
                command,
                env=_head_environment(config, layout, user),
                cwd=layout.work_area,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                timeout=config.ray.start_timeout_s,
                check=False,
                **_as_user(user),
            )
        except subprocess.TimeoutExpired:
            stop_processes(config, timeout_s=10.0)
            raise ClusterUnavailable(
                f"ray start did not finish in {config.ray.start_timeout_s:.0f} s; "
                f"see {layout.head_log}"
            ) from None
    if result.returncode != 0:
        stop_processes(config, timeout_s=10.0)
        raise ClusterUnavailable(
            f"ray start failed with exit code {result.returncode}: {_log_tail(layout)}"
        )
    record = HeadRecord(
        address=f"{_LOCALHOST}:{gcs_port}",
        ray_client_port=client_port,
        temp_dir=str(temp_dir),
        started_at=time.time(),
    )
    _write_record(layout, record)
    return record


def _port_options(ports: PortBlock | None, dashboard: bool) -> list[str]:
    """The head's port options: every listening port in the sandbox's block, or (no block) the
    ports Ray would otherwise take fixed defaults for (6379 is Redis's), on free ports."""
    if ports is not None:
        return ports.ray_start_options(dashboard)
    gcs_port, client_port, agent_port, dashboard_port = _free_ports(4)
    options = [
        f"--port={gcs_port}",
        f"--ray-client-server-port={client_port}",
        f"--dashboard-agent-listen-port={agent_port}",
    ]
    if dashboard:
        options.append(f"--dashboard-port={dashboard_port}")
    return options


def _option(command: list[str], name: str) -> str:
    return next(arg.partition("=")[2] for arg in command if arg.startswith(name + "="))


def _head_environment(
    config: AgentsConfig, layout: DataLayout, user: OsUser | None
) -> dict[str, str]:
    # The head's processes run job code: none of the control plane's secrets go there.
    env = {
        k: v
        for k, v in without_server_secrets(os.environ).items()
        if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))
    }
    tmp = str(layout.cluster_tmp_dir)
    env.update(client_environment(config))
    env.update(
        {
            HEAD_MARKER_VAR: str(layout.ray_dir),
            "RAY_TMPDIR": tmp,
            "TMPDIR": tmp,
            # JVMs ignore TMPDIR; every JVM of the cluster (Ray's Java workers included) reads this.
            "JAVA_TOOL_OPTIONS": f"-Djava.io.tmpdir={tmp} -XX:-UsePerfData",
            "RAY_USAGE_STATS_ENABLED": "0",
        }
    )
    if config.ray.address is None:
        env["RAY_AUTH_TOKEN_PATH"] = str(layout.work_token_file)
    if config.ray.ports is not None:
        env.update(config.ray.ports.ray_environment())
    if user is not None:
        env.update({"HOME": str(layout.work_area), "USER": user.name, "LOGNAME": user.name})
        env.pop("PWD", None)
        env.pop("OLDPWD", None)
    return env


def _head_user(config: AgentsConfig) -> OsUser | None:
    """The user the head runs as, created if missing; None for this process's user (also when
    this process runs as run_as already: the server started the agent as the sandbox's user,
    which then prepares its own work area)."""
    if config.run_as is None:
        return None
    existing = lookup(config.run_as)
    if existing is not None and existing.uid == os.geteuid():
        return None
    if not can_switch_users():
        raise ClusterUnavailable(
            f"the head must run as {config.run_as}, but this process cannot switch users "
            "(it does not run as root)"
        )
    return ensure_user(config.run_as)


def _as_user(user: OsUser | None) -> dict[str, object]:
    """subprocess arguments that run a child as user (no supplementary groups: not root's)."""
    if user is None:
        return {}
    return {"user": user.uid, "group": user.gid, "extra_groups": [], "umask": 0o077}


def _prepare_work_area(config: AgentsConfig, layout: DataLayout, user: OsUser) -> None:
    """Create the work area owned by user, 0700, under parents user can traverse but not change,
    with Ray's dirs and a copy of the token made by user itself."""
    work = layout.work_area
    _check_parents(work, user)
    with contextlib.suppress(FileExistsError):
        os.mkdir(work, 0o700)
    info = os.lstat(work)
    if not stat.S_ISDIR(info.st_mode):
        raise ClusterUnavailable(f"the work area {work} is not a directory")
    if (info.st_uid, info.st_gid) != (user.uid, user.gid):
        os.chown(work, user.uid, user.gid, follow_symlinks=False)
    os.chmod(work, 0o700)
    token = layout.token_file.read_text(encoding="utf-8")
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-I",
                "-c",
                _PREPARE_WORK_AREA,
                str(layout.work_token_file),
                str(layout.work_ray_dir),
                str(layout.cluster_tmp_dir),
                str(config.ray_temp_dir),
            ],
            input=token,
            capture_output=True,
            text=True,
            cwd=work,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)},
            timeout=_PREPARE_TIMEOUT_S,
            check=False,
            **_as_user(user),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClusterUnavailable(f"cannot prepare the work area {work}: {exc}") from exc
    if result.returncode != 0:
        raise ClusterUnavailable(
            f"cannot prepare the work area {work} as {user.name}: "
            + result.stderr[-_LOG_TAIL_CHARS:]
        )


def _check_parents(work: Path, user: OsUser) -> None:
    """Create work's missing parents (root's, 0711); refuse parents user cannot traverse, and a
    direct parent user could change (it could swap the work area for a link)."""
    missing = [parent for parent in work.parents if not parent.exists()]
    for parent in reversed(missing):
        try:
            os.mkdir(parent)
        except FileExistsError:
            continue
        os.chmod(parent, 0o711)  # not through the umask
    for parent in work.parents:
        info = os.stat(parent)
        if not info.st_mode & stat.S_IXOTH and info.st_uid != user.uid:
            raise ClusterUnavailable(
                f"{user.name} cannot traverse {parent} to its work area {work}: make it 0711"
            )
    parent = os.stat(work.parent)
    if parent.st_uid != os.geteuid() or parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ClusterUnavailable(
            f"the work area's parent {work.parent} must be owned by this process's user and "
            "writable by no one else (e.g. 0711)"
        )


def _copy_token(layout: DataLayout) -> None:
    """The work area's copy of the token, for the head's processes (all this process's own)."""
    layout.work_ray_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=layout.work_ray_dir, prefix=".token-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(layout.token_file.read_text(encoding="utf-8"))
        os.replace(tmp_name, layout.work_token_file)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _ensure_token(layout: DataLayout) -> None:
    token = layout.token_file
    if token.exists():
        os.chmod(token, 0o600)
        return
    fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_hex(32))


def _write_record(layout: DataLayout, record: HeadRecord) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=layout.ray_dir, prefix=".cluster-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(record), out)
        os.replace(tmp_name, layout.cluster_file)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def reachable(address: str, timeout_s: float = 2.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((_LOCALHOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextlib.contextmanager
def _head_lock(layout: DataLayout) -> Iterator[None]:
    layout.ray_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (layout.ray_dir / "head.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _log_tail(layout: DataLayout) -> str:
    try:
        return layout.head_log.read_text(encoding="utf-8", errors="replace")[-_LOG_TAIL_CHARS:]
    except OSError:
        return f"see {layout.head_log}"
