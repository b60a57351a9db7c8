"""The unprivileged OS users that sandboxes' Ray processes run as.

The agent (root) creates a system user per sandbox on demand; every process of the sandbox's
embedded Ray head runs as it, so job code cannot read what only the control plane's user may.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from common.errors import InternalError, InvalidInput

USER_PREFIX = "sluice-"
# useradd's limit for a name.
MAX_USER_NAME_CHARS = 32
_NAME = re.compile(r"[a-z0-9-]+")
_USERADD_TIMEOUT_S = 30.0
# useradd's exit code when the user (or group) exists already: another process won the race.
_USERADD_EXISTS = 9

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
