"""`sluice notifications`: run events (listed or followed) and the account's webhook."""

from __future__ import annotations

import json

import click

from sluice.jobs.v1 import notifications_pb2
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, timestamp, to_dict
from sluice.sdk.jobs.states import RunState
from sluice.sdk.notifications import kind_name

COLUMNS = (
    Column("ID", lambda e: str(e.id)),
    Column("TIME", lambda e: timestamp(e.created_on)),
    Column("KIND", lambda e: kind_name(e.kind)),
    Column("JOB", lambda e: e.job_name),
    Column("RUN", lambda e: e.run_id),
    Column("STATE", lambda e: str(RunState.of(e.job_run_state))),
    Column("MESSAGE", lambda e: e.message),
)
WEBHOOK_FIELDS = (
    Column("URL", lambda w: w.url),
    Column("Last modified", lambda w: timestamp(w.last_modified_on)),
)
SECRET_ENV = "SLUICE_WEBHOOK_SECRET"


@click.group("notifications")
def notifications() -> None:
    """Run events (a run still running after its notify_delay_after minutes, or ending FAILED,
    TIMEOUT or ERROR) and the account's webhook."""


@notifications.command("list")
@click.option("--after", "after_event_id", type=click.IntRange(min=0), default=0, help="Event id.")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=100, show_default=True)
@pass_cli
def list_(cli: CliContext, after_event_id: int, limit: int) -> None:
    """List the account's run events, oldest first."""
    events = cli.client.notifications.events(after_event_id=after_event_id, max_results=limit)
    emit_list(cli, events, COLUMNS)


@notifications.command("watch")
@click.option(
    "--after",
    "after_event_id",
    type=click.IntRange(min=0),
    default=0,
    help="Start after this event id.  [default: with events from now on]",
)
@pass_cli
def watch(cli: CliContext, after_event_id: int) -> None:
    """Print run events as they happen, until interrupted (-o json: one object a line)."""
    as_json = cli.output is OutputFormat.JSON
    with cli.client.notifications.watch_events(after_event_id=after_event_id) as events:
        for event in events:
            if as_json:
                click.echo(json.dumps(to_dict(event), ensure_ascii=False))
            else:
                click.echo("  ".join(column.text(event) or "-" for column in COLUMNS))


@notifications.group("webhook")
def webhook() -> None:
    """The account's webhook: every run event POSTed as JSON, signed with HMAC-SHA256."""


@webhook.command("set")
@click.argument("url")
@click.option(
    "--secret",
    envvar=SECRET_ENV,
    prompt=True,
    hide_input=True,
    help=f"The signing key, at least 16 characters (or ${SECRET_ENV}; prompted for if unset).",
)
@pass_cli
def set_(cli: CliContext, url: str, secret: str) -> None:
    """Post the account's run events to URL (replaces its webhook)."""
    made = cli.client.notifications.put_webhook(url, secret)
    emit_done(cli, f"Run events are posted to {made.url}.")


@webhook.command("get")
@pass_cli
def get(cli: CliContext) -> None:
    """Show the account's webhook (never its secret)."""
    hook: notifications_pb2.Webhook = cli.client.notifications.get_webhook()
    emit_one(cli, hook, WEBHOOK_FIELDS)


@webhook.command("delete")
@pass_cli
def delete(cli: CliContext) -> None:
    """Stop posting run events (pending deliveries are dropped)."""
    cli.client.notifications.delete_webhook()
    emit_done(cli, "Deleted the webhook.")
