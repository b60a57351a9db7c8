"""`sluice jobs bookmark`: show or reset a job's bookmark."""

from __future__ import annotations

import click

from sluice.sdk.cli.context import CliContext, pass_cli
from sluice.sdk.cli.output import Column, emit_one

FIELDS = (
    Column("Job", lambda b: b.job_name),
    Column("Version", lambda b: str(b.version)),
    Column("Run", lambda b: str(b.run)),
    Column("Attempt", lambda b: str(b.attempt)),
    Column("Run id", lambda b: b.run_id),
    Column("Previous run id", lambda b: b.previous_run_id),
    Column("Bookmark", lambda b: b.job_bookmark),
)


@click.group("bookmark")
def bookmark() -> None:
    """A job's bookmark: what its bookmarked runs have processed (Glue's job bookmarks)."""


@bookmark.command("get")
@click.argument("job")
@pass_cli
def get(cli: CliContext, job: str) -> None:
    """Show the bookmark of JOB, with the run that last advanced it."""
    emit_one(cli, cli.jobs.get_job_bookmark(job), FIELDS)


@bookmark.command("reset")
@click.argument("job")
@pass_cli
def reset(cli: CliContext, job: str) -> None:
    """Empty the bookmark of JOB: its next bookmarked run reads all of its input."""
    emit_one(cli, cli.jobs.reset_job_bookmark(job), FIELDS)
