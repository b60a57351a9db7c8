"""`sluice runs`: runs of a job, their logs; and how `sluice jobs run --wait` watches one."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import click

from sluice.jobs.v1 import types_pb2
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.failures import (
    EXIT_INTERRUPTED,
    EXIT_RUN_FAILED,
    EXIT_RUN_STOPPED,
    EXIT_RUN_TIMEOUT,
    EXIT_WAIT_GAVE_UP,
    CommandFailed,
    RunNotSucceeded,
)
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, pairs, timestamp, to_dict
from sluice.sdk.errors import RunWaitTimeout
from sluice.sdk.jobs import RunState, log_stream_name

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

STREAMS = ("stdout", "stderr", "driver")


def state_of(run: types_pb2.JobRun) -> str:
    """The run's state by name, e.g. RUNNING."""
    return RunState.of(run).value


def start_kind(run: types_pb2.JobRun) -> str:
    """'warm' or 'cold' once the run has an environment, else ''."""
    if not run.environment_id:
        return ""
    return "warm" if run.warm_start else "cold"


def _last_line(text: str) -> str:
    # A traceback's last line says what went wrong; the whole of it is in `runs get`.
    lines = text.strip().splitlines()
    return lines[-1].strip() if lines else ""


def _seconds(run: types_pb2.JobRun) -> str:
    return str(run.execution_time) if run.completed_on.seconds else ""


COLUMNS = (
    Column("ID", lambda r: r.id),
    Column("ATTEMPT", lambda r: str(r.attempt)),
    Column("STATE", state_of),
    Column("STARTED", lambda r: timestamp(r.started_on)),
    Column("COMPLETED", lambda r: timestamp(r.completed_on)),
    Column("TIME (S)", _seconds),
    Column("ENVIRONMENT", lambda r: r.environment_id),
    Column("START", start_kind),
    Column("ERROR", lambda r: _last_line(r.error_message)),
)
FIELDS = (
    Column("Id", lambda r: r.id),
    Column("Job", lambda r: r.job_name),
    Column("Attempt", lambda r: str(r.attempt)),
    Column("Previous run", lambda r: r.previous_run_id),
    Column("Trigger", lambda r: r.trigger_name),
    Column("State", state_of),
    Column("Arguments", lambda r: pairs(r.arguments)),
    Column("Started", lambda r: timestamp(r.started_on)),
    Column("Last modified", lambda r: timestamp(r.last_modified_on)),
    Column("Completed", lambda r: timestamp(r.completed_on)),
    Column("Execution time (s)", _seconds),
    Column("Timeout (min)", lambda r: str(r.timeout) if r.timeout else ""),
    Column("Worker type", lambda r: r.worker_type),
    Column("Workers", lambda r: str(r.number_of_workers) if r.number_of_workers else ""),
    Column("Environment", lambda r: r.environment_id),
    Column("Start", start_kind),
    Column("Error", lambda r: r.error_message),
)
STOP_ERROR_COLUMNS = (
    Column("RUN", lambda e: e.job_run_id),
    Column("ERROR", lambda e: e.error_detail.error_code),
    Column("MESSAGE", lambda e: e.error_detail.error_message),
)
LOG_COLUMNS = (
    Column("TIME", lambda e: timestamp(e.timestamp)),
    Column("STREAM", lambda e: log_stream_name(e.stream)),
    Column("MESSAGE", lambda e: e.message),
)


@click.group()
def runs() -> None:
    """Runs of jobs and their logs."""


@runs.command("get")
@click.argument("job")
@click.argument("run_id")
@pass_cli
def get(cli: CliContext, job: str, run_id: str) -> None:
    """Show run RUN_ID of JOB."""
    emit_one(cli, cli.jobs.get_run(job, run_id), FIELDS)


@runs.command("list")
@click.argument("job")
@pass_cli
def list_(cli: CliContext, job: str) -> None:
    """List the runs of JOB, newest first."""
    emit_list(cli, cli.jobs.list_runs(job), COLUMNS)


@runs.command("wait")
@click.argument("job")
@click.argument("run_id")
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Give up waiting after this long (the run goes on).",
)
@pass_cli
def wait(cli: CliContext, job: str, run_id: str, wait_timeout: float | None) -> None:
    """Wait for run RUN_ID of JOB to end (one streaming call, however long it takes), show its
    output, and exit as `sluice jobs run --wait` does: 0 SUCCEEDED, 4 FAILED or ERROR,
    5 TIMEOUT, 6 STOPPED, 7 --wait-timeout passed."""
    follow_run(cli, job, run_id, wait_timeout=wait_timeout)


@runs.command("stop")
@click.argument("job")
@click.argument("run_ids", metavar="RUN_ID...", nargs=-1, required=True)
@pass_cli
def stop(cli: CliContext, job: str, run_ids: tuple[str, ...]) -> None:
    """Stop runs RUN_ID... of JOB: each goes STOPPING, then STOPPED."""
    results = cli.jobs.stop_runs(job, run_ids)
    failed = [
        types_pb2.BatchStopJobRunError(
            job_name=r.job_name,
            job_run_id=r.run_id,
            error_detail=types_pb2.ErrorDetail(
                error_code=r.error_code, error_message=r.error_message
            ),
        )
        for r in results
        if not r.ok
    ]
    if failed:
        emit_list(cli, failed, STOP_ERROR_COLUMNS)
        raise CommandFailed(f"{len(failed)} of {len(results)} runs were not stopped")
    emit_done(cli, "\n".join(f"Stopping run {r.run_id} of {job}." for r in results))


@runs.command("logs")
@click.argument("job")
@click.argument("run_id")
@click.option(
    "--stream",
    type=click.Choice(STREAMS, case_sensitive=False),
    default=None,
    help="Only this stream; every stream when not given.",
)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing new entries until the run ends.",
)
@pass_cli
def logs(cli: CliContext, job: str, run_id: str, stream: str | None, follow: bool) -> None:
    """Print the log of run RUN_ID of JOB: its stdout, stderr and Spark driver log.

    With -o json, a JSON array of entries; with --follow, one JSON object per line.
    """
    if not follow:
        entries = cli.jobs.get_logs(job, run_id, stream=stream)
        if cli.output is OutputFormat.JSON:
            emit_list(cli, entries, LOG_COLUMNS)
        else:
            for entry in entries:
                click.echo(_line(entry))
        return
    with cli.jobs.tail_logs(job, run_id, stream=stream) as tail:
        for entry in tail:
            if cli.output is OutputFormat.JSON:
                click.echo(json.dumps(to_dict(entry), ensure_ascii=False))
            else:
                click.echo(_line(entry))


def _line(entry: types_pb2.LogEntry) -> str:
    return entry.message.removesuffix("\n")


def print_script_output(entries: Iterable[types_pb2.LogEntry]) -> int:
    """A run's stdout to stdout and its stderr to stderr, as if the script ran here; the
    number of lines printed."""
    printed = 0
    for entry in entries:
        if entry.stream == types_pb2.LOG_STREAM_STDOUT:
            click.echo(_line(entry))
        elif entry.stream == types_pb2.LOG_STREAM_STDERR:
            click.echo(_line(entry), err=True)
        else:
            continue
        printed += 1
    return printed


def terminal_console(cli: CliContext) -> Console | None:
    """A console for a live display, or None when output goes to a program or a file."""
    if cli.output is OutputFormat.JSON:
        return None
    from rich.console import Console

    console = Console(highlight=False)
    return console if console.is_terminal else None


def watch_run(
    cli: CliContext,
    job: str,
    run_id: str,
    *,
    timeout_s: float | None,
    console: Console | None,
) -> types_pb2.JobRun:
    """Waits for a run to end; on a console, with a live line of its state until then."""
    if console is None:
        return cli.jobs.wait_for_run(job, run_id, timeout_s=timeout_s)
    from rich.live import Live

    status = _LiveStatus(job, run_id)
    with Live(status, console=console, refresh_per_second=12.5, transient=True):
        run = cli.jobs.wait_for_run(job, run_id, timeout_s=timeout_s, on_change=status.update)
    console.print(status.summary(run))
    return run


_EXIT_CODES = {RunState.TIMEOUT: EXIT_RUN_TIMEOUT, RunState.STOPPED: EXIT_RUN_STOPPED}


def succeeded_or_fail(run: types_pb2.JobRun) -> None:
    """Returns if the run SUCCEEDED; else fails the command with the run's error and the exit
    code of its state (4 FAILED or ERROR, 5 TIMEOUT, 6 STOPPED)."""
    state = RunState.of(run)
    if state is RunState.SUCCEEDED:
        return
    detail = f": {run.error_message}" if run.error_message else ""
    raise RunNotSucceeded(
        f"job run {run.id} of {run.job_name} ended {state}{detail}",
        _EXIT_CODES.get(state, EXIT_RUN_FAILED),
    )


class WaitInterrupted(click.ClickException):
    """Ctrl-C while waiting: the run is not stopped, and the user is told how to."""

    exit_code = EXIT_INTERRUPTED


class WaitGaveUp(click.ClickException):
    """--wait-timeout passed before the run ended; the run goes on."""

    exit_code = EXIT_WAIT_GAVE_UP


def follow_run(cli: CliContext, job: str, run_id: str, *, wait_timeout: float | None) -> None:
    """Waits for a run to end and shows it: on a terminal its state live, else (or with -o json)
    the finished run; then, for people, its stdout and stderr under a heading. Fails the command
    unless the run SUCCEEDED (see `succeeded_or_fail`)."""
    console = terminal_console(cli)
    try:
        finished = watch_run(cli, job, run_id, timeout_s=wait_timeout, console=console)
    except KeyboardInterrupt:
        raise WaitInterrupted(
            f"interrupted; run {run_id} goes on ('sluice runs stop {job} {run_id}' stops it)"
        ) from None
    except RunWaitTimeout as exc:
        raise WaitGaveUp(
            f"{exc.reason}: {exc.message} ('sluice runs get {job} {run_id}' shows it)"
        ) from None
    if console is None:
        emit_one(cli, finished, FIELDS)
    if cli.output is OutputFormat.TABLE:
        click.echo(f"\n--- output of {job} {run_id} (stdout; stderr on stderr) ---")
        if not print_script_output(cli.jobs.get_logs(job, run_id)):
            click.echo("(none)")
    succeeded_or_fail(finished)


class _LiveStatus:
    """What the live display shows: a spinner, the run's state, environment and time."""

    def __init__(self, job: str, run_id: str) -> None:
        from rich.spinner import Spinner

        self._job = job
        self._run_id = run_id
        self._run: types_pb2.JobRun | None = None
        self._since = time.monotonic()
        self._spinner = Spinner("dots", style="cyan")

    def update(self, run: types_pb2.JobRun) -> None:
        self._run = run

    def _describe(self) -> str:
        run = self._run
        parts = [f"{self._job} {self._run_id}"]
        if run is not None:
            parts.append(f"[bold]{state_of(run)}[/]")
            if run.attempt:
                parts.append(f"attempt {run.attempt}")
            if run.environment_id:
                parts.append(f"on {run.environment_id} ({start_kind(run)})")
        parts.append(f"[dim]{time.monotonic() - self._since:.1f} s[/]")
        return "  ".join(parts)

    def __rich__(self) -> RenderableType:
        self._spinner.update(text=self._describe())
        return self._spinner

    def summary(self, run: types_pb2.JobRun) -> str:
        from rich.markup import escape

        state = RunState.of(run)
        mark = "[green]✓[/]" if state is RunState.SUCCEEDED else "[red]✗[/]"
        where = ""
        if run.environment_id:
            where = f" on {escape(run.environment_id)} ({start_kind(run)})"
        took = f" in {time.monotonic() - self._since:.1f} s"
        return f"{mark} {escape(self._job)} {escape(run.id)} [bold]{state}[/]{took}{where}"
