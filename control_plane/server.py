"""The server process: start, log where it listens, stop gracefully on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from control_plane.app import assemble
from control_plane.config import ServerConfig
from control_plane.logs import fields

log = logging.getLogger("sluice.server")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def serve(config: ServerConfig) -> int:
    """Run a server until SIGTERM or SIGINT, then shut it down gracefully; the exit code.

    Raises StartupError when the server cannot start. Must run in the main thread, where
    signal handlers live.
    """
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in STOP_SIGNALS}
    try:
        app = assemble(config)
        try:
            app.start()
            for sig in STOP_SIGNALS:
                signal.signal(sig, request_stop)
            log.info(
                "server started",
                extra=fields(
                    address=app.address,
                    data_dir=str(config.data_dir),
                    database=app.db.dialect,
                    max_workers=config.max_workers,
                ),
            )
            # Ray's driver start-up replaces the SIGTERM handler (with sys.exit, or a native
            # handler when it connects from another thread): take it back, now and after a
            # lazy Ray start.
            while not stop_requested.wait(1.0):
                for sig in STOP_SIGNALS:
                    signal.signal(sig, request_stop)
            log.info("server stopping", extra=fields(grace_s=config.shutdown_grace_s))
        finally:
            app.stop()
        log.info("server stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
