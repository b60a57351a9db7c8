"""`sluice jobs`: define jobs, change and delete them, and run them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import click

from sluice.jobs.v1 import jobs_pb2, types_pb2
from sluice.sdk.cli import runs
from sluice.sdk.cli.bookmarks import bookmark
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.inputs import input_fields, key_values, load_input, message_from, overlay
from sluice.sdk.cli.options import Decorator, bundle
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, pairs, timestamp
from sluice.sdk.errors import AlreadyExists, EntityNotFound

COMMANDS = ("glueetl", "pythonshell")
DEFAULT_COMMAND = "glueetl"
WORKER_TYPES = "Standard, G.1X, G.2X or G.4X"


def _workers(job: types_pb2.Job) -> str:
    if not job.number_of_workers:
        return job.worker_type
    return f"{job.number_of_workers} x {job.worker_type}" if job.worker_type else ""


COLUMNS = (
    Column("NAME", lambda j: j.name),
    Column("COMMAND", lambda j: j.command.name),
    Column("ROLE", lambda j: j.role),
    Column("WORKERS", _workers),
    Column("SCRIPT", lambda j: j.command.script_location),
    Column("UPDATED", lambda j: timestamp(j.last_modified_on)),
)
FIELDS = (
    Column("Name", lambda j: j.name),
    Column("Description", lambda j: j.description),
    Column("Role", lambda j: j.role),
    Column("Command", lambda j: j.command.name),
    Column("Script", lambda j: j.command.script_location),
    Column("Python", lambda j: j.command.python_version),
    Column("Default arguments", lambda j: pairs(j.default_arguments)),
    Column("Non-overridable arguments", lambda j: pairs(j.non_overridable_arguments)),
    Column("Max retries", lambda j: str(j.max_retries)),
    Column("Timeout (min)", lambda j: str(j.timeout) if j.timeout else ""),
    Column(
        "Max concurrent runs",
        lambda j: str(j.execution_property.max_concurrent_runs or ""),
    ),
    Column("Worker type", lambda j: j.worker_type),
    Column("Workers", lambda j: str(j.number_of_workers) if j.number_of_workers else ""),
    Column("Connections", lambda j: ", ".join(j.connections.connections)),
    Column("Tags", lambda j: pairs(j.tags)),
    Column("Created", lambda j: timestamp(j.created_on)),
    Column("Updated", lambda j: timestamp(j.last_modified_on)),
)


def _argument_option(name: str, field: str, text: str) -> Decorator[Any]:
    return click.option(
        name,
        field,
        multiple=True,
        metavar="KEY=VALUE",
        help=f"{text} KEY gets a leading '--' if it has none. Repeatable.",
    )


_job_flags = bundle(
    click.option(
        "-f",
        "--from-file",
        "--input",
        "input_file",
        type=click.File("r"),
        help="A JSON or YAML file holding the job's fields; flags override them.",
    ),
    click.option(
        "--script",
        "script_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A local script, uploaded to the server as JOB.py and used as the job's script.",
    ),
    click.option(
        "--script-location",
        help="An uploaded script (sluice://scripts/NAME), or a file:///absolute/path under "
        "one of the server's --script-root directories.",
    ),
    click.option("--role", help="The role the job runs as."),
    click.option(
        "--command",
        "command_name",
        type=click.Choice(COMMANDS),
        help="PySpark with a ready `spark` session, or plain Python.  "
        f"[default: {DEFAULT_COMMAND}]",
    ),
    _argument_option("--arg", "arguments", "A default argument of the job's runs."),
    _argument_option(
        "--non-overridable-arg", "non_overridable", "An argument runs cannot override."
    ),
    click.option("--max-retries", type=click.IntRange(min=0), help="Attempts after a failure."),
    click.option(
        "--timeout",
        "timeout_min",
        type=click.IntRange(min=1),
        help="Minutes a run may take.  [default: 2880]",
    ),
    click.option("--max-concurrent-runs", type=click.IntRange(min=1), help="[default: 1]"),
    click.option("--worker-type", help=f"{WORKER_TYPES}."),
    click.option("--number-of-workers", type=click.IntRange(min=1)),
    click.option(
        "--connection",
        "connections",
        multiple=True,
        metavar="NAME",
        help="A catalog connection (brings the subnet and security group). Repeatable; "
        "replaces them all.",
    ),
    click.option("--description", help="What the job does."),
    click.option(
        "--notify-delay-after",
        type=click.IntRange(min=1),
        metavar="MINUTES",
        help="A run still running this long after it started becomes a DELAYED run event "
        "(Glue's NotificationProperty).",
    ),
)


@click.group()
def jobs() -> None:
    """Jobs: PySpark or Python scripts run on Ray, and their runs."""


jobs.add_command(bookmark)


@jobs.command("create")
@click.argument("name", required=False)
@_job_flags
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@pass_cli
def create(
    cli: CliContext,
    name: str | None,
    input_file: IO[str] | None,
    script_file: Path | None,
    tags: tuple[str, ...],
    **flags: Any,
) -> None:
    """Create job NAME, from flags or from a job file.

    \b
    Examples:
      sluice jobs create daily --script daily.py --role etl --arg input=file:///data/in
      sluice jobs create -f daily.yaml --number-of-workers 4
    """
    document = load_input(input_file, jobs_pb2.CreateJobRequest) if input_file is not None else {}
    source = input_file.name if input_file is not None else "arguments"
    data = _overlay_flags(document, source, name=name, tags=tags, **flags)
    request = message_from(_with_command(data), jobs_pb2.CreateJobRequest, source=source)
    if not request.name:
        raise click.UsageError("give the job's NAME, or a job file that names it")
    _check_script(
        script_file,
        request.command.script_location,
        flags["script_location"],
        visual=bool(request.code_gen_configuration_nodes),
    )
    if script_file is not None:
        _check_absent(cli, request.name)
        request.command.script_location = _upload(cli, request.name, script_file)
    cli.jobs.create(request)
    emit_done(cli, f"Created job {request.name}.")


@jobs.command("get")
@click.argument("name")
@pass_cli
def get(cli: CliContext, name: str) -> None:
    """Show job NAME."""
    emit_one(cli, cli.jobs.get(name), FIELDS)


@jobs.command("list")
@click.option(
    "--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only jobs with this tag. Repeatable."
)
@pass_cli
def list_(cli: CliContext, tags: tuple[str, ...]) -> None:
    """List the jobs."""
    wanted = key_values(tags, option="--tag")
    if not wanted:
        emit_list(cli, cli.jobs.get_many(), COLUMNS)
        return
    emit_list(cli, (cli.jobs.get(name) for name in cli.jobs.list(tags=wanted)), COLUMNS)


@jobs.command("update")
@click.argument("name")
@_job_flags
@pass_cli
def update(
    cli: CliContext,
    name: str,
    input_file: IO[str] | None,
    script_file: Path | None,
    **flags: Any,
) -> None:
    """Update job NAME.

    With a job file, the file is the new definition (its name and tags are ignored);
    otherwise the flags change the current one (arguments are merged).
    """
    if input_file is not None:
        document = load_input(input_file, types_pb2.JobUpdate)
        source = input_file.name
    else:
        document = input_fields(cli.jobs.get(name), types_pb2.JobUpdate)
        source = "arguments"
    data = _overlay_flags(document, source, name=None, tags=(), **flags)
    job_update = message_from(_with_command(data), types_pb2.JobUpdate, source=source)
    _check_script(
        script_file,
        job_update.command.script_location,
        flags["script_location"],
        visual=bool(job_update.code_gen_configuration_nodes),
    )
    if script_file is not None:
        job_update.command.script_location = _upload(cli, name, script_file)
    cli.jobs.update(name, job_update)
    emit_done(cli, f"Updated job {name}.")


@jobs.command("delete")
@click.argument("name")
@pass_cli
def delete(cli: CliContext, name: str) -> None:
    """Delete job NAME and its finished runs; its active runs are stopped."""
    cli.jobs.delete(name)
    emit_done(cli, f"Deleted job {name}.")


@jobs.command("run")
@click.argument("name")
@_argument_option("--arg", "arguments", "An argument of this run, over the job's defaults.")
@click.option(
    "--timeout", "timeout_min", type=click.IntRange(min=1), help="Minutes; the job's by default."
)
@click.option("--worker-type", help=f"{WORKER_TYPES}; the job's by default.")
@click.option("--number-of-workers", type=click.IntRange(min=1), help="The job's by default.")
@click.option(
    "--queue/--no-queue",
    "queuing",
    default=None,
    help="With no room for the run, wait in the account's queue (WAITING) rather than fail; "
    "the job's job_run_queuing_enabled by default.",
)
@click.option(
    "--notify-delay-after",
    type=click.IntRange(min=1),
    metavar="MINUTES",
    help="A DELAYED run event if the run is still running this long after it started; the "
    "job's notification_property by default.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="Wait for the run to end, show its output, and exit 0 only if it succeeded.",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="With --wait: give up waiting after this long (the run goes on).",
)
@pass_cli
def run(
    cli: CliContext,
    name: str,
    arguments: tuple[str, ...],
    timeout_min: int | None,
    worker_type: str | None,
    number_of_workers: int | None,
    queuing: bool | None,
    notify_delay_after: int | None,
    wait: bool,
    wait_timeout: float | None,
) -> None:
    """Start a run of job NAME and print its id; with --wait, follow it to its end.

    With --wait on a terminal, the run's state is shown live, then its stdout and stderr;
    otherwise (or with -o json) the finished run is printed. Exit code with --wait: 0
    SUCCEEDED, 4 FAILED or ERROR, 5 TIMEOUT, 6 STOPPED, 7 --wait-timeout passed.
    """
    run_id = cli.jobs.start_run(
        name,
        glue_arguments(arguments, option="--arg"),
        timeout=timeout_min,
        worker_type=worker_type,
        number_of_workers=number_of_workers,
        job_run_queuing_enabled=queuing,
        notify_delay_after=notify_delay_after,
    )
    if not wait:
        if cli.output is OutputFormat.JSON:
            click.echo(json.dumps({"job_name": name, "job_run_id": run_id}))
        else:
            click.echo(run_id)
        return
    runs.follow_run(cli, name, run_id, wait_timeout=wait_timeout)


def glue_arguments(pairs_: tuple[str, ...], *, option: str) -> dict[str, str]:
    """Run arguments from KEY=VALUE flags; keys look like --name, as Glue's."""
    return {
        key if key.startswith("--") else f"--{key}": value
        for key, value in key_values(pairs_, option=option).items()
    }


def _with_command(data: dict[str, Any]) -> dict[str, Any]:
    """The job's fields with its command's name defaulted, as Glue's console does."""
    command = data.get("command")
    if command is None:
        return {**data, "command": {"name": DEFAULT_COMMAND}}
    if isinstance(command, Mapping) and not command.get("name"):
        return {**data, "command": {**command, "name": DEFAULT_COMMAND}}
    return data


def _check_script(
    script_file: Path | None, location: str, location_flag: str | None, *, visual: bool
) -> None:
    if script_file is not None and location_flag is not None:
        raise click.UsageError("give --script or --script-location, not both")
    if visual:
        # The server generates the script of a visual job from its nodes.
        if script_file is not None:
            raise click.UsageError(
                "a job with CodeGenConfigurationNodes has a generated script: no --script"
            )
        return
    if script_file is None and not location:
        raise click.UsageError("give the job's script: --script FILE or --script-location LOC")


def _check_absent(cli: CliContext, name: str) -> None:
    # Before an upload that would replace the script of an existing job of that name.
    try:
        cli.jobs.get(name)
    except EntityNotFound:
        return
    raise AlreadyExists(f"Job {name} already exists")


def _upload(cli: CliContext, job_name: str, path: Path) -> str:
    script_name = job_name if job_name.endswith(".py") else f"{job_name}.py"
    return cli.jobs.upload_script(script_name, path=path)


def _overlay_flags(
    document: Any,
    source: str,
    *,
    name: str | None,
    tags: tuple[str, ...],
    script_location: str | None,
    role: str | None,
    command_name: str | None,
    arguments: tuple[str, ...],
    non_overridable: tuple[str, ...],
    max_retries: int | None,
    timeout_min: int | None,
    max_concurrent_runs: int | None,
    worker_type: str | None,
    number_of_workers: int | None,
    connections: tuple[str, ...],
    description: str | None,
    notify_delay_after: int | None,
) -> dict[str, Any]:
    if isinstance(document, Mapping) and isinstance(document.get("connections"), list):
        # A job file may list connections plainly instead of as {connections: [...]}.
        document = {**document, "connections": {"connections": document["connections"]}}
    command = {
        key: value
        for key, value in (("name", command_name), ("script_location", script_location))
        if value is not None
    }
    return overlay(
        document,
        source=source,
        what="job",
        name=name,
        description=description,
        role=role,
        command=command or None,
        default_arguments=glue_arguments(arguments, option="--arg") or None,
        non_overridable_arguments=(
            glue_arguments(non_overridable, option="--non-overridable-arg") or None
        ),
        max_retries=max_retries,
        timeout=timeout_min,
        execution_property=(
            None if max_concurrent_runs is None else {"max_concurrent_runs": max_concurrent_runs}
        ),
        worker_type=worker_type,
        number_of_workers=number_of_workers,
        connections={"connections": list(connections)} if connections else None,
        tags=key_values(tags, option="--tag") or None,
        notification_property=(
            None if notify_delay_after is None else {"notify_delay_after": notify_delay_after}
        ),
    )
