"""`sluice audit`: the audit trail, as a table, as JSON, or followed as it is recorded."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import click
import grpc

from sluice.audit.v1 import types_pb2
from sluice.sdk.audit import AuditClient, outcome_name
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.output import Column, emit_list, timestamp, to_dict

OUTCOMES = ("success", "failure", "denied")
DEFAULT_LIMIT = 100
# The most events the server returns per call.
MAX_PAGE_SIZE = 1000
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str, now: datetime | None = None) -> datetime:
    """A point in time: a duration ago (30s, 15m, 1h, 2d, 1w) or an ISO 8601 time (UTC when
    it names no zone).

    Raises:
        click.BadParameter: value is neither.
    """
    text = value.strip()
    match = _DURATION.fullmatch(text)
    if match:
        amount, unit = match.groups()
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: float(amount)})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither a duration (30s, 15m, 1h, 2d, 1w) nor an ISO 8601 time"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class TimeParam(click.ParamType):
    """A click parameter of parse_time."""

    name = "TIME"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value))
        except click.BadParameter as error:
            self.fail(error.message, param, ctx)


def principal_of(event: types_pb2.AuditEvent) -> str:
    """Who made the call: the principal's name, else its id, else '-' (not authenticated)."""
    return event.principal_name or event.principal or "-"


def code_of(event: types_pb2.AuditEvent) -> str:
    """The call's gRPC status by name, e.g. OK or NOT_FOUND; '' while it is in flight."""
    if not event.outcome:
        return ""
    for code in grpc.StatusCode:
        if code.value[0] == event.status_code:
            return str(code.name)
    return str(event.status_code)


COLUMNS = (
    Column("TIME", lambda e: timestamp(e.event_time)),
    Column("PRINCIPAL", principal_of),
    Column("ACTION", lambda e: e.action),
    Column("RESOURCE", lambda e: e.resource),
    Column("OUTCOME", lambda e: outcome_name(e.outcome)),
    Column("CODE", code_of),
)


@click.command("audit")
@click.option("--principal", help="Calls by this principal (id or name).")
@click.option("--action", help="An action (glue:GetTable), its name (GetTable) or a glob.")
@click.option("--resource", help="A resource name prefix, or a glob (* and ?).")
@click.option("--outcome", type=click.Choice(OUTCOMES, case_sensitive=False))
@click.option(
    "--since", type=TimeParam(), help="From this time: a duration ago (1h, 2d) or ISO 8601."
)
@click.option("--until", type=TimeParam(), help="Before this time (ISO 8601, or a duration ago).")
@click.option("--account", help="Another account's trail (the operator only).")
@click.option("--trace-id", help="Only the events of this trace (32 hex digits).")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="The most events to show, newest first; 0 for all.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing events as they are recorded.")
@pass_cli
def audit(
    cli: CliContext,
    principal: str | None,
    action: str | None,
    resource: str | None,
    outcome: str | None,
    since: datetime | None,
    until: datetime | None,
    account: str | None,
    trace_id: str | None,
    limit: int,
    follow: bool,
) -> None:
    """Show the audit trail: who called what, on what, and how it ended.

    Every call to the server is recorded, whatever its outcome. A principal sees its own
    account's calls; the operator sees every account's (or one, with --account).

    With --follow, prints events as they are recorded (from --since, or from now) until
    interrupted; with -o json, one JSON object per line.
    """
    client = cli.client.audit
    if follow:
        if until is not None:
            raise click.UsageError("--until cannot be used with --follow")
        _follow(cli, client, principal, action, resource, outcome, since, account, trace_id)
        return
    # One event more than the limit tells whether the listing was cut.
    events = list(
        client.query(
            principal=principal,
            action=action,
            resource=resource,
            outcome=outcome,
            start_time=since,
            end_time=until,
            account=account,
            trace_id=trace_id,
            page_size=min(limit + 1, MAX_PAGE_SIZE) if limit else None,
            limit=limit + 1 if limit else None,
        )
    )
    cut = bool(limit) and len(events) > limit
    emit_list(cli, events[:limit] if cut else events, COLUMNS)
    if cut:
        # On stderr, so that -o json stays one JSON document.
        click.echo(
            f"note: showing the newest {limit} events only, there are more: raise --limit "
            "(0 for all), or narrow the listing with --since/--until or the filters",
            err=True,
        )


def _follow(
    cli: CliContext,
    client: AuditClient,
    principal: str | None,
    action: str | None,
    resource: str | None,
    outcome: str | None,
    since: datetime | None,
    account: str | None,
    trace_id: str | None,
) -> None:
    as_json = cli.output is OutputFormat.JSON
    with client.follow(
        principal=principal,
        action=action,
        resource=resource,
        outcome=outcome,
        start_time=since,
        account=account,
        trace_id=trace_id,
    ) as tail:
        if not as_json:
            click.echo("  ".join(column.header for column in COLUMNS))
        for event in tail:
            if as_json:
                click.echo(json.dumps(to_dict(event), ensure_ascii=False))
            else:
                click.echo("  ".join(column.text(event) or "-" for column in COLUMNS))
