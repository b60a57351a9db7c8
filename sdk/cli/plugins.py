"""Commands other packages add to `sluice` through the "sluice.cli" entry-point group.

Plugins load only when asked for (a command run, or the help listing), so that `sluice
databases list` does not import the server, and a plugin that fails to load breaks nothing but
itself.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import click

ENTRY_POINT_GROUP = "sluice.cli"


def plugin_entry_points() -> dict[str, EntryPoint]:
    """The installed plugin commands, by command name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_plugin(entry_point: EntryPoint) -> click.Command:
    """The command an entry point names; a command reporting the failure if it cannot load."""
    try:
        command = entry_point.load()
    except Exception as exc:
        # Whatever a broken plugin raises on import, the rest of the CLI keeps working.
        return _unavailable(entry_point, f"{type(exc).__name__}: {exc}")
    if not isinstance(command, click.Command):
        return _unavailable(entry_point, f"{entry_point.value} is not a click command")
    return command


def _unavailable(entry_point: EntryPoint, problem: str) -> click.Command:
    message = f"the '{entry_point.name}' command could not be loaded ({problem})"

    def fail() -> None:
        raise click.ClickException(message)

    return click.Command(
        entry_point.name,
        callback=fail,
        help=f"Unavailable: {problem}",
        short_help="(unavailable: could not be loaded)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
