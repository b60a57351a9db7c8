"""`sluice access-keys`: make, list and delete the access key pairs principals sign Glue
requests with (boto3, the AWS CLI and Terraform against `sluice server --glue-port`)."""

from __future__ import annotations

import json

import click

from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.output import Column, emit_done, emit_list, timestamp, to_dict
from sluice.sdk.cli.principals import account_option, iam

COLUMNS = (
    Column("ACCESS KEY ID", lambda k: k.access_key_id),
    Column("DESCRIPTION", lambda k: k.description),
    Column("CREATED", lambda k: timestamp(k.created_on)),
)


@click.group("access-keys")
def access_keys() -> None:
    """Access key pairs of principals, for Glue clients (AWS Signature Version 4)."""


@access_keys.command("create")
@click.argument("principal")
@click.option("--description", default="", help="What the key is for.")
@click.option(
    "--access-key-id",
    default="",
    help="Operator only: register this existing pair instead of making a new one (with "
    "--secret-access-key, or SLUICE_SECRET_ACCESS_KEY).",
)
@click.option("--secret-access-key", envvar="SLUICE_SECRET_ACCESS_KEY", default="", hidden=True)
@account_option
@pass_cli
def create(
    cli: CliContext,
    principal: str,
    description: str,
    access_key_id: str,
    secret_access_key: str,
    account: str | None,
) -> None:
    """Make an access key pair for PRINCIPAL; the secret is shown only this once.

    It prints the pair as AWS environment variables:

    \b
      eval $(sluice access-keys create alice)   # AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=…
      aws glue get-databases --endpoint-url http://localhost:PORT
    """
    new = iam(cli).create_access_key(
        principal,
        description=description,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        account=account,
    )
    if cli.output is OutputFormat.JSON:
        payload = {"secret_access_key": new.secret_access_key, "access_key_info": to_dict(new.info)}
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"export AWS_ACCESS_KEY_ID={new.access_key_id}")
    click.echo(f"export AWS_SECRET_ACCESS_KEY={new.secret_access_key}")
    click.echo(
        f"Access key {new.access_key_id} of {new.info.principal_name}. Keep the secret now: it "
        "is not shown again.",
        err=True,
    )


@access_keys.command("list")
@click.argument("principal")
@account_option
@pass_cli
def list_(cli: CliContext, principal: str, account: str | None) -> None:
    """List the access keys of PRINCIPAL (never their secrets)."""
    emit_list(cli, iam(cli).list_access_keys(principal, account=account), COLUMNS)


@access_keys.command("delete")
@click.argument("access_key_id")
@account_option
@pass_cli
def delete(cli: CliContext, access_key_id: str, account: str | None) -> None:
    """Delete access key ACCESS_KEY_ID: requests signed with it are refused from then on."""
    iam(cli).delete_access_key(access_key_id, account=account)
    emit_done(cli, f"Deleted access key {access_key_id}.")
