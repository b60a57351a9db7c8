"""The sandboxes' OS users: names checked, created once even when two processes race."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sluice.agents import os_users
from sluice.agents.config import AgentsConfig
from sluice.agents.errors import ClusterUnavailable
from sluice.agents.head import start_or_attach
from sluice.common.errors import InvalidInput

pytestmark = pytest.mark.unit

REPO = Path(__file__).parents[2]


@pytest.mark.parametrize(
    "name",
    ["root", "sluice-", "sluice-A", "sluice-a_b", "sluice-a.b", "sluice-" + "a" * 26, "x-sluice-a"],
)
def test_only_sandbox_names_are_taken(name: str) -> None:
    with pytest.raises(InvalidInput):
        os_users.check_user_name(name)
    with pytest.raises(InvalidInput):
        os_users.ensure_user(name)


def test_sandbox_names_pass() -> None:
    for name in ("sluice-a", "sluice-t-0f3a", "sluice-" + "a" * 25):
        assert os_users.check_user_name(name) == name


def test_current_user_is_this_process() -> None:
    user = os_users.current_user()
    assert (user.uid, user.gid) == (os.geteuid(), os.getegid())
    assert os_users.can_switch_users() is (os.geteuid() == 0)


@pytest.fixture
def fresh_name() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("creating OS users needs root")
    name = f"sluice-u-{secrets.token_hex(4)}"
    yield name
    subprocess.run(["userdel", name], check=False, capture_output=True)
    subprocess.run(["groupdel", name], check=False, capture_output=True)


def test_a_user_is_created_once_by_racing_threads_and_processes(fresh_name: str) -> None:
    assert os_users.lookup(fresh_name) is None
    racer = [
        sys.executable,
        "-c",
        f"from sluice.agents.os_users import ensure_user; ensure_user({fresh_name!r})",
    ]
    others = [subprocess.Popen(racer, cwd=REPO) for _ in range(3)]
    with ThreadPoolExecutor(4) as threads:
        users = list(threads.map(lambda _: os_users.ensure_user(fresh_name), range(4)))
    assert [other.wait(timeout=60) for other in others] == [0, 0, 0]
    assert len(set(users)) == 1
    user = users[0]
    assert user.name == fresh_name and user.uid != 0 and user.uid < 1000, "a system user"
    assert os_users.lookup(fresh_name) == user
    entry = subprocess.run(["getent", "passwd", fresh_name], capture_output=True, text=True)
    assert entry.stdout.strip().endswith(":/usr/sbin/nologin")
    assert not user.home.exists() or user.home == Path("/")


def test_a_work_area_in_a_dir_anyone_may_write_is_refused(fresh_name: str) -> None:
    # In /tmp (1777) the user could move its work area away and leave a link in its place.
    data_dir = Path(f"/tmp/sld-{secrets.token_hex(3)}")
    config = AgentsConfig(
        data_dir=data_dir, run_as=fresh_name, work_dir=Path(f"/tmp/slw-{secrets.token_hex(3)}")
    )
    try:
        with pytest.raises(ClusterUnavailable, match="writable by no one else"):
            start_or_attach(config)
    finally:
        subprocess.run(["rm", "-rf", str(data_dir), str(config.work_dir)], check=False)
