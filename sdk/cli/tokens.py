"""`sluice tokens`: make, list and revoke the API tokens of principals."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import click
from google.protobuf.timestamp_pb2 import Timestamp

from sluice.iam.v1 import types_pb2
from sluice.sdk.cli import access_keys
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.output import Column, emit_done, emit_list, timestamp, to_dict
from sluice.sdk.cli.principals import account_option, iam

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"([0-9]+)\s*([smhdw]?)")


def token_state(info: types_pb2.TokenInfo, now: datetime | None = None) -> str:
    """active, expired or revoked."""
    if info.HasField("revoked_on"):
        return "revoked"
    moment = now or datetime.now(UTC)
    if info.HasField("expires_on") and info.expires_on.ToDatetime(tzinfo=UTC) <= moment:
        return "expired"
    return "active"


def _expires(value: Timestamp) -> str:
    return timestamp(value) or "never"


COLUMNS = (
    Column("TOKEN ID", lambda t: t.token_id),
    Column("STATE", token_state),
    Column("DESCRIPTION", lambda t: t.description),
    Column("CREATED", lambda t: timestamp(t.created_on)),
    Column("EXPIRES", lambda t: _expires(t.expires_on)),
    Column("REVOKED", lambda t: timestamp(t.revoked_on)),
)


class Duration(click.ParamType):
    """A lifetime: seconds, or a number with s, m, h, d or w (30d, 12h)."""

    name = "DURATION"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            seconds = value
        else:
            match = _DURATION.fullmatch(str(value).strip().lower())
            if match is None:
                self.fail(f"{value!r} is not a duration such as 3600, 90m, 12h or 30d", param, ctx)
            seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
        if seconds <= 0:
            self.fail(f"{value!r} is not a positive duration", param, ctx)
        return seconds


@click.group()
def tokens() -> None:
    """API tokens of principals (sent as `authorization: Bearer …`, SLUICE_TOKEN)."""


@tokens.command("create")
@click.argument("principal")
@click.option(
    "--expires-in",
    type=Duration(),
    default=None,
    help="Lifetime: SECONDS, or e.g. 90m, 12h, 30d.  [default: never expires]",
)
@click.option("--description", default="", help="What the token is for.")
@click.option(
    "--aws",
    is_flag=True,
    help="Make an access key pair for Glue clients instead (same as `sluice access-keys create`).",
)
@account_option
@pass_cli
def create(
    cli: CliContext,
    principal: str,
    expires_in: int | None,
    description: str,
    aws: bool,
    account: str | None,
) -> None:
    """Make an API token for PRINCIPAL and print it: it is shown only this once.

    The token alone goes to stdout, so it can be captured:

    \b
      export SLUICE_TOKEN=$(sluice tokens create alice --expires-in 30d)
    """
    if aws:
        if expires_in is not None:
            raise click.UsageError("access keys do not expire: --aws takes no --expires-in")
        ctx = click.get_current_context()
        ctx.invoke(
            access_keys.create, principal=principal, description=description, account=account
        )
        return
    new = iam(cli).create_token(
        principal, expires_in=expires_in, description=description, account=account
    )
    if cli.output is OutputFormat.JSON:
        click.echo(json.dumps({"token": new.token, "token_info": to_dict(new.info)}, indent=2))
        return
    click.echo(new.token)
    click.echo(
        f"Token {new.info.token_id} of {new.info.principal_name}, expires "
        f"{_expires(new.info.expires_on)}. Keep it now: it is not shown again.",
        err=True,
    )


@tokens.command("list")
@click.argument("principal")
@account_option
@pass_cli
def list_(cli: CliContext, principal: str, account: str | None) -> None:
    """List the tokens of PRINCIPAL (never their secrets)."""
    emit_list(cli, iam(cli).list_tokens(principal, account=account), COLUMNS)


@tokens.command("revoke")
@click.argument("token_id")
@account_option
@pass_cli
def revoke(cli: CliContext, token_id: str, account: str | None) -> None:
    """Revoke token TOKEN_ID: it is refused from the next call on."""
    iam(cli).revoke_token(token_id, account=account)
    emit_done(cli, f"Revoked token {token_id}.")
