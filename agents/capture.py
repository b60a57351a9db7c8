"""Capture of a process's output streams into per-run files.

Each captured stream is a pipe installed on a file descriptor, drained by a thread into the
current sink file. Sinks switch in-band: a marker written into the pipe separates what belongs to
the previous sink from what belongs to the next, so nothing written before a switch lands after it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from sluice.agents.runs import LogStream

_MARKER_START = b"\x00\x01sluice-switch:"
_MARKER_END = b"\x01\x00"
_READ_SIZE = 64 * 1024
_SWITCH_TIMEOUT_S = 5.0


class StreamRouter:
    """A pipe whose content goes to a default file, or to the file of the current run."""

    def __init__(self, name: str, default_sink: Path) -> None:
        self._read_fd, self._write_fd = os.pipe()
        self._default_sink = default_sink
        self._sink: BinaryIO = default_sink.open("ab", buffering=0)
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[Path | None, threading.Event]] = {}
        self._tokens = itertools.count(1)
        self._thread = threading.Thread(target=self._pump, name=f"capture-{name}", daemon=True)
        self._thread.start()

    @property
    def write_fd(self) -> int:
        """The pipe's write end: install it with os.dup2 on the descriptor to capture."""
        return self._write_fd

    def switch(self, sink: Path | None, timeout_s: float) -> bool:
        """Send what is written from now on to sink (None: the default sink).

        Returns:
            Whether the switch took effect within timeout_s.
        """
        token = next(self._tokens)
        done = threading.Event()
        with self._lock:
            self._pending[token] = (sink, done)
        # Shorter than PIPE_BUF, so the marker is never interleaved with other writers' bytes.
        os.write(self._write_fd, _MARKER_START + str(token).encode() + _MARKER_END)
        return done.wait(timeout_s)

    def close(self) -> None:
        """Close the pipe; the drain thread ends once the readers of write_fd are gone."""
        os.close(self._write_fd)

    def _pump(self) -> None:
        pending = b""
        while True:
            chunk = os.read(self._read_fd, _READ_SIZE)
            if not chunk:
                break
            pending = self._route(pending + chunk)
        self._write(pending)
        self._sink.close()
        os.close(self._read_fd)

    def _route(self, data: bytes) -> bytes:
        while True:
            start = data.find(_MARKER_START)
            if start < 0:
                keep = _partial_marker_length(data)
                self._write(data[: len(data) - keep])
                return data[len(data) - keep :]
            end = data.find(_MARKER_END, start + len(_MARKER_START))
            if end < 0:
                self._write(data[:start])
                return data[start:]
            self._write(data[:start])
            token = data[start + len(_MARKER_START) : end]
            data = data[end + len(_MARKER_END) :]
            self._apply(int(token))

    def _apply(self, token: int) -> None:
        with self._lock:
            sink, done = self._pending.pop(token)
        self._sink.close()
        path = sink if sink is not None else self._default_sink
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._sink = path.open("ab", buffering=0)
        except OSError:
            self._sink = self._default_sink.open("ab", buffering=0)
        done.set()

    def _write(self, data: bytes) -> None:
        if not data:
            return
        try:
            self._sink.write(data)
        except OSError:
            # Dropping output beats blocking every writer of the pipe (e.g. on a full disk).
            return


class OutputCapture:
    """A host process's captured streams: its stdout, its stderr, and its Spark driver's output.

    Installing replaces file descriptors 1 and 2 of the process for good: everything the process
    and its children write goes through the pipes, to the default sink or the current run's files.
    """

    def __init__(self, default_sink: Path) -> None:
        self._routers = {stream: StreamRouter(stream.value, default_sink) for stream in LogStream}

    @contextlib.contextmanager
    def driver_launch(self) -> Iterator[None]:
        """Inside, fds 1 and 2 are the driver's pipe, for a JVM started now to inherit; after,
        they are the stdout and stderr pipes, for the process itself and its other children."""
        os.dup2(self._routers[LogStream.DRIVER].write_fd, 1)
        os.dup2(self._routers[LogStream.DRIVER].write_fd, 2)
        try:
            yield
        finally:
            os.dup2(self._routers[LogStream.STDOUT].write_fd, 1)
            os.dup2(self._routers[LogStream.STDERR].write_fd, 2)

    def to_files(self, sinks: Mapping[LogStream, Path]) -> None:
        """Send each stream written from now on to its file (e.g. a run's logs)."""
        for stream, router in self._routers.items():
            router.switch(sinks[stream], _SWITCH_TIMEOUT_S)

    def to_default(self) -> None:
        """Send every stream written from now on to the default sink."""
        for router in self._routers.values():
            router.switch(None, _SWITCH_TIMEOUT_S)


def _partial_marker_length(data: bytes) -> int:
    """How many trailing bytes of data could be the start of a marker cut by a read."""
    for length in range(min(len(_MARKER_START) - 1, len(data)), 0, -1):
        if _MARKER_START.startswith(data[-length:]):
            return length
    return 0
