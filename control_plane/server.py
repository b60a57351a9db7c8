"""The server process: start, log where it listens, stop gracefully on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from sluice.control_plane.app import assemble, describe_transport
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.logs import fields
from sluice.control_plane.security.bootstrap import ADMIN_TOKEN_FILE

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
            token_file = config.data_dir / ADMIN_TOKEN_FILE
            token = (
                {"admin_token": str(token_file), "use": f"export SLUICE_TOKEN=$(cat {token_file})"}
                if token_file.is_file()
                else {"admin_token": "not in the data dir (made by another server, or removed)"}
            )
            glue = (
                {"glue_endpoint": f"{config.host}:{app.glue.port} (AWS JSON 1.1, SigV4)"}
                if app.glue is not None
                else {}
            )
            scheme = "https" if config.tls_cert is not None else "http"
            console = (
                {"console": f"{scheme}://{config.host}:{app.console.port}/ (sign in with a token)"}
                if app.console is not None
                else {}
            )
            log.info(
                "server started",
                extra=fields(
                    address=app.address,
                    transport=describe_transport(config),
                    data_dir=str(config.data_dir),
                    database=app.db.dialect,
                    max_workers=config.max_workers,
                    **token,
                    **glue,
                    **console,
                ),
            )
            # Ray lives in the job agent's process, so these handlers stay ours; the timeout
            # keeps the main thread where signal handlers run responsive.
            while not stop_requested.wait(1.0):
                pass
            log.info("server stopping", extra=fields(grace_s=config.shutdown_grace_s))
        finally:
            app.stop()
        log.info("server stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
