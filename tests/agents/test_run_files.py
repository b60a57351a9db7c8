from __future__ import annotations

from pathlib import Path

import pytest

from agents.layout import DataLayout
from agents.run_files import read_log, read_status, write_status
from agents.runs import LogStream, RunProgress, RunState

pytestmark = pytest.mark.unit


def _write(layout: DataLayout, data: bytes) -> None:
    path = layout.run_log("r1", LogStream.STDOUT)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as out:
        out.write(data)


def test_reads_incrementally_by_whole_lines(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    assert read_log(layout, "r1", LogStream.STDOUT).next_offset == 0
    _write(layout, b"one\ntw")
    first = read_log(layout, "r1", LogStream.STDOUT)
    assert (first.text, first.next_offset) == ("one\n", 4)
    again = read_log(layout, "r1", LogStream.STDOUT, first.next_offset)
    assert (again.text, again.next_offset) == ("", 4)
    _write(layout, b"o\nthree")
    second = read_log(layout, "r1", LogStream.STDOUT, first.next_offset)
    assert second.text == "two\n"
    last = read_log(layout, "r1", LogStream.STDOUT, second.next_offset, whole_lines=False)
    assert (last.text, last.offset) == ("three", second.next_offset)


def test_max_bytes_never_splits_a_character(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    text = "é" * 10 + "€" * 10 + "\n"
    _write(layout, text.encode())
    offset, pieces = 0, []
    while True:
        chunk = read_log(layout, "r1", LogStream.STDOUT, offset, max_bytes=5)
        if chunk.next_offset == offset:
            break
        pieces.append(chunk.text)
        offset = chunk.next_offset
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)


def test_status_round_trips_and_is_replaced_whole(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    assert read_status(layout, "r1") is None
    first = RunProgress("r1", RunState.SUCCEEDED, "e1", "", 1.0, 1.1, 2.0)
    write_status(layout, first)
    assert read_status(layout, "r1") == first
    second = RunProgress("r1", RunState.TIMEOUT, "e1", "too long", 1.0, 1.1, 3.0)
    write_status(layout, second)
    assert read_status(layout, "r1") == second
    assert [p.name for p in layout.run_dir("r1").iterdir()] == ["status.json"]


def test_unreadable_status_is_none(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    layout.run_dir("r1").mkdir(parents=True)
    layout.run_status_file("r1").write_text("{not json")
    assert read_status(layout, "r1") is None
