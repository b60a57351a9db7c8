"""Where scripts may come from: uploads always; local files only under the operator's script
roots, never the server's own files, never more than an upload may hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sluice.common.errors import EntityNotFound, InvalidInput
from sluice.control_plane.config import ServerConfig
from sluice.control_plane.errors import StartupError
from sluice.control_plane.jobs.runtime import script_sources
from sluice.control_plane.jobs.scripts import DEFAULT_MAX_SCRIPT_BYTES, ScriptSources

pytestmark = pytest.mark.unit

SECRET = "slk_0000000000000001_" + "s" * 43


class Uploads:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def get_script(self, account: str, name: str) -> bytes:
        self.asked.append((account, name))
        return b"print('uploaded')\n"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(root, data dir): a script root whose subtree holds the server's data dir."""
    root = tmp_path / "root"
    data = root / "srv" / "data"
    data.mkdir(parents=True)
    (data / "admin-token").write_text(SECRET + "\n")
    (root / "etl.py").write_text("print('local')\n")
    return root, data


def refused(sources: ScriptSources, location: str, reason: str) -> None:
    """Refused both when a job names it and when a run loads it; never with the file's text."""
    with pytest.raises(InvalidInput) as at_create:
        sources.check(location)
    with pytest.raises(InvalidInput) as at_run:
        sources.load(Uploads(), "acct", location)
    for error in (at_create.value, at_run.value):
        assert reason in error.message
        assert SECRET not in error.message


def test_uploads_are_always_a_source() -> None:
    uploads = Uploads()

    assert ScriptSources().check("sluice://scripts/etl.py").uploaded_name == "etl.py"
    assert ScriptSources().load(uploads, "acct", "sluice://scripts/etl.py") == (
        "print('uploaded')\n"
    )
    assert uploads.asked == [("acct", "etl.py")]


def test_by_default_no_local_file_is_a_source(layout: tuple[Path, Path]) -> None:
    root, _ = layout

    refused(ScriptSources(), f"file://{root / 'etl.py'}", "this server reads no local scripts")


def test_a_file_under_a_root_is_a_source(layout: tuple[Path, Path]) -> None:
    root, data = layout
    sources = ScriptSources(roots=(root,), protected=(data,))

    assert sources.load(Uploads(), "acct", f"file://{root / 'etl.py'}") == "print('local')\n"
    # Whether it exists is the run's business: a job may name a file not written yet.
    assert sources.check(f"file://{root / 'later.py'}").path == root / "later.py"


@pytest.mark.parametrize("relative", ["../elsewhere.py", "sub/../../elsewhere.py"])
def test_dot_dot_does_not_leave_a_root(layout: tuple[Path, Path], relative: str) -> None:
    root, data = layout
    (root.parent / "elsewhere.py").write_text("print('x')\n")

    refused(
        ScriptSources(roots=(root,), protected=(data,)),
        f"file://{root}/{relative}",
        "is not under a script root",
    )


def test_a_link_out_of_a_root_is_followed_and_refused(layout: tuple[Path, Path]) -> None:
    root, data = layout
    (root.parent / "elsewhere.py").write_text("print('x')\n")
    (root / "link.py").symlink_to(root.parent / "elsewhere.py")

    refused(
        ScriptSources(roots=(root,), protected=(data,)),
        f"file://{root / 'link.py'}",
        "is not under a script root",
    )


def test_the_data_dir_is_never_a_source_even_under_a_root(layout: tuple[Path, Path]) -> None:
    root, data = layout
    sources = ScriptSources(roots=(root,), protected=(data,))
    (root / "token.py").symlink_to(data / "admin-token")

    for location in (f"file://{data / 'admin-token'}", f"file://{root / 'token.py'}"):
        refused(sources, location, "names a file of the server itself")


@pytest.mark.parametrize("path", ["/dev/zero", "/proc/self/environ", "/sys/kernel/hostname"])
def test_pseudo_filesystems_are_never_a_source(path: str) -> None:
    refused(ScriptSources(roots=(Path("/"),)), f"file://{path}", "names a file of the server")


def test_local_scripts_have_the_upload_size_cap(tmp_path: Path) -> None:
    sources = ScriptSources(roots=(tmp_path,))
    (tmp_path / "fits.py").write_bytes(b"#" * DEFAULT_MAX_SCRIPT_BYTES)
    (tmp_path / "big.py").write_bytes(b"#" * (DEFAULT_MAX_SCRIPT_BYTES + 1))

    assert len(sources.load(Uploads(), "acct", f"file://{tmp_path / 'fits.py'}")) == (
        DEFAULT_MAX_SCRIPT_BYTES
    )
    with pytest.raises(InvalidInput, match="is larger than the limit of 1048576 bytes"):
        sources.load(Uploads(), "acct", f"file://{tmp_path / 'big.py'}")


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    sources = ScriptSources(roots=(tmp_path,))
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "dir.py").mkdir()

    # A FIFO with no writer would block a plain open: it is refused at once.
    with pytest.raises(InvalidInput, match="is not a regular file"):
        sources.load(Uploads(), "acct", f"file://{tmp_path / 'fifo.py'}")
    with pytest.raises((InvalidInput, EntityNotFound)):
        sources.load(Uploads(), "acct", f"file://{tmp_path / 'dir.py'}")


def test_an_unreadable_file_says_where_and_why(tmp_path: Path) -> None:
    sources = ScriptSources(roots=(tmp_path,))

    with pytest.raises(EntityNotFound) as missing:
        sources.load(Uploads(), "acct", f"file://{tmp_path / 'absent.py'}")

    assert missing.value.message == (
        f"script file {tmp_path / 'absent.py'} cannot be read: No such file or directory"
    )


def test_sources_need_absolute_paths_and_a_positive_cap() -> None:
    with pytest.raises(ValueError, match="absolute"):
        ScriptSources(roots=(Path("scripts"),))
    with pytest.raises(ValueError, match="positive"):
        ScriptSources(max_bytes=0)


def test_a_server_protects_its_own_files_and_refuses_roots_in_its_data_dir(
    tmp_path: Path,
) -> None:
    data, scripts = tmp_path / "data", tmp_path / "scripts"
    (data / "inner").mkdir(parents=True)
    scripts.mkdir()
    key, token = tmp_path / "tls.key", tmp_path / "ray.token"
    sandboxes = tmp_path / "sandboxes"
    config = ServerConfig(
        data_dir=data,
        sandbox_dir=sandboxes,
        script_roots=(tmp_path,),
        db_url=f"sqlite:///{tmp_path / 'elsewhere.db'}",
        ray_auth_token_path=token,
        tls_cert=tmp_path / "tls.crt",
        tls_key=key,
    )

    sources = script_sources(config)

    assert sources.roots == (tmp_path,)
    assert set(sources.protected) == {data, sandboxes, key, token, tmp_path / "elsewhere.db"}
    assert sources.max_bytes == DEFAULT_MAX_SCRIPT_BYTES
    # The sandboxes' work areas hold what job code wrote: never a script.
    own_files = (data / "admin-token", sandboxes / "sb-00000000/runs/x.py", key, token)
    for own in (*own_files, tmp_path / "elsewhere.db"):
        with pytest.raises(InvalidInput, match="names a file of the server itself"):
            sources.check(f"file://{own}")
    sources.check(f"file://{scripts / 'etl.py'}")
    for bad, message in ((data / "inner", "is inside the data dir"), (tmp_path / "x", "is not")):
        with pytest.raises(StartupError, match=message):
            script_sources(config.model_copy(update={"script_roots": (bad,)}))


def test_script_roots_are_made_absolute() -> None:
    config = ServerConfig(script_roots=(Path("scripts"),))

    assert config.script_roots == (Path.cwd() / "scripts",)
    assert ServerConfig().script_roots == ()
