"""`sluice submit`: a local script to a run in one command, as spark-submit or ray job submit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sluice.jobs.v1 import jobs_pb2, types_pb2
from sluice.sdk.cli import runs
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.inputs import input_fields, message_from, overlay
from sluice.sdk.cli.jobs import COMMANDS, DEFAULT_COMMAND, WORKER_TYPES, glue_arguments
from sluice.sdk.errors import EntityNotFound


@click.command("submit")
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--job",
    "job_name",
    metavar="NAME",
    help="The job to create or update; by default the script's name without .py.",
)
@click.option(
    "--role", help="The role the runs act as; needed to create the job, kept when updating it."
)
@click.option(
    "--arg",
    "arguments",
    multiple=True,
    metavar="KEY=VALUE",
    help="An argument of this run (KEY gets a leading '--' if it has none). Repeatable.",
)
@click.option("--worker-type", help=f"{WORKER_TYPES}; set on the job.")
@click.option(
    "--workers",
    "--number-of-workers",
    "number_of_workers",
    type=click.IntRange(min=1),
    help="The number of workers; set on the job.",
)
@click.option(
    "--command",
    "command_name",
    type=click.Choice(COMMANDS),
    help=f"PySpark with a ready `spark` session, or plain Python.  [default: {DEFAULT_COMMAND}]",
)
@click.option(
    "--timeout", "timeout_min", type=click.IntRange(min=1), help="Minutes this run may take."
)
@click.option(
    "--wait",
    is_flag=True,
    help="Follow the run to its end, show its output, and exit with its outcome.",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="With --wait: give up waiting after this long (the run goes on; exit 7).",
)
@pass_cli
def submit(
    cli: CliContext,
    script: Path,
    job_name: str | None,
    role: str | None,
    arguments: tuple[str, ...],
    worker_type: str | None,
    number_of_workers: int | None,
    command_name: str | None,
    timeout_min: int | None,
    wait: bool,
    wait_timeout: float | None,
) -> None:
    """Upload SCRIPT, create or update its job, and start a run.

    The job is named after the script (etl.py: etl) or --job; its script is replaced by SCRIPT
    and the flags given change it, the rest of it stays. Without --wait the run's id is
    printed. With --wait the run is followed to its end and its output shown; the exit code is
    the run's outcome: 0 SUCCEEDED, 4 FAILED or ERROR, 5 TIMEOUT, 6 STOPPED, 7 --wait-timeout
    passed (the run goes on); as every command, 1 for a server error, 2 for bad input, 3 for an
    unreachable server.

    \b
    Examples:
      sluice submit etl.py --role etl --arg day=2024-05-01 --wait
      sluice submit etl.py --job nightly --worker-type G.1X --workers 2
    """
    name = job_name or script.stem
    current = _job_or_none(cli, name)
    if current is None and not role:
        raise click.UsageError(f"job {name} does not exist yet: give --role to create it")
    location = cli.jobs.upload_script(f"{name}.py", path=script)
    _progress(cli, f"Uploaded {script} as {location}.")
    changes: dict[str, Any] = {
        "role": role,
        "command": {"script_location": location, "name": command_name},
        "worker_type": worker_type,
        "number_of_workers": number_of_workers,
    }
    if current is None:
        changes["command"]["name"] = command_name or DEFAULT_COMMAND
        request = message_from(
            overlay({"name": name}, source="arguments", what="job", **changes),
            jobs_pb2.CreateJobRequest,
            source="arguments",
        )
        cli.jobs.create(request)
        _progress(cli, f"Created job {name}.")
    else:
        document = input_fields(current, types_pb2.JobUpdate)
        changes["command"] = {k: v for k, v in changes["command"].items() if v is not None}
        update = message_from(
            overlay(document, source="arguments", what="job", **changes),
            types_pb2.JobUpdate,
            source="arguments",
        )
        cli.jobs.update(name, update)
        _progress(cli, f"Updated job {name}.")
    run_id = cli.jobs.start_run(
        name, glue_arguments(arguments, option="--arg"), timeout=timeout_min
    )
    if not wait:
        if cli.output is OutputFormat.JSON:
            click.echo(json.dumps({"job_name": name, "job_run_id": run_id}))
        else:
            click.echo(run_id)
        return
    _progress(cli, f"Started run {run_id} of {name}.")
    runs.follow_run(cli, name, run_id, wait_timeout=wait_timeout)


def _job_or_none(cli: CliContext, name: str) -> types_pb2.Job | None:
    try:
        return cli.jobs.get(name)
    except EntityNotFound:
        return None


def _progress(cli: CliContext, text: str) -> None:
    # On stderr: stdout is the run's id, or the run and its output, for scripts to read.
    if cli.output is OutputFormat.TABLE:
        click.echo(text, err=True)
