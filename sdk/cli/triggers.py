"""`sluice triggers`: start jobs on a schedule, when other jobs end, on demand, or on events."""

from __future__ import annotations

from typing import IO, Any

import click

from sluice.jobs.v1 import triggers_pb2 as api
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.inputs import key_values, load_input, message_from
from sluice.sdk.cli.jobs import glue_arguments
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, pairs, timestamp
from sluice.sdk.triggers import state_name, trigger_type, type_name

TYPES = ("SCHEDULED", "CONDITIONAL", "ON_DEMAND", "EVENT")
RUN_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
CRAWL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


def _actions(trigger: api.Trigger) -> str:
    return ", ".join(
        f"crawler {a.crawler_name}"
        if a.crawler_name
        else a.job_name + (f" ({pairs(a.arguments)})" if a.arguments else "")
        for a in trigger.actions
    )


def _predicate(trigger: api.Trigger) -> str:
    conditions = trigger.predicate.conditions
    if not conditions:
        return ""
    joined = f" {trigger.predicate.logical or 'AND'} ".join(
        f"crawler {c.crawler_name} {c.crawl_state}" if c.crawler_name else f"{c.job_name} {c.state}"
        for c in conditions
    )
    return joined


def _when(trigger: api.Trigger) -> str:
    if trigger.schedule:
        zone = f" {trigger.schedule_time_zone}" if trigger.schedule_time_zone else ""
        return trigger.schedule + zone
    if trigger.predicate.conditions:
        return _predicate(trigger)
    if trigger.HasField("event_batching_condition"):
        batching = trigger.event_batching_condition
        return f"{batching.batch_size} event(s) or {batching.batch_window} s"
    return ""


COLUMNS = (
    Column("NAME", lambda t: t.name),
    Column("TYPE", lambda t: type_name(t.type)),
    Column("STATE", lambda t: state_name(t.state)),
    Column("WHEN", _when),
    Column("STARTS", _actions),
    Column("NEXT", lambda t: timestamp(t.next_fire_time)),
)
FIELDS = (
    Column("Name", lambda t: t.name),
    Column("Id", lambda t: t.id),
    Column("Type", lambda t: type_name(t.type)),
    Column("State", lambda t: state_name(t.state)),
    Column("Description", lambda t: t.description),
    Column("Schedule", lambda t: t.schedule),
    Column("Time zone", lambda t: t.schedule_time_zone),
    Column("Predicate", _predicate),
    Column(
        "Event batch",
        lambda t: _when(t) if t.HasField("event_batching_condition") else "",
    ),
    Column("Actions", _actions),
    Column("Next fire (UTC)", lambda t: timestamp(t.next_fire_time)),
)


@click.group()
def triggers() -> None:
    """Triggers: start jobs on a schedule, when other jobs end, on demand, or on events."""


def _condition(text: str) -> dict[str, str]:
    job, _, state = text.partition("=")
    if not job or state.upper() not in RUN_STATES:
        raise click.BadParameter(
            f"expected JOB=STATE with STATE one of {', '.join(RUN_STATES)}, not {text!r}",
            param_hint="--when",
        )
    return {"job_name": job, "state": state.upper(), "logical_operator": "EQUALS"}


def _crawl_condition(text: str) -> dict[str, str]:
    crawler, _, state = text.partition("=")
    if not crawler or state.upper() not in CRAWL_STATES:
        raise click.BadParameter(
            f"expected CRAWLER=STATE with STATE one of {', '.join(CRAWL_STATES)}, not {text!r}",
            param_hint="--when-crawler",
        )
    return {"crawler_name": crawler, "crawl_state": state.upper(), "logical_operator": "EQUALS"}


@triggers.command("create")
@click.argument("name", required=False)
@click.option(
    "-f",
    "--from-file",
    "--input",
    "input_file",
    type=click.File("r"),
    help="A JSON or YAML file holding the trigger's fields (Glue's, in snake_case).",
)
@click.option("--type", "type_", type=click.Choice(TYPES, case_sensitive=False))
@click.option("--schedule", help="Glue's cron, e.g. 'cron(15 12 * * ? *)'.")
@click.option("--time-zone", help="IANA time zone of the schedule.  [default: UTC]")
@click.option(
    "--when",
    "conditions",
    multiple=True,
    metavar="JOB=STATE",
    help="A condition of a CONDITIONAL trigger. Repeatable.",
)
@click.option(
    "--when-crawler",
    "crawl_conditions",
    multiple=True,
    metavar="CRAWLER=STATE",
    help="A condition on a crawler's crawl (SUCCEEDED, FAILED, CANCELLED). Repeatable.",
)
@click.option("--any", "any_", is_flag=True, help="Fire when any condition holds (not all).")
@click.option("--batch-size", type=click.IntRange(1, 100), help="EVENT: events per batch.")
@click.option("--batch-window", type=click.IntRange(1, 900), help="EVENT: seconds.  [default: 900]")
@click.option("--job", "jobs", multiple=True, metavar="JOB", help="A job to start. Repeatable.")
@click.option(
    "--crawler",
    "crawlers",
    multiple=True,
    metavar="CRAWLER",
    help="A crawler to start. Repeatable.",
)
@click.option(
    "--arg",
    "arguments",
    multiple=True,
    metavar="KEY=VALUE",
    help="An argument of the runs started. Repeatable.",
)
@click.option("--description")
@click.option(
    "--workflow",
    help="Its workflow: it is its start (ON_DEMAND, SCHEDULED, EVENT) or CONDITIONAL.",
)
@click.option("--start", is_flag=True, help="Activate it at once (not for ON_DEMAND).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@pass_cli
def create(
    cli: CliContext,
    name: str | None,
    input_file: IO[str] | None,
    type_: str | None,
    schedule: str | None,
    time_zone: str | None,
    conditions: tuple[str, ...],
    crawl_conditions: tuple[str, ...],
    any_: bool,
    batch_size: int | None,
    batch_window: int | None,
    jobs: tuple[str, ...],
    crawlers: tuple[str, ...],
    arguments: tuple[str, ...],
    description: str | None,
    workflow: str | None,
    start: bool,
    tags: tuple[str, ...],
) -> None:
    """Create trigger NAME, from flags or from a trigger file.

    \b
    Examples:
      sluice triggers create nightly --type SCHEDULED --schedule 'cron(15 2 * * ? *)' \\
          --job daily --arg day=today --start
      sluice triggers create after-daily --type CONDITIONAL --when daily=SUCCEEDED \\
          --job report --start
      sluice triggers create on-files --type EVENT --batch-size 10 --batch-window 60 --job load
      sluice triggers create crawl-after --type CONDITIONAL --when load=SUCCEEDED \\
          --crawler lake --start
      sluice triggers create after-crawl --type CONDITIONAL --when-crawler lake=SUCCEEDED \\
          --job report --start
    """
    document: dict[str, Any] = (
        dict(load_input(input_file, api.CreateTriggerRequest)) if input_file is not None else {}
    )
    source = input_file.name if input_file is not None else "arguments"
    request = message_from(document, api.CreateTriggerRequest, source=source)
    if name:
        request.name = name
    if not request.name:
        raise click.UsageError("give the trigger's NAME, or a trigger file that names it")
    if type_:
        request.type = trigger_type(type_)
    if not request.type:
        raise click.UsageError("give the trigger's --type")
    if schedule:
        request.schedule = schedule
    if time_zone:
        request.schedule_time_zone = time_zone
    if conditions or crawl_conditions:
        del request.predicate.conditions[:]
        request.predicate.conditions.extend(api.Condition(**_condition(c)) for c in conditions)
        request.predicate.conditions.extend(
            api.Condition(**_crawl_condition(c)) for c in crawl_conditions
        )
    if conditions or crawl_conditions or any_:
        request.predicate.logical = "ANY" if any_ else "AND"
    if batch_size:
        request.event_batching_condition.batch_size = batch_size
    if batch_window:
        request.event_batching_condition.batch_window = batch_window
    run_arguments = glue_arguments(arguments, option="--arg")
    for job in jobs:
        request.actions.append(api.Action(job_name=job, arguments=run_arguments))
    for crawler in crawlers:
        request.actions.append(api.Action(crawler_name=crawler))
    if arguments and not jobs:
        raise click.UsageError("--arg goes with --job")
    if description is not None:
        request.description = description
    if workflow:
        request.workflow_name = workflow
    if start:
        request.start_on_creation = True
    request.tags.update(key_values(tags, option="--tag"))
    cli.client.triggers.create(request)
    emit_done(cli, f"Created trigger {request.name}.")


@triggers.command("get")
@click.argument("name")
@pass_cli
def get(cli: CliContext, name: str) -> None:
    """Show trigger NAME."""
    emit_one(cli, cli.client.triggers.get(name), FIELDS)


@triggers.command("list")
@click.option("--job", "dependent_job", default="", help="Only triggers starting this job.")
@pass_cli
def list_(cli: CliContext, dependent_job: str) -> None:
    """List the triggers."""
    emit_list(cli, cli.client.triggers.get_many(dependent_job_name=dependent_job), COLUMNS)


@triggers.command("update")
@click.argument("name")
@click.option("--schedule")
@click.option("--time-zone")
@click.option("--description")
@click.option("--job", "jobs", multiple=True, metavar="JOB", help="Replaces the actions.")
@click.option("--arg", "arguments", multiple=True, metavar="KEY=VALUE")
@pass_cli
def update(
    cli: CliContext,
    name: str,
    schedule: str | None,
    time_zone: str | None,
    description: str | None,
    jobs: tuple[str, ...],
    arguments: tuple[str, ...],
) -> None:
    """Update trigger NAME: what is given replaces what it has."""
    change = api.TriggerUpdate(
        schedule=schedule or "", schedule_time_zone=time_zone or "", description=description or ""
    )
    run_arguments = glue_arguments(arguments, option="--arg")
    change.actions.extend(api.Action(job_name=job, arguments=run_arguments) for job in jobs)
    cli.client.triggers.update(name, change)
    emit_done(cli, f"Updated trigger {name}.")


@triggers.command("delete")
@click.argument("name")
@pass_cli
def delete(cli: CliContext, name: str) -> None:
    """Delete trigger NAME."""
    cli.client.triggers.delete(name)
    emit_done(cli, f"Deleted trigger {name}.")


@triggers.command("start")
@click.argument("name")
@pass_cli
def start_(cli: CliContext, name: str) -> None:
    """Activate trigger NAME; an ON_DEMAND trigger starts its jobs now."""
    cli.client.triggers.start(name)
    emit_done(cli, f"Started trigger {name}.")


@triggers.command("stop")
@click.argument("name")
@pass_cli
def stop(cli: CliContext, name: str) -> None:
    """Deactivate trigger NAME."""
    cli.client.triggers.stop(name)
    emit_done(cli, f"Stopped trigger {name}.")


@triggers.command("notify")
@click.argument("name")
@pass_cli
def notify(cli: CliContext, name: str) -> None:
    """Send EVENT trigger NAME one event."""
    pending = cli.client.triggers.notify_event(name)
    if cli.output is OutputFormat.JSON:
        click.echo(f'{{"name": "{name}", "pending_events": {pending}}}')
    else:
        click.echo(f"{pending} event(s) pending." if pending else "The trigger fired.")
