"""A run's files: reading its logs from an offset, and its final status.

The files stay after the environment is gone, so logs and final states survive failures of the
environment and restarts of the control plane. Logs and the environment's status are in the work
area, written by job code: they are read bounded, never through a symbolic link, and a status
that is not one is ignored. The agent's own final status is in its private area.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from sluice.agents.layout import DataLayout
from sluice.agents.runs import LogChunk, LogStream, RunProgress, RunState

DEFAULT_MAX_BYTES = 256 * 1024
# A status is a few hundred bytes and a traceback; anything larger is not one.
MAX_STATUS_BYTES = 256 * 1024
_TEXT_FIELDS = ("environment_id", "error_message")
_TIME_FIELDS = ("started_at", "first_line_at", "finished_at")


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
        fd = open_in_work_area(layout, layout.run_log(run_id, stream))
    except OSError:
        # Missing, or not a regular file reached without links: nothing to read.
        data = b""
    else:
        with os.fdopen(fd, "rb") as log:
            log.seek(offset)
            data = log.read(max_bytes)
    data = _cut(data, whole_lines, full=len(data) == max_bytes)
    return LogChunk(
        text=data.decode("utf-8", errors="replace"), offset=offset, next_offset=offset + len(data)
    )


def write_status(layout: DataLayout, progress: RunProgress) -> None:
    """The environment records a run's final progress in the run's working dir (work area),
    replacing any earlier record whole."""
    _write_json(layout.run_status_file(progress.run_id), progress)


def write_final_status(layout: DataLayout, progress: RunProgress) -> None:
    """The agent records a run's final progress in its private area."""
    _write_json(layout.final_status_file(progress.run_id), progress)


def has_status(layout: DataLayout, run_id: str) -> bool:
    """Whether the agent or the run's environment recorded a status of the run."""
    return layout.final_status_file(run_id).exists() or os.path.lexists(
        layout.run_status_file(run_id)
    )


def read_status(layout: DataLayout, run_id: str) -> RunProgress | None:
    """A run's recorded final progress: the agent's, else the environment's; None if neither
    recorded one, or if what is there is not a final status of that run."""
    final = _read_progress(layout.final_status_file(run_id), run_id)
    if final is not None:
        return final
    try:
        fd = open_in_work_area(layout, layout.run_status_file(run_id))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as source:
        return _parse_progress(source.read(MAX_STATUS_BYTES + 1), run_id)


def open_in_work_area(layout: DataLayout, path: Path) -> int:
    """A read-only descriptor of a regular file in the work area, reached without following any
    symbolic link below the work area's root (job code may have planted some).

    Raises:
        OSError: missing, not a regular file, outside the work area, or reached through a link.
    """
    root = layout.work_area
    parts = path.relative_to(root).parts
    if not parts or ".." in parts:
        raise OSError(f"{path} is not a file of the work area")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = os.open(part, flags | os.O_DIRECTORY, dir_fd=directory)
            os.close(directory)
            directory = inner
        # Non-blocking: a FIFO planted in place of a log must not hang the agent.
        fd = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=directory)
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    os.set_blocking(fd, True)
    return fd


def _write_json(path: Path, progress: RunProgress) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".status-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            json.dump(progress.to_dict(), tmp)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _read_progress(path: Path, run_id: str) -> RunProgress | None:
    try:
        with path.open("rb") as source:
            return _parse_progress(source.read(MAX_STATUS_BYTES + 1), run_id)
    except OSError:
        return None


def _parse_progress(data: bytes, run_id: str) -> RunProgress | None:
    """The final progress of run_id in data, or None if data is anything else."""
    if len(data) > MAX_STATUS_BYTES:
        return None
    try:
        values = json.loads(data)
    except ValueError:
        return None
    if not isinstance(values, dict) or not _is_status_of(values, run_id):
        return None
    try:
        progress = RunProgress.from_dict(values)
    except (ValueError, KeyError, TypeError):
        return None
    return progress if progress.state.is_terminal() else None


def _is_status_of(values: dict[str, Any], run_id: str) -> bool:
    return values.get("run_id") == run_id and well_typed_progress(values)


def well_typed_progress(values: Any) -> bool:
    """Whether values (from job code's reach) has the shape of RunProgress.to_dict()."""
    if not isinstance(values, dict) or not isinstance(values.get("run_id"), str):
        return False
    if values.get("state") not in {s.value for s in RunState}:
        return False
    for key in _TEXT_FIELDS:
        if not isinstance(values.get(key, ""), str | None):
            return False
    for key in _TIME_FIELDS:
        value = values.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not math.isfinite(value):
            return False
    return True


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
