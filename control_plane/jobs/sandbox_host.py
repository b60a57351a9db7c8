"""What the server (root) does for a sandbox on its host: before its agent starts, and once the
sandbox is retired.

Before: the sandbox's OS user exists; its work area and its agent's own dir are directories of
that user (0700) in the sandbox root (root's, 0711); its cgroup v1 groups hold the sandbox's
limits, written by root and delegated to the user (sluice.agents.limits.SandboxCgroups). The
agent then starts as that user (control_plane.jobs.agent_process), root only to start it.
After: its processes are killed, its groups, dirs, network policy and user removed.

Without root (a development server) the agent runs as the server's user: the dirs are the
server's, and there are no groups (the agent says its limits are not enforced).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from sluice.agents import netpolicy, os_users
from sluice.agents.api import MAX_SOCKET_PATH_CHARS, SOCKET_NAME
from sluice.agents.limits import ResourceLimits, SandboxCgroups
from sluice.common.errors import SluiceError
from sluice.control_plane.errors import StartupError
from sluice.control_plane.logs import fields

log = logging.getLogger("sluice.jobs")


@dataclass(frozen=True)
class PreparedSandbox:
    """What an agent is started with.

    Attributes:
        user: the OS user to start the agent as; None: the server's own.
        cgroups: the groups to put the agent in before it runs anything; None: none.
        limits: "enforced: ..." or "not enforced: <why>", for operators.
    """

    user: os_users.OsUser | None
    cgroups: SandboxCgroups | None
    limits: str


# When the CPUs are busy, a sandbox (its Ray head, agent and environments together) weighs as
# much as one busy thread of the server: accounts share the CPUs evenly whatever their sandboxes'
# quotas, and the control plane keeps its share beside them (by CPU count, a sandbox of 8 CPUs
# weighed 8,192, and a run's environment starting its pool's next one held the run's log lines
# back by seconds here). Its quota still caps what it may use when the CPUs are free.
SANDBOX_CPU_SHARES = 1024
# A spare starts in the background: while unbound it weighs an eighth of that, so that refilling
# the pool never slows the runs and calls in flight. Bound to an account, it gets the full weight
# (promote).
SPARE_CPU_SHARES = 128


def cgroup_name(sandbox_id: str) -> str:
    """The name of a sandbox's groups (below the server's own group of each controller)."""
    return f"sluice-{sandbox_id}"


def prepare(
    sandbox_id: str,
    os_user: str,
    dirs: tuple[Path, ...],
    limits: ResourceLimits,
    *,
    spare: bool = False,
) -> PreparedSandbox:
    """Make a sandbox's user, dirs and groups (all idempotent: also at each restart).

    Args:
        dirs: the sandbox's dirs its user owns (work area, agent dir).
        spare: the sandbox is bound to no account yet: it weighs SPARE_CPU_SHARES until promote
            (SANDBOX_CPU_SHARES otherwise).

    Raises:
        StartupError: the user or a dir cannot be made, or a dir is not a plain directory.
    """
    if not os_users.can_switch_users():
        for directory in dirs:
            _own_dir(directory, None)
        return PreparedSandbox(None, None, "not enforced: the server does not run as root")
    try:
        user = os_users.ensure_user(os_user)
    except SluiceError as exc:
        raise StartupError(exc.message) from None
    for directory in dirs:
        _own_dir(directory, user)
    try:
        cgroups = SandboxCgroups.below_own_cgroups(cgroup_name(sandbox_id))
        cgroups.create(limits, user.uid, user.gid)
        cgroups.set_cpu_shares(SPARE_CPU_SHARES if spare else SANDBOX_CPU_SHARES)
    except OSError as exc:
        status = f"not enforced: cannot make the sandbox's cgroup v1 groups: {exc}"
        log.warning("sandbox limits", extra=fields(sandbox=sandbox_id, status=status))
        return PreparedSandbox(user, None, status)
    status = (
        f"enforced: {limits.memory_bytes >> 20} MiB, {limits.cpus:g} CPUs, {limits.pids} "
        "processes (cgroup v1)"
    )
    return PreparedSandbox(user, cgroups, status)


def promote(sandbox_id: str) -> None:
    """A spare was bound to an account: its groups get a sandbox's CPU weight (nothing without
    groups; a failure is logged, the sandbox works on at the spare's weight)."""
    if not os_users.can_switch_users():
        return
    try:
        groups = SandboxCgroups.below_own_cgroups(cgroup_name(sandbox_id))
        groups.set_cpu_shares(SANDBOX_CPU_SHARES)
    except OSError as exc:
        log.warning(
            "cannot give a bound sandbox its CPU weight",
            extra=fields(sandbox=sandbox_id, error=str(exc)),
        )


def check_agent_dir(agent_dir: Path) -> Path:
    """The agent's socket path: directly in its own dir (never in a shared temp dir, where
    another sandbox's user could listen in its place), whose parent root owns.

    Raises:
        StartupError: the agent dir is too long for a unix socket path inside it.
    """
    path = agent_dir / SOCKET_NAME
    if len(str(path)) > MAX_SOCKET_PATH_CHARS:
        raise StartupError(f"the sandbox dir is too long for the agent's socket in {agent_dir}")
    return path


def dismantle(sandbox_id: str, os_user: str, dirs: tuple[Path, ...]) -> None:
    """Remove what prepare made, and everything the sandbox left: its processes (all of its
    user's), groups, dirs, network policy and user. Safe to repeat; a part that cannot be
    removed is logged and the rest still removed."""
    user = os_users.lookup(os_user) if os_users.can_switch_users() else None
    if user is not None:
        os_users.kill_processes(user.uid)
        with contextlib.suppress(OSError):
            SandboxCgroups.below_own_cgroups(cgroup_name(sandbox_id)).destroy()
        try:
            netpolicy.remove(user.uid)
        except SluiceError as exc:
            log.warning(
                "cannot remove a sandbox's network policy",
                extra=fields(sandbox=sandbox_id, error=exc.message),
            )
    for directory in dirs:
        # rmtree does not follow links (it removes them), so whatever the user left is safe.
        shutil.rmtree(directory, ignore_errors=True)
    if user is not None:
        try:
            os_users.remove_user(os_user)
        except SluiceError as exc:
            log.warning(
                "cannot remove a sandbox's OS user",
                extra=fields(sandbox=sandbox_id, error=exc.message),
            )


def _own_dir(path: Path, user: os_users.OsUser | None) -> None:
    """path a 0700 directory of user (None: this process's), made if missing; never a link."""
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode):
            raise StartupError(f"the sandbox dir {path} is not a directory")
        if user is not None and (info.st_uid, info.st_gid) != (user.uid, user.gid):
            os.chown(path, user.uid, user.gid, follow_symlinks=False)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise StartupError(f"cannot make the sandbox dir {path}: {exc.strerror}") from None
