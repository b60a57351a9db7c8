"""`sluice connections`: how jobs and crawlers reach data stores."""

from __future__ import annotations

from typing import IO, Any

import click

from sluice.catalog.v1 import types_pb2
from sluice.sdk.cli.context import CliContext, pass_cli
from sluice.sdk.cli.inputs import input_fields, key_values, load_input, message_from, overlay
from sluice.sdk.cli.options import bundle, input_option
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, pairs, timestamp

COLUMNS = (
    Column("NAME", lambda c: c.name),
    Column("TYPE", lambda c: c.connection_type),
    Column("DESCRIPTION", lambda c: c.description),
    Column("MATCH CRITERIA", lambda c: ", ".join(c.match_criteria)),
    Column("UPDATED", lambda c: timestamp(c.last_updated_time)),
)
FIELDS = (
    Column("Name", lambda c: c.name),
    Column("Catalog", lambda c: c.catalog_id),
    Column("Type", lambda c: c.connection_type),
    Column("Description", lambda c: c.description),
    Column("Match criteria", lambda c: ", ".join(c.match_criteria)),
    Column("Properties", lambda c: pairs(c.connection_properties)),
    Column("Subnet", lambda c: c.physical_connection_requirements.subnet_id),
    Column(
        "Security groups",
        lambda c: ", ".join(c.physical_connection_requirements.security_group_id_list),
    ),
    Column("Availability zone", lambda c: c.physical_connection_requirements.availability_zone),
    Column("Created", lambda c: timestamp(c.creation_time)),
    Column("Updated", lambda c: timestamp(c.last_updated_time)),
    Column("Updated by", lambda c: c.last_updated_by),
)


_connection_flags = bundle(
    input_option("ConnectionInput"),
    click.option("--type", "connection_type", help="JDBC, SFTP, MONGODB, KAFKA, NETWORK, ..."),
    click.option("--description", help="What the connection is for."),
    click.option(
        "--property",
        "properties",
        multiple=True,
        metavar="KEY=VALUE",
        help="A connection property, e.g. JDBC_CONNECTION_URL=jdbc:... Repeatable.",
    ),
    click.option(
        "--match-criteria",
        "match_criteria",
        multiple=True,
        help="A criterion for choosing this connection. Repeatable; replaces them all.",
    ),
)


@click.group()
def connections() -> None:
    """Connections to data stores."""


@connections.command("create")
@click.argument("name", required=False)
@_connection_flags
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@pass_cli
def create(
    cli: CliContext,
    name: str | None,
    input_file: IO[str] | None,
    tags: tuple[str, ...],
    **flags: Any,
) -> None:
    """Create connection NAME, from flags or from an input file.

    \b
    Example:
      sluice connections create warehouse --type JDBC \\
          --property JDBC_CONNECTION_URL=jdbc:postgresql://db:5432/dw --property USERNAME=etl
    """
    document = load_input(input_file, types_pb2.ConnectionInput) if input_file is not None else {}
    source = input_file.name if input_file is not None else "arguments"
    data = _overlay_flags(document, source, name=name, **flags)
    if not data.get("name"):
        raise click.UsageError("give the connection's NAME, or an input file that names it")
    connection_input = message_from(data, types_pb2.ConnectionInput, source=source)
    cli.catalog.create_connection(connection_input, tags=key_values(tags, option="--tag"))
    emit_done(cli, f"Created connection {connection_input.name}.")


@connections.command("get")
@click.argument("name")
@click.option("--show-password", is_flag=True, help="Include the password in the properties.")
@pass_cli
def get(cli: CliContext, name: str, show_password: bool) -> None:
    """Show connection NAME; its password is left out unless asked for."""
    emit_one(cli, cli.catalog.get_connection(name, hide_password=not show_password), FIELDS)


@connections.command("list")
@click.option("--type", "connection_type", default="", help="Only connections of this type.")
@pass_cli
def list_(cli: CliContext, connection_type: str) -> None:
    """List the connections; passwords are left out."""
    found = cli.catalog.get_connections(
        filter=types_pb2.GetConnectionsFilter(connection_type=connection_type),
        hide_password=True,
    )
    emit_list(cli, found, COLUMNS)


@connections.command("update")
@click.argument("name")
@_connection_flags
@pass_cli
def update(cli: CliContext, name: str, input_file: IO[str] | None, **flags: Any) -> None:
    """Update connection NAME.

    With an input file, the file is the new definition; otherwise the flags change the current
    one (properties are merged, so the password is kept).
    """
    if input_file is not None:
        document = load_input(input_file, types_pb2.ConnectionInput)
        source = input_file.name
    else:
        current = cli.catalog.get_connection(name, hide_password=False)
        document = input_fields(current, types_pb2.ConnectionInput)
        source = "arguments"
    data = _overlay_flags(document, source, name=None, **flags)
    data.setdefault("name", name)
    cli.catalog.update_connection(
        name, message_from(data, types_pb2.ConnectionInput, source=source)
    )
    emit_done(cli, f"Updated connection {name}.")


@connections.command("delete")
@click.argument("name")
@pass_cli
def delete(cli: CliContext, name: str) -> None:
    """Delete connection NAME."""
    cli.catalog.delete_connection(name)
    emit_done(cli, f"Deleted connection {name}.")


def _overlay_flags(
    document: object,
    source: str,
    *,
    name: str | None,
    connection_type: str | None,
    description: str | None,
    properties: tuple[str, ...],
    match_criteria: tuple[str, ...],
) -> dict[str, object]:
    return overlay(
        document,
        source=source,
        what="ConnectionInput",
        name=name,
        connection_type=connection_type,
        description=description,
        connection_properties=key_values(properties, option="--property") or None,
        match_criteria=list(match_criteria) or None,
    )
