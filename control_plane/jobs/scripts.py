"""Script locations: sluice://scripts/NAME for an uploaded script, file:///path for a local one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from common.errors import EntityNotFound, InvalidInput

UPLOADED_PREFIX = "sluice://scripts/"
FILE_PREFIX = "file://"
MAX_SCRIPT_NAME = 255
MAX_LOCATION = 4096
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


def load_script(store: ScriptStore, account: str, location: str) -> str:
    """The text of the script a run runs. EntityNotFound or InvalidInput, with a message for
    the run's error_message, if it cannot be had."""
    where = parse_script_location(location)
    if where.path is None:
        content = store.get_script(account, where.uploaded_name)
    else:
        try:
            content = where.path.read_bytes()
        except OSError as exc:
            raise EntityNotFound(
                f"script file {where.path} cannot be read: {exc.strerror or exc}"
            ) from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"script {location} is not UTF-8 text") from None
