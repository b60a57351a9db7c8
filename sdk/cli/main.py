"""The `sluice` command: global options, the command groups, plugins, and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from sluice.sdk.cli import (
    access_keys,
    audit,
    connections,
    crawlers,
    databases,
    functions,
    jobs,
    notifications,
    partitions,
    policies,
    pool,
    principals,
    runs,
    scripts,
    submit,
    tables,
    tokens,
    triggers,
    workflows,
)
from sluice.sdk.cli.context import CliContext, Connector, OutputFormat, default_connector
from sluice.sdk.cli.failures import run_reporting_errors
from sluice.sdk.cli.plugins import load_plugin, plugin_entry_points
from sluice.sdk.config import (
    ADDRESS_ENV,
    CATALOG_ID_ENV,
    DEFAULT_ADDRESS,
    DEFAULT_TIMEOUT_S,
    ClientOptions,
)

# What the completion scripts set when they ask `sluice` for completions (click's convention).
COMPLETE_VAR = "_SLUICE_COMPLETE"


class SluiceGroup(click.Group):
    """The top-level group: built-in commands plus plugins, and one-line errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *plugin_entry_points()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry_point = plugin_entry_points().get(cmd_name)
        return None if entry_point is None else load_plugin(entry_point)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> int:
        code = run_reporting_errors(
            lambda: super(SluiceGroup, self).main(
                args, prog_name, complete_var, standalone_mode=False, **extra
            )
        )
        if standalone_mode:
            sys.exit(code)
        return code


@click.group(cls=SluiceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--server",
    envvar=ADDRESS_ENV,
    default=DEFAULT_ADDRESS,
    show_default=True,
    show_envvar=True,
    help="host:port of the Sluice server.",
)
@click.option(
    "--catalog-id",
    envvar=CATALOG_ID_ENV,
    default="",
    show_envvar=True,
    help="The account to work in; the server's default account when empty.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for each call.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice([f.value for f in OutputFormat]),
    default=OutputFormat.TABLE.value,
    show_default=True,
    help="table for people, json for programs.",
)
@click.version_option(package_name="sluice", prog_name="sluice")
@click.pass_context
def cli(ctx: click.Context, server: str, catalog_id: str, timeout: float, output: str) -> None:
    """Sluice: a self-hosted, open alternative to AWS Glue."""
    # A caller may hand in its own connector as the context object (tests do).
    connector: Connector = ctx.obj if callable(ctx.obj) else default_connector
    options = ClientOptions(address=server, catalog_id=catalog_id, timeout_s=timeout)
    state = CliContext(options, OutputFormat(output), connector)
    ctx.call_on_close(state.close)
    ctx.obj = state


def _set_output(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    state = ctx.find_object(CliContext)
    if value is not None and state is not None:
        state.output = OutputFormat(value)


def accept_output_after(command: click.Command) -> None:
    """Gives every command under `command` the group's -o/--output, so that it may follow the
    subcommand too (`sluice tables get db t -o json`); given there, it wins."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_output_after(sub)
        return
    command.params.append(
        click.Option(
            ["-o", "--output"],
            type=click.Choice([f.value for f in OutputFormat]),
            default=None,
            expose_value=False,
            callback=_set_output,
            help="table or json, as `sluice -o` (which it overrides).",
        )
    )


for _group in (
    databases.databases,
    tables.tables,
    partitions.partitions,
    connections.connections,
    functions.functions,
    jobs.jobs,
    runs.runs,
    triggers.triggers,
    workflows.workflows,
    crawlers.crawlers,
    crawlers.classifiers,
    pool.pool,
    principals.principals,
    tokens.tokens,
    access_keys.access_keys,
    policies.policies,
    audit.audit,
    notifications.notifications,
):
    accept_output_after(_group)
    cli.add_command(_group)


cli.add_command(submit.submit)
accept_output_after(submit.submit)
# `scripts generate -o FILE` names the script's file (its -o takes table|json too).
for _command in (scripts.mapping, scripts.graph):
    accept_output_after(_command)
cli.add_command(scripts.scripts)

SHELLS = ("bash", "zsh", "fish")


@cli.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script of SHELL (click's), to load in the shell's start-up file.

    \b
    bash:  echo 'eval "$(sluice completion bash)"' >> ~/.bashrc
    zsh:   echo 'eval "$(sluice completion zsh)"' >> ~/.zshrc
    fish:  sluice completion fish > ~/.config/fish/completions/sluice.fish
    """
    from click.shell_completion import get_completion_class

    completion_class = get_completion_class(shell)
    if completion_class is None:  # click knows every one of SHELLS
        raise click.UsageError(f"no completion for {shell}")
    click.echo(completion_class(cli, {}, "sluice", COMPLETE_VAR).source())


accept_output_after(completion)  # accepted as everywhere; the script is the same


def main() -> None:
    """The console script `sluice`."""
    cli.main(prog_name="sluice", complete_var=COMPLETE_VAR)


if __name__ == "__main__":
    main()
