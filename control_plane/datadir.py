"""The server's data directory and the secrets it keeps there."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from control_plane.errors import StartupError

PAGE_TOKEN_KEY_FILE = "page_token.key"
PAGE_TOKEN_KEY_BYTES = 32


def prepare_data_dir(path: Path) -> Path:
    """Create the data directory if needed and prove it is a writable directory."""
    if path.exists() and not path.is_dir():
        raise StartupError(f"data dir {path} is not a directory")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"data dir {path} cannot be created: {exc.strerror}") from None
    try:
        # os.access lies for root; creating a file is the only honest test.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise StartupError(f"data dir {path} is not writable: {exc.strerror}") from None
    return path


def load_or_create_page_token_key(data_dir: Path) -> bytes:
    """The HMAC key that signs next_tokens: read it, or create it (mode 0600) on first start.

    The key survives restarts so tokens issued before a restart stay valid.
    """
    key_path = data_dir / PAGE_TOKEN_KEY_FILE
    if not key_path.exists():
        _create_key_file(key_path)
    try:
        key = key_path.read_bytes()
    except OSError as exc:
        raise StartupError(f"page token key {key_path} cannot be read: {exc.strerror}") from None
    if len(key) != PAGE_TOKEN_KEY_BYTES:
        raise StartupError(
            f"page token key {key_path} is damaged: expected {PAGE_TOKEN_KEY_BYTES} bytes, "
            f"found {len(key)}; delete it to issue a new key"
        )
    return key


def _create_key_file(key_path: Path) -> None:
    # Written whole under a temporary name, then linked into place: a concurrent starter
    # either wins the link or reads the complete key the winner wrote.
    try:
        # mkstemp creates the file with mode 0600.
        fd, tmp_name = tempfile.mkstemp(dir=key_path.parent, prefix=".key-")
    except OSError as exc:
        raise StartupError(f"page token key {key_path} cannot be created: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(secrets.token_bytes(PAGE_TOKEN_KEY_BYTES))
            tmp.flush()
            os.fsync(tmp.fileno())
        # Losing the race to another starter is fine: its key is as good as ours.
        with contextlib.suppress(FileExistsError):
            os.link(tmp_name, key_path)
    except OSError as exc:
        raise StartupError(f"page token key {key_path} cannot be created: {exc.strerror}") from None
    finally:
        Path(tmp_name).unlink(missing_ok=True)
