from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sluice.agents.layout import DataLayout
from sluice.agents.run_files import (
    MAX_STATUS_BYTES,
    has_status,
    read_log,
    read_status,
    write_final_status,
    write_status,
)
from sluice.agents.runs import LogStream, RunProgress, RunState

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


def _separate(tmp_path: Path) -> DataLayout:
    layout = DataLayout(tmp_path / "data", tmp_path / "work")
    layout.data_dir.mkdir()
    layout.work_area.mkdir()
    return layout


def test_links_out_of_the_work_area_are_not_followed(tmp_path: Path) -> None:
    layout = _separate(tmp_path)
    secret = layout.data_dir / "stdout.log"
    secret.write_text("secret\n")
    layout.run_dir("r1").mkdir(parents=True)
    layout.run_log("r1", LogStream.STDOUT).symlink_to(secret)
    layout.run_dir("r2").symlink_to(layout.data_dir)
    for run_id in ("r1", "r2"):
        chunk = read_log(layout, run_id, LogStream.STDOUT)
        assert (chunk.text, chunk.next_offset) == ("", 0)
    # The same file reached without a link reads.
    layout.run_log("r1", LogStream.STDOUT).unlink()
    _write(layout, b"mine\n")
    assert read_log(layout, "r1", LogStream.STDOUT).text == "mine\n"


def test_a_fifo_in_place_of_a_log_or_status_does_not_block(tmp_path: Path) -> None:
    layout = _separate(tmp_path)
    layout.run_dir("r1").mkdir(parents=True)
    os.mkfifo(layout.run_log("r1", LogStream.STDOUT))
    os.mkfifo(layout.run_status_file("r1"))
    assert read_log(layout, "r1", LogStream.STDOUT).text == ""
    assert read_status(layout, "r1") is None


@pytest.mark.parametrize(
    "body",
    [
        {"run_id": "r2", "state": "SUCCEEDED"},
        {"run_id": "r1", "state": "RUNNING"},
        {"run_id": "r1", "state": "DONE"},
        {"run_id": "r1", "state": "FAILED", "started_at": "noon"},
        {"run_id": "r1", "state": "FAILED", "finished_at": float("inf")},
        {"run_id": "r1", "state": "FAILED", "finished_at": True},
        {"run_id": "r1", "state": "FAILED", "error_message": ["x"]},
        {"run_id": "r1", "state": "FAILED", "error_message": "x" * (MAX_STATUS_BYTES + 1)},
        ["r1", "FAILED"],
    ],
)
def test_a_forged_status_is_ignored(tmp_path: Path, body: object) -> None:
    layout = _separate(tmp_path)
    layout.run_dir("r1").mkdir(parents=True)
    layout.run_status_file("r1").write_text(json.dumps(body))
    assert read_status(layout, "r1") is None
    assert has_status(layout, "r1")


def test_the_agents_final_status_is_private_and_comes_first(tmp_path: Path) -> None:
    layout = _separate(tmp_path)
    assert not has_status(layout, "r1")
    from_environment = RunProgress("r1", RunState.SUCCEEDED, "e1", "", 1.0, 1.1, 2.0)
    write_status(layout, from_environment)
    assert read_status(layout, "r1") == from_environment
    final = RunProgress("r1", RunState.TIMEOUT, "e1", "too long", 1.0, 1.1, 3.0)
    write_final_status(layout, final)
    assert layout.final_status_file("r1").is_relative_to(layout.data_dir)
    assert read_status(layout, "r1") == final
    layout.run_status_file("r1").unlink()
    assert read_status(layout, "r1") == final and has_status(layout, "r1")


def test_the_layout_splits_the_private_area_from_the_work_area() -> None:
    same = DataLayout(Path("/d"))
    assert not same.separate
    assert same.work_token_file == same.token_file == Path("/d/ray/auth_token")
    assert same.final_status_file("r1") == same.run_status_file("r1")
    layout = DataLayout(Path("/d"), Path("/w"))
    assert layout.separate
    private = [layout.cluster_file, layout.token_file, layout.head_log]
    private.append(layout.final_status_file("r1"))
    work = [layout.work_token_file, layout.cluster_tmp_dir, layout.environment_dir("e1")]
    work += [layout.run_log("r1", LogStream.STDOUT), layout.run_status_file("r1")]
    assert all(path.is_relative_to("/d") for path in private)
    assert all(path.is_relative_to("/w") for path in work)
