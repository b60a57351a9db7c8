"""Script locations: sluice://scripts/NAME for an uploaded script, file:///path for a local one.

A local script is read by the control plane, as its OS user, so `file://` is a door onto the
server's files: it is open only under the roots the operator names (`--script-root`, none by
default), never onto the server's own files (its data dir, TLS key, Ray token, database) nor the
pseudo-filesystems (/proc, /sys, /dev), only to regular files, and for no more bytes than an
upload may have. Errors about a script say where it is and why it cannot be had, never what is in
it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sluice.common.errors import EntityNotFound, InvalidInput

UPLOADED_PREFIX = "sluice://scripts/"
FILE_PREFIX = "file://"
MAX_SCRIPT_NAME = 255
MAX_LOCATION = 4096
# The size limit of a script, uploaded or local.
DEFAULT_MAX_SCRIPT_BYTES = 1024 * 1024
# Files of the kernel, not of anyone's scripts: /proc/<server pid>/environ among them.
PSEUDO_FILESYSTEMS = (Path("/proc"), Path("/sys"), Path("/dev"))
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    # A FIFO must not block the open: it is refused once opened, as not a regular file.
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_FD_LINKS = Path("/proc/self/fd")
_SCRIPT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class ScriptLocation:
    """Exactly one of uploaded_name and path is set."""

    uploaded_name: str = ""
    path: Path | None = None


def checked_script_name(name: str) -> str:
    """The name of an uploaded script (etl.py): letters, digits, '_', '.', '-'."""
    if not name or len(name) > MAX_SCRIPT_NAME or not _SCRIPT_NAME.fullmatch(name):
        raise InvalidInput(
            f"script name {name!r} is not valid: use 1 to {MAX_SCRIPT_NAME} letters, digits, "
            "'_', '.' and '-', starting with a letter, digit or '_'"
        )
    return name


def uploaded_location(name: str) -> str:
    return UPLOADED_PREFIX + checked_script_name(name)


def parse_script_location(location: str) -> ScriptLocation:
    """InvalidInput unless location is sluice://scripts/NAME or file:// and an absolute path."""
    if len(location) > MAX_LOCATION:
        raise InvalidInput(f"script_location is longer than {MAX_LOCATION} characters")
    if location.startswith(UPLOADED_PREFIX):
        return ScriptLocation(uploaded_name=checked_script_name(location[len(UPLOADED_PREFIX) :]))
    if location.startswith(FILE_PREFIX):
        path = Path(location[len(FILE_PREFIX) :])
        if not path.is_absolute() or "\x00" in location:
            raise InvalidInput(f"script_location {location!r} is not an absolute file:// path")
        return ScriptLocation(path=path)
    raise InvalidInput(
        f"script_location {location!r} is not valid: use {UPLOADED_PREFIX}NAME for an "
        f"uploaded script or {FILE_PREFIX}/absolute/path"
    )


class ScriptStore(Protocol):
    """Where uploaded scripts are kept (a JobStore)."""

    def get_script(self, account: str, name: str) -> bytes: ...


@dataclass(frozen=True)
class ScriptSources:
    """Where the scripts of runs may come from.

    Attributes:
        roots: Directories whose files `file://` locations may name; none: only uploads.
        protected: The server's own files and directories, never a script even under a root.
        max_bytes: The most bytes a local script may have (that of an upload).
    """

    roots: tuple[Path, ...] = ()
    protected: tuple[Path, ...] = ()
    max_bytes: int = DEFAULT_MAX_SCRIPT_BYTES
    # roots and protected with every symbolic link resolved, as paths are compared.
    _real_roots: tuple[Path, ...] = field(init=False, repr=False, compare=False)
    _real_protected: tuple[Path, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        if any(not root.is_absolute() for root in (*self.roots, *self.protected)):
            raise ValueError("script roots and protected paths must be absolute")
        object.__setattr__(self, "_real_roots", _real(self.roots))
        object.__setattr__(self, "_real_protected", _real((*self.protected, *PSEUDO_FILESYSTEMS)))

    def check(self, location: str) -> ScriptLocation:
        """The location a job names, if runs may load a script from it (CreateJob, UpdateJob).

        A local file need not exist yet; where it is must be allowed.

        Raises:
            InvalidInput: Not a script location, or a file:// path outside every script root or
                among the server's own files.
        """
        where = parse_script_location(location)
        if where.path is not None:
            self._allowed(location, where.path)
        return where

    def load(self, store: ScriptStore, account: str, location: str) -> str:
        """The text of the script a run runs.

        Raises:
            EntityNotFound: No such uploaded script, or the local file cannot be opened.
            InvalidInput: The location is not allowed (see `check`), the file is not a regular
                file, is larger than max_bytes, or is not UTF-8 text. Messages name the
                location and the reason, never the content.
        """
        where = parse_script_location(location)
        if where.path is None:
            content = store.get_script(account, where.uploaded_name)
        else:
            content = self._read(location, where.path)
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"script {location} is not UTF-8 text") from None

    def _allowed(self, location: str, path: Path) -> Path:
        """path with its links resolved, if a script may be read from there."""
        if not self._real_roots:
            raise InvalidInput(
                f"script_location {location!r}: this server reads no local scripts (it has no "
                f"--script-root); upload the script and use {UPLOADED_PREFIX}NAME"
            )
        real = Path(os.path.realpath(path))
        if not any(real.is_relative_to(root) for root in self._real_roots):
            raise InvalidInput(
                f"script_location {location!r} is not under a script root of this server"
            )
        if any(real.is_relative_to(own) for own in self._real_protected):
            raise InvalidInput(
                f"script_location {location!r} names a file of the server itself (its data dir, "
                "keys or a pseudo-filesystem), never a script"
            )
        return real

    def _read(self, location: str, path: Path) -> bytes:
        real = self._allowed(location, path)
        try:
            # The last component was resolved: a link there now was put there since.
            fd = os.open(real, _READ_FLAGS)
        except OSError as exc:
            raise EntityNotFound(
                f"script file {path} cannot be read: {exc.strerror or type(exc).__name__}"
            ) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise InvalidInput(f"script file {path} is not a regular file")
            opened = _opened_path(fd)
            if opened is not None:
                # A directory on the way swapped for a link since the check: check what is open.
                self._allowed(location, opened)
            if info.st_size > self.max_bytes:
                raise InvalidInput(self._too_large(path))
            content = _read_at_most(fd, self.max_bytes + 1)
        except OSError as exc:
            raise EntityNotFound(
                f"script file {path} cannot be read: {exc.strerror or type(exc).__name__}"
            ) from None
        finally:
            os.close(fd)
        if len(content) > self.max_bytes:
            raise InvalidInput(self._too_large(path))
        return content

    def _too_large(self, path: Path) -> str:
        return f"script file {path} is larger than the limit of {self.max_bytes} bytes"


def _real(paths: Iterable[Path]) -> tuple[Path, ...]:
    return tuple(Path(os.path.realpath(path)) for path in paths)


def _opened_path(fd: int) -> Path | None:
    """The path of an open file as the kernel knows it; None where /proc does not tell."""
    try:
        return Path(os.readlink(_FD_LINKS / str(fd)))
    except OSError:
        return None


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(limit - size, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
