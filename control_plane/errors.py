"""Errors that stop the server from starting. The CLI prints them as one line and exits 2."""

from __future__ import annotations


class StartupError(Exception):
    """The server cannot start for a reason the operator can fix (port, data dir, database)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
