"""The client alone (`pip install sluice`): the SDK and the CLI load none of the server's libraries,
and a command that needs the `server` extra says how to install it.

scripts/package_check.sh checks the same on a real client-only install from the built wheel.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import (
    EntryPoint,
    PackageNotFoundError,
    PathDistribution,
    distribution,
    packages_distributions,
)
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sluice.sdk.cli import main as cli_main
from sluice.sdk.cli.main import cli
from sluice.sdk.cli.plugins import missing_requirements, plugin_entry_points

pytestmark = pytest.mark.unit

# Libraries of the `server` extra (top-level module names), and the server's own packages.
SERVER_MODULES = {
    "ray",
    "raydp",
    "pyspark",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "psycopg",
    "cryptography",
    "opentelemetry",
    "pydantic",
    "psutil",
    "re2",
}
# `import grpc` itself imports these when they are installed (as grpc.tools, grpc.health...
# aliases of their empty top packages): not the SDK's doing.
GRPC_OPTIONAL_ALIASES = {"grpc_tools", "grpc_health", "grpc_reflection"}
SERVER_PACKAGES = {
    "sluice.control_plane",
    "sluice.agents",
    "sluice.catalog.core",
    "sluice.common",
}

# In a fresh interpreter: import the SDK and the CLI, then run `sluice --help` and `sluice
# --version`, and list what got imported after each step.
PROBE = """
import contextlib, io, json, sys
startup = sorted(sys.modules)
import sluice.sdk
import sluice.sdk.cli.main as cli_main
imported = sorted(sys.modules)
codes = []
for args in (["--help"], ["--version"]):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        codes.append(cli_main.cli.main(args, prog_name="sluice", standalone_mode=False))
    assert "sluice" in out.getvalue(), out.getvalue()
ran = sorted(sys.modules)
print(json.dumps({"startup": startup, "imported": imported, "codes": codes, "ran": ran}))
"""


def server_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in SERVER_MODULES]


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def test_the_sdk_and_the_cli_import_none_of_the_server(probe: dict[str, Any]) -> None:
    assert probe["codes"] == [0, 0]
    assert server_modules(probe["imported"]) == []
    assert [m for m in probe["imported"] if m.startswith(tuple(SERVER_PACKAGES))] == []
    assert server_modules(probe["ran"]) == []
    # The help listing loads the `server` plugin's command (click only), nothing else of the server.
    assert [m for m in probe["ran"] if m.startswith(tuple(SERVER_PACKAGES))] == [
        "sluice.control_plane",
        "sluice.control_plane.cli",
    ]
    # Not a server library, but only `jobs run --wait` needs the live display.
    assert "rich.live" not in probe["ran"]


def test_the_sdk_and_the_cli_import_only_the_base_dependencies(probe: dict[str, Any]) -> None:
    """Every library the SDK and the CLI load comes with `pip install sluice` (no extra)."""
    installed_by = packages_distributions()
    base = _dependency_closure("sluice")
    # (Not what the interpreter loaded before: site's .pth files, e.g. setuptools' distutils hack.)
    loaded = {m.split(".")[0] for m in set(probe["ran"]) - set(probe["startup"])}
    loaded -= set(sys.stdlib_module_names)
    undeclared = {
        module: dists
        for module in sorted(loaded - GRPC_OPTIONAL_ALIASES)
        if (dists := installed_by.get(module)) and not {_normalise(d) for d in dists} & base
    }

    assert undeclared == {}


def _dependency_closure(project: str) -> set[str]:
    """`project` and what its base requirements (no extras) bring, transitively, as installed."""
    seen: set[str] = set()
    todo = [project]
    while todo:
        name = _normalise(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        todo += [
            match.group(1)
            for spec, _, marker in (r.partition(";") for r in requires)
            if "extra" not in marker and (match := re.match(r"\s*([A-Za-z0-9][\w.-]*)", spec))
        ]
    return seen


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_installed_server_command_names_its_extra_and_has_it_here() -> None:
    server = plugin_entry_points()["server"]

    assert server.extras == ["server"]
    assert missing_requirements(server) == []


# A client-only install, as a distribution whose `server` extra is not installed.


@pytest.fixture
def client_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EntryPoint:
    info = tmp_path / "clientonly-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: clientonly\nVersion: 1.0\n"
        "Requires-Dist: click>=8\n"
        "Provides-Extra: server\n"
        'Requires-Dist: no-such-distribution-here>=1; extra == "server"\n'
        'Requires-Dist: click>=8; extra == "server"\n'
        'Requires-Dist: Another_Missing.One; python_version >= "3" and extra == "server"\n'
        'Requires-Dist: not-needed-by-server; extra == "dev"\n'
    )
    (info / "entry_points.txt").write_text(
        "[sluice.cli]\nserver = sluice.control_plane.cli:server [server]\n"
    )
    (server,) = PathDistribution(info).entry_points.select(group="sluice.cli")
    monkeypatch.setattr(cli_main, "plugin_entry_points", lambda: {"server": server})
    return server


def sluice(*args: str) -> Result:
    return CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), catch_exceptions=False)


def test_only_the_extras_missing_requirements_are_missing(client_only: EntryPoint) -> None:
    assert missing_requirements(client_only) == ["no-such-distribution-here", "Another_Missing.One"]


@pytest.mark.parametrize("args", [["server"], ["server", "--port", "0"], ["server", "--help"]])
def test_a_command_without_its_extra_says_how_to_install_it(
    client_only: EntryPoint, args: list[str]
) -> None:
    result = sluice(*args)

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: the 'server' command needs the server extra, not installed here "
        "(missing no-such-distribution-here, Another_Missing.One): "
        "pip install 'clientonly[server]'"
    ]


def test_the_help_listing_says_what_to_install(client_only: EntryPoint) -> None:
    result = sluice("--help")

    assert result.exit_code == 0
    (line,) = [line for line in result.stdout.splitlines() if line.strip().startswith("server")]
    assert "(not installed: pip install 'clientonly[server]')" in line
