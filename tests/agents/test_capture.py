from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sluice.agents.capture import StreamRouter

pytestmark = pytest.mark.unit


def test_switches_split_the_stream_exactly(tmp_path: Path) -> None:
    default, run = tmp_path / "env.log", tmp_path / "run" / "stdout.log"
    router = StreamRouter("test", default)
    os.write(router.write_fd, b"before\n")
    assert router.switch(run, timeout_s=5)
    os.write(router.write_fd, b"during 1\n")
    os.write(router.write_fd, b"during 2\n")
    assert router.switch(None, timeout_s=5)
    os.write(router.write_fd, b"after\n")
    assert router.switch(default, timeout_s=5)
    router.close()
    assert run.read_bytes() == b"during 1\nduring 2\n"
    assert default.read_bytes() == b"before\nafter\n"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    default, run = tmp_path / "env.log", tmp_path / "run.log"
    router = StreamRouter("test", default)
    assert router.switch(run, timeout_s=5)

    def write(tag: int) -> None:
        for i in range(2000):
            os.write(router.write_fd, f"{tag}:{i}\n".encode())

    writers = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert router.switch(None, timeout_s=5)
    lines = run.read_text().splitlines()
    assert len(lines) == 8000 and len(set(lines)) == 8000
    assert default.read_bytes() == b""


def test_binary_output_resembling_a_marker_passes_through(tmp_path: Path) -> None:
    default = tmp_path / "env.log"
    router = StreamRouter("test", default)
    payload = b"\x00\x01sluice-sw\x00\x00\x01"
    os.write(router.write_fd, payload)
    assert router.switch(tmp_path / "other.log", timeout_s=5)
    assert default.read_bytes() == payload
