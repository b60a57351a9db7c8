"""`sluice principals`: create, get, list, update and delete the principals that call Sluice."""

from __future__ import annotations

import click

from sluice.sdk.cli.context import CliContext, pass_cli
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, timestamp
from sluice.sdk.iam import IamClient

COLUMNS = (
    Column("NAME", lambda p: p.name),
    Column("ROLES", lambda p: ", ".join(p.roles)),
    Column("OPERATOR", lambda p: "yes" if p.operator else ""),
    Column("CERTIFICATE SUBJECT", lambda p: p.certificate_subject),
    Column("CREATED", lambda p: timestamp(p.created_on)),
)
FIELDS = (
    Column("Name", lambda p: p.name),
    Column("Id", lambda p: p.id),
    Column("Account", lambda p: p.account),
    Column("Roles", lambda p: ", ".join(p.roles)),
    Column("Description", lambda p: p.description),
    Column("Operator", lambda p: "yes" if p.operator else "no"),
    Column("Certificate subject", lambda p: p.certificate_subject),
    Column("Job run", lambda p: p.run_id),
    Column("Created", lambda p: timestamp(p.created_on)),
    Column("Updated", lambda p: timestamp(p.last_modified_on)),
)

account_option = click.option(
    "--account",
    default=None,
    help="The account to work in (only an operator may name another); --catalog-id by default.",
)


def iam(cli: CliContext) -> IamClient:
    """The IAM part of the client, connecting it on first use."""
    return cli.client.iam


@click.group()
def principals() -> None:
    """Principals: the users, programs and operators that call Sluice."""


@principals.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, metavar="ROLE", help="A role it holds. Repeatable.")
@click.option("--description", default="", help="Who or what it is.")
@click.option("--operator", is_flag=True, help="May act in every account (operators only).")
@click.option(
    "--certificate-subject",
    default="",
    help="A client certificate with this subject CN authenticates as it (mutual TLS).",
)
@account_option
@pass_cli
def create(
    cli: CliContext,
    name: str,
    roles: tuple[str, ...],
    description: str,
    operator: bool,
    certificate_subject: str,
    account: str | None,
) -> None:
    """Create principal NAME.

    \b
    Examples:
      sluice principals create alice --role analyst --description "Alice, data team"
      sluice tokens create alice --expires-in 30d
    """
    principal = iam(cli).create_principal(
        name,
        roles=roles,
        description=description,
        operator=operator,
        certificate_subject=certificate_subject,
        account=account,
    )
    emit_done(cli, f"Created principal {principal.name}.")


@principals.command("get")
@click.argument("name")
@account_option
@pass_cli
def get(cli: CliContext, name: str, account: str | None) -> None:
    """Show principal NAME."""
    emit_one(cli, iam(cli).get_principal(name, account=account), FIELDS)


@principals.command("list")
@account_option
@pass_cli
def list_(cli: CliContext, account: str | None) -> None:
    """List the principals of the account."""
    emit_list(cli, iam(cli).list_principals(account=account), COLUMNS)


@principals.command("update")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="Its roles: replaces them all. Repeatable.",
)
@click.option("--no-roles", is_flag=True, help="Remove all its roles.")
@click.option("--description", default=None, help="Who or what it is.")
@click.option(
    "--certificate-subject", default=None, help='The client certificate subject CN ("" removes).'
)
@account_option
@pass_cli
def update(
    cli: CliContext,
    name: str,
    roles: tuple[str, ...],
    no_roles: bool,
    description: str | None,
    certificate_subject: str | None,
    account: str | None,
) -> None:
    """Change principal NAME; what is not given stays as it is."""
    if roles and no_roles:
        raise click.UsageError("give --role or --no-roles, not both")
    new_roles = () if no_roles else (roles or None)
    if new_roles is None and description is None and certificate_subject is None:
        raise click.UsageError(
            "nothing to change: give --role, --no-roles, --description or --certificate-subject"
        )
    iam(cli).update_principal(
        name,
        roles=new_roles,
        description=description,
        certificate_subject=certificate_subject,
        account=account,
    )
    emit_done(cli, f"Updated principal {name}.")


@principals.command("delete")
@click.argument("name")
@account_option
@pass_cli
def delete(cli: CliContext, name: str, account: str | None) -> None:
    """Delete principal NAME and all its tokens."""
    iam(cli).delete_principal(name, account=account)
    emit_done(cli, f"Deleted principal {name}.")
