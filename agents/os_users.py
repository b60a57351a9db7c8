"""The unprivileged OS users that sandboxes' agents and Ray processes run as.

The server (root) creates a system user per sandbox before starting the sandbox's agent as that
user; every process of the sandbox (agent, embedded Ray head, job code) runs as it, so job code
cannot read what only the control plane's user may. A retired sandbox's user is removed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from sluice.common.errors import InternalError, InvalidInput

USER_PREFIX = "sluice-"
# useradd's limit for a name.
MAX_USER_NAME_CHARS = 32
_NAME = re.compile(r"[a-z0-9-]+")
_USERADD_TIMEOUT_S = 30.0
# useradd's exit code when the user (or group) exists already: another process won the race.
_USERADD_EXISTS = 9
# userdel's exit code when the user does not exist.
_USERDEL_MISSING = 6
_KILL_TIMEOUT_S = 10.0

_lock = threading.Lock()


@dataclass(frozen=True)
class OsUser:
    """One OS user: its name, ids and home directory (which need not exist)."""

    name: str
    uid: int
    gid: int
    home: Path


def can_switch_users() -> bool:
    """Whether this process may start processes as another user (it runs as root)."""
    return os.geteuid() == 0


def check_user_name(name: str) -> str:
    """name if it may name a sandbox's user, else InvalidInput."""
    if (
        not isinstance(name, str)
        or not name.startswith(USER_PREFIX)
        or len(name) > MAX_USER_NAME_CHARS
        or len(name) == len(USER_PREFIX)
        or not _NAME.fullmatch(name)
    ):
        raise InvalidInput(
            f"OS user name {name!r} must start with {USER_PREFIX!r}, hold only a-z, 0-9 and '-', "
            f"and have at most {MAX_USER_NAME_CHARS} characters"
        )
    return name


def lookup(name: str) -> OsUser | None:
    """The existing user of that name, or None."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def current_user() -> OsUser:
    """The user this process runs as (its effective uid)."""
    uid = os.geteuid()
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return OsUser(str(uid), uid, os.getegid(), Path(os.environ.get("HOME", "/")))
    return OsUser(entry.pw_name, entry.pw_uid, os.getegid(), Path(entry.pw_dir))


def ensure_user(name: str) -> OsUser:
    """The system user of that name, created (no home, no login shell, own group) if missing.

    Safe against other threads and other processes creating the same user at the same time.

    Raises:
        InvalidInput: the name is not a sandbox user's name.
        InternalError: the user could not be created (e.g. this process is not root).
    """
    check_user_name(name)
    with _lock:
        found = lookup(name)
        if found is not None:
            return found
        try:
            result = subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--user-group",
                    name,
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_USERADD_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InternalError(f"cannot create the OS user {name}: {exc}") from exc
        found = lookup(name)
        if found is not None and result.returncode in (0, _USERADD_EXISTS):
            return found
        raise InternalError(
            f"cannot create the OS user {name}: useradd exited {result.returncode}: "
            f"{result.stderr.strip()[-500:]}"
        )


def processes_of(uid: int) -> list[psutil.Process]:
    """Every live process whose real, effective or saved uid is uid."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if uid in process.uids():
                found.append(process)
    return found


def kill_processes(uid: int, timeout_s: float = _KILL_TIMEOUT_S) -> int:
    """SIGKILL every process of uid (never this process), again until none is left or timeout_s
    passed (a process may fork meanwhile).

    Returns:
        How many processes were killed.
    """
    if uid == 0:
        raise InvalidInput("refusing to kill root's processes")
    killed = 0
    deadline = time.monotonic() + timeout_s
    while True:
        processes = [p for p in processes_of(uid) if p.pid != os.getpid()]
        if not processes:
            return killed
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
                killed += 1
        psutil.wait_procs(processes, timeout=1.0)
        if time.monotonic() > deadline:
            return killed


def remove_user(name: str) -> None:
    """Remove a sandbox's user (and its own group); nothing if it does not exist. Its processes
    must be gone (see kill_processes): userdel refuses a user that runs anything.

    Raises:
        InvalidInput: the name is not a sandbox user's name.
        InternalError: userdel failed.
    """
    check_user_name(name)
    with _lock:
        if lookup(name) is None:
            return
        try:
            result = subprocess.run(
                ["userdel", name],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_USERADD_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InternalError(f"cannot remove the OS user {name}: {exc}") from exc
        if result.returncode not in (0, _USERDEL_MISSING) and lookup(name) is not None:
            raise InternalError(
                f"cannot remove the OS user {name}: userdel exited {result.returncode}: "
                f"{result.stderr.strip()[-500:]}"
            )
