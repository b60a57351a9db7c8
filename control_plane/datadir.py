"""The server's data directory."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sluice.control_plane.errors import StartupError


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
