"""`sluice policies`: put, get, list and delete the policies attached to roles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import click

from sluice.iam.v1 import types_pb2
from sluice.sdk.cli.context import CliContext, pass_cli
from sluice.sdk.cli.failures import InputFileError
from sluice.sdk.cli.inputs import input_document, load_document
from sluice.sdk.cli.output import Column, Section, emit_done, emit_list, emit_one, timestamp
from sluice.sdk.cli.principals import account_option, iam
from sluice.sdk.iam import effect_name, statement_message

_FILE_FIELDS = ("name", "description", "roles", "statements")
# What `policies get -o json` prints besides: set by the server, ignored in a policy file.
_SET_BY_SERVER = ("account", "created_on", "last_modified_on")

COLUMNS = (
    Column("NAME", lambda p: p.name),
    Column("ROLES", lambda p: ", ".join(p.roles)),
    Column("STATEMENTS", lambda p: str(len(p.statements))),
    Column("DESCRIPTION", lambda p: p.description),
    Column("UPDATED", lambda p: timestamp(p.last_modified_on)),
)
FIELDS = (
    Column("Name", lambda p: p.name),
    Column("Account", lambda p: p.account),
    Column("Description", lambda p: p.description),
    Column("Roles", lambda p: ", ".join(p.roles)),
    Column("Created", lambda p: timestamp(p.created_on)),
    Column("Updated", lambda p: timestamp(p.last_modified_on)),
)
_STATEMENT_COLUMNS = (
    Column("EFFECT", lambda s: effect_name(s.effect)),
    Column("ACTIONS", lambda s: ", ".join(s.actions)),
    Column("RESOURCES", lambda s: ", ".join(s.resources)),
)
SECTIONS = (Section("Statements", _STATEMENT_COLUMNS, lambda p: p.statements),)


def statement_flag(effect: str, text: str, *, option: str) -> types_pb2.Statement:
    """A statement from ACTIONS=RESOURCES, each a comma-separated list.

    Raises:
        click.BadParameter: The text is not of that form.
    """
    actions, sep, resources = text.partition("=")
    action_list = [a.strip() for a in actions.split(",") if a.strip()]
    resource_list = [r.strip() for r in resources.split(",") if r.strip()]
    if not sep or not action_list or not resource_list:
        raise click.BadParameter(
            f"expected ACTIONS=RESOURCES (e.g. 'glue:Get*=table/sales/*'), not {text!r}",
            param_hint=option,
        )
    return types_pb2.Statement(
        effect=types_pb2.Effect.Value(f"EFFECT_{effect.upper()}"),
        actions=action_list,
        resources=resource_list,
    )


def _policy_file(stream: IO[str]) -> dict[str, Any]:
    """name, description, roles and statements from a policy file."""
    document = load_document(stream)
    source = getattr(stream, "name", "<input>")
    if not isinstance(document, Mapping):
        raise InputFileError(f"{source}: expected a mapping with {', '.join(_FILE_FIELDS)}")
    document = input_document(document, types_pb2.Policy, source=source)
    document = {k: v for k, v in document.items() if k not in _SET_BY_SERVER}
    unknown = sorted(set(document) - set(_FILE_FIELDS))
    if unknown:
        raise InputFileError(
            f"{source}: unknown field {unknown[0]!r}; a policy has {', '.join(_FILE_FIELDS)}"
        )
    statements = document.get("statements")
    statements = [] if statements is None else statements
    roles = document.get("roles")
    roles = [] if roles is None else roles
    if not isinstance(statements, list) or not isinstance(roles, list):
        raise InputFileError(f"{source}: roles and statements must be lists")
    try:
        messages = [
            statement_message(item, what=f"statements[{i}]") for i, item in enumerate(statements)
        ]
    except (TypeError, ValueError) as exc:
        raise InputFileError(f"{source}: {exc}") from None
    return {
        "name": str(document.get("name") or ""),
        "description": str(document.get("description") or ""),
        "roles": [str(role) for role in roles],
        "statements": messages,
    }


@click.group()
def policies() -> None:
    """Policies: which actions the holders of a role may do on which resources."""


@policies.command("put")
@click.argument("name", required=False)
@click.option(
    "-f",
    "--input",
    "input_file",
    type=click.File("r"),
    help="A JSON or YAML policy (name, description, roles, statements); flags add to it.",
)
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="A role it is attached to. Repeatable; replaces the file's roles.",
)
@click.option(
    "--allow",
    "allows",
    multiple=True,
    metavar="ACTIONS=RESOURCES",
    help="Allow actions on resources, e.g. 'glue:Get*=table/sales/*'. Repeatable.",
)
@click.option(
    "--deny",
    "denies",
    multiple=True,
    metavar="ACTIONS=RESOURCES",
    help="Deny actions on resources; a deny wins over any allow. Repeatable.",
)
@click.option("--description", default=None, help="What the policy is for.")
@account_option
@pass_cli
def put(
    cli: CliContext,
    name: str | None,
    input_file: IO[str] | None,
    roles: tuple[str, ...],
    allows: tuple[str, ...],
    denies: tuple[str, ...],
    description: str | None,
    account: str | None,
) -> None:
    """Create policy NAME, or replace it.

    \b
    Examples:
      sluice policies put readers --role analyst --allow "glue:Get*,glue:SearchTables=*"
      sluice policies put sales --role etl --allow "glue:*=table/sales/*" \\
          --deny "glue:Delete*=*"
      sluice policies put -f readers.yaml
    """
    data: dict[str, Any] = (
        _policy_file(input_file)
        if input_file is not None
        else {"name": "", "description": "", "roles": [], "statements": []}
    )
    policy_name = name or data["name"]
    if not policy_name:
        raise click.UsageError("give the policy's NAME, or a policy file that names it")
    statements = [
        *data["statements"],
        *(statement_flag("allow", text, option="--allow") for text in allows),
        *(statement_flag("deny", text, option="--deny") for text in denies),
    ]
    if not statements:
        raise click.UsageError("a policy needs at least one statement: --allow, --deny or -f")
    policy = iam(cli).put_policy(
        policy_name,
        statements,
        roles=list(roles) or data["roles"],
        description=data["description"] if description is None else description,
        account=account,
    )
    emit_done(cli, f"Put policy {policy.name}.")


@policies.command("get")
@click.argument("name")
@account_option
@pass_cli
def get(cli: CliContext, name: str, account: str | None) -> None:
    """Show policy NAME and its statements."""
    emit_one(cli, iam(cli).get_policy(name, account=account), FIELDS, SECTIONS)


@policies.command("list")
@click.option("--role", default=None, help="Only the policies attached to this role.")
@account_option
@pass_cli
def list_(cli: CliContext, role: str | None, account: str | None) -> None:
    """List the policies of the account."""
    emit_list(cli, iam(cli).list_policies(role=role, account=account), COLUMNS)


@policies.command("delete")
@click.argument("name")
@account_option
@pass_cli
def delete(cli: CliContext, name: str, account: str | None) -> None:
    """Delete policy NAME."""
    iam(cli).delete_policy(name, account=account)
    emit_done(cli, f"Deleted policy {name}.")
