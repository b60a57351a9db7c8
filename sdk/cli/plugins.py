"""Commands other packages add to `sluice` through the "sluice.cli" entry-point group.

Plugins load only when asked for (a command run, or the help listing), so that `sluice
databases list` does not import the server, and a plugin that fails to load breaks nothing but
itself. An entry point may name the extra its command needs (`server =
"sluice.control_plane.cli:server [server]"`): on an install without that extra (the client alone,
`pip install sluice`) the command is one line saying what to install, not an import traceback.
"""

from __future__ import annotations

import re
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points

import click

ENTRY_POINT_GROUP = "sluice.cli"

# A command that cannot run on this install: the same code as a server that cannot start.
EXIT_NOT_INSTALLED = 2

_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


def plugin_entry_points() -> dict[str, EntryPoint]:
    """The installed plugin commands, by command name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_plugin(entry_point: EntryPoint) -> click.Command:
    """The command an entry point names; a command reporting the failure if it cannot load."""
    missing = missing_requirements(entry_point)
    if missing:
        return _not_installed(entry_point, missing)
    try:
        command = entry_point.load()
    except ModuleNotFoundError as exc:
        if entry_point.extras:
            return _not_installed(entry_point, [exc.name or str(exc)])
        return _unavailable(entry_point, f"could not be loaded (ModuleNotFoundError: {exc})")
    except Exception as exc:
        # Whatever a broken plugin raises on import, the rest of the CLI keeps working.
        return _unavailable(entry_point, f"could not be loaded ({type(exc).__name__}: {exc})")
    if not isinstance(command, click.Command):
        return _unavailable(
            entry_point, f"could not be loaded ({entry_point.value} is not a click command)"
        )
    return command


def missing_requirements(entry_point: EntryPoint) -> list[str]:
    """The distributions the entry point's extras require that are not installed, by name.

    Only presence is checked, not versions: this tells a client-only install from a full one.
    """
    if not entry_point.extras or entry_point.dist is None:
        return []
    wanted = {_normalise(extra) for extra in entry_point.extras}
    missing: list[str] = []
    for requirement in entry_point.dist.requires or []:
        spec, _, marker = requirement.partition(";")
        extras = {_normalise(extra) for extra in _EXTRA_MARKER.findall(marker)}
        name = _REQUIREMENT_NAME.match(spec)
        if name is None or not extras & wanted:
            continue
        try:
            distribution(name.group(1))
        except PackageNotFoundError:
            missing.append(name.group(1))
    return missing


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _not_installed(entry_point: EntryPoint, missing: list[str]) -> click.Command:
    project = entry_point.dist.name if entry_point.dist is not None else "sluice"
    extras = ",".join(entry_point.extras)
    install = f"pip install '{project}[{extras}]'"
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    return _unavailable(
        entry_point,
        f"needs the {extras} extra, not installed here (missing {shown}): {install}",
        exit_code=EXIT_NOT_INSTALLED,
        short_help=f"(not installed: {install})",
    )


def _unavailable(
    entry_point: EntryPoint,
    problem: str,
    exit_code: int = 1,
    short_help: str = "(unavailable: could not be loaded)",
) -> click.Command:
    message = f"the '{entry_point.name}' command {problem}"

    def fail() -> None:
        error = click.ClickException(message)
        error.exit_code = exit_code
        raise error

    return click.Command(
        entry_point.name,
        callback=fail,
        help=f"Unavailable: {problem}",
        short_help=short_help,
        # `sluice server --help` says what is missing too.
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
