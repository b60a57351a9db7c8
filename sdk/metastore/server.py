"""The Hive metastore door: a Thrift server (Hive's binary protocol, no SASL) over the handler.

One thread per connection, as Hive's own metastore does. Used by `sluice metastore` and, inside
every job run's environment, on loopback with the run's scoped token.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from hmsclient.genthrift.hive_metastore import ThriftHiveMetastore
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from sluice.sdk.metastore.handler import ClientSource, ErrorTranslator, MetastoreHandler

logger = logging.getLogger(__name__)


class MetastoreDoor:
    """A Hive metastore endpoint answering from the Sluice catalog.

    Args:
        clients: the SDK client(s) whose principal the calls act as.
        warehouse: the location of databases that have none (a URI).
        host: the address to listen on.
        port: the port; 0 picks a free one (see `port` once started).
        on_filter: called with (Hive filter, Glue expression) of each partition filter served.
        data_root: dropped managed tables' local files under it are deleted (see
            MetastoreHandler); None keeps every file.
    """

    def __init__(
        self,
        clients: ClientSource,
        warehouse: str,
        host: str = "127.0.0.1",
        port: int = 9083,
        on_filter: Callable[[str, str], None] | None = None,
        data_root: Path | None = None,
    ) -> None:
        handler = MetastoreHandler(clients, warehouse, on_filter=on_filter, data_root=data_root)
        self._processor = ThriftHiveMetastore.Processor(ErrorTranslator(handler))
        self._host = host
        self._requested_port = port
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (once started)."""
        if self._listener is None:
            return self._requested_port
        return int(self._listener.getsockname()[1])

    @property
    def uri(self) -> str:
        """thrift://host:port, as hive.metastore.uris names it."""
        return f"thrift://{self._host}:{self.port}"

    def start(self) -> MetastoreDoor:
        """Listen, and serve in a daemon thread.

        Raises:
            OSError: the address cannot be listened on (a port in use, say).
        """
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self._host, self._requested_port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, name="metastore-door", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block until `stop` (from another thread or a signal handler)."""
        self._stopping.wait()

    def stop(self) -> None:
        """Stop listening and close every connection. Idempotent."""
        self._stopping.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone may not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _accept(self) -> None:
        listener = self._listener
        while listener is not None and not self._stopping.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                logger.exception("the metastore door could not accept a connection")
                continue
            with self._lock:
                self._connections.add(connection)
            threading.Thread(
                target=self._serve, args=(connection,), name="metastore-connection", daemon=True
            ).start()

    def _serve(self, connection: socket.socket) -> None:
        client = TSocket.TSocket()
        client.setHandle(connection)
        transport = TTransport.TBufferedTransport(client)
        protocol = TBinaryProtocol.TBinaryProtocolAccelerated(transport)
        try:
            while not self._stopping.is_set():
                self._processor.process(protocol, protocol)
        except (TTransport.TTransportException, OSError):
            pass  # the client closed the connection
        except Exception:
            logger.exception("the metastore door dropped a connection after an error")
        finally:
            with self._lock:
                self._connections.discard(connection)
            transport.close()
