"""The data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.control_plane.datadir import prepare_data_dir
from sluice.control_plane.errors import StartupError

pytestmark = pytest.mark.unit


def test_creates_missing_dirs(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert prepare_data_dir(target) == target
    assert target.is_dir()


def test_a_file_is_not_a_data_dir(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(StartupError, match="is not a directory"):
        prepare_data_dir(target)


def test_cannot_create_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StartupError, match="cannot be created"):
        prepare_data_dir(tmp_path / "file" / "sub")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_unwritable_dir_is_reported() -> None:
    # /proc/self is a directory no one, not even root, can create files in.
    with pytest.raises(StartupError, match="is not writable"):
        prepare_data_dir(Path("/proc/self"))
