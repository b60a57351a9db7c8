"""The Glue door's HTTP server: uvicorn in a thread of the server process, on its own port."""

from __future__ import annotations

import errno
import shutil
import socket
import threading
import time
from pathlib import Path

import uvicorn

from sluice.control_plane.errors import StartupError

_START_TIMEOUT_S = 30.0


class GlueServer:
    """Serves an ASGI app on host:port (0: a free one) from a thread; TLS with cert and key.

    The socket is bound at construction, so that a taken port is a StartupError before the
    server starts anything else. private_dir (the door's own socket to the gRPC server) is
    removed at stop.
    """

    def __init__(
        self,
        app: object,
        host: str,
        port: int,
        *,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        private_dir: Path | None = None,
        name: str = "Glue",
    ) -> None:
        self._name = name
        self._socket = _bind(host, port, name)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            log_level="warning",
            access_log=False,
            # The client's address is the peer's: no proxy is trusted to name another
            # (uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, so any caller on this
            # host, a run's sandbox too, could write the audit trail's client address).
            proxy_headers=False,
            interface="asgi3",  # not guessed: a bound method's __call__ looks like ASGI 2's
            lifespan="on",
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._private_dir = private_dir

    def start(self) -> None:
        """Serve from a thread; returns once the server accepts requests."""
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"sluice-{self._name.lower()}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise StartupError(f"the {self._name} door did not start on port {self.port}")
            self._thread.join(0.01)

    def stop(self) -> None:
        """Finish the requests in flight and stop."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()
        self._socket.close()
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)


def _bind(host: str, port: int, name: str = "Glue") -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"{name} port {port} on {host} is already in use") from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock
