"""A run's files: reading its logs from an offset, and its final status.

The files stay in the data dir after the environment is gone, so logs and final states survive
failures of the environment and restarts of the control plane.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from agents.layout import DataLayout
from agents.runs import LogChunk, LogStream, RunProgress

DEFAULT_MAX_BYTES = 256 * 1024


def read_log(
    layout: DataLayout,
    run_id: str,
    stream: LogStream,
    offset: int = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    whole_lines: bool = True,
) -> LogChunk:
    """Read a run's log stream from a byte offset.

    Args:
        layout: the data dir.
        run_id: the run.
        stream: which stream.
        offset: where to start; the next_offset of the previous chunk.
        max_bytes: at most this many bytes.
        whole_lines: stop after the last complete line, so a line still being written is read
            whole next time; pass False once the run is over to get a last unterminated line.

    Returns:
        The chunk read; empty (next_offset == offset) when nothing new is there yet, including
        when the run has not created the file yet.
    """
    if offset < 0 or max_bytes < 1:
        raise ValueError("offset must be >= 0 and max_bytes >= 1")
    try:
        with layout.run_log(run_id, stream).open("rb") as log:
            log.seek(offset)
            data = log.read(max_bytes)
    except FileNotFoundError:
        data = b""
    data = _cut(data, whole_lines, full=len(data) == max_bytes)
    return LogChunk(
        text=data.decode("utf-8", errors="replace"), offset=offset, next_offset=offset + len(data)
    )


def write_status(layout: DataLayout, progress: RunProgress) -> None:
    """Record a run's final progress in its working dir, replacing any earlier record whole."""
    path = layout.run_status_file(progress.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".status-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            json.dump(progress.to_dict(), tmp)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def read_status(layout: DataLayout, run_id: str) -> RunProgress | None:
    """A run's recorded final progress, or None if none was recorded (or it is unreadable)."""
    try:
        values = json.loads(layout.run_status_file(run_id).read_text(encoding="utf-8"))
        return RunProgress.from_dict(values)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cut(data: bytes, whole_lines: bool, full: bool) -> bytes:
    if whole_lines:
        end = data.rfind(b"\n")
        if end >= 0:
            return data[: end + 1]
        if not full:
            return b""
    if not full:
        return data
    # A line longer than max_bytes comes in pieces; never split a UTF-8 character.
    boundary = _utf8_boundary(data)
    return data[:boundary] if boundary > 0 else data


def _utf8_boundary(data: bytes) -> int:
    end = len(data)
    for back in range(1, min(4, end) + 1):
        byte = data[end - back]
        if byte & 0xC0 != 0x80:
            needed = _utf8_length(byte)
            return end if needed <= back else end - back
    return end


def _utf8_length(lead: int) -> int:
    if lead < 0x80:
        return 1
    if lead >> 5 == 0b110:
        return 2
    if lead >> 4 == 0b1110:
        return 3
    return 4
