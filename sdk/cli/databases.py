"""`sluice databases`: create, get, list, update and delete databases."""

from __future__ import annotations

from typing import IO

import click

from sluice.catalog.v1 import types_pb2
from sluice.sdk.cli.context import CliContext, pass_cli
from sluice.sdk.cli.inputs import key_values, load_input, message_from, overlay
from sluice.sdk.cli.options import bundle, input_option, parameter_option
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, pairs, timestamp

COLUMNS = (
    Column("NAME", lambda d: d.name),
    Column("DESCRIPTION", lambda d: d.description),
    Column("LOCATION", lambda d: d.location_uri),
    Column("CREATED", lambda d: timestamp(d.create_time)),
)
FIELDS = (
    Column("Name", lambda d: d.name),
    Column("Catalog", lambda d: d.catalog_id),
    Column("Description", lambda d: d.description),
    Column("Location", lambda d: d.location_uri),
    Column("Parameters", lambda d: pairs(d.parameters)),
    Column("Created", lambda d: timestamp(d.create_time)),
)

_database_flags = bundle(
    input_option("DatabaseInput"),
    click.option("--description", help="What the database holds."),
    click.option("--location-uri", help="Where its data lives, e.g. s3://bucket/."),
    parameter_option(),
)


@click.group()
def databases() -> None:
    """Databases of the Data Catalog."""


@databases.command("create")
@click.argument("name", required=False)
@_database_flags
@pass_cli
def create(
    cli: CliContext,
    name: str | None,
    input_file: IO[str] | None,
    description: str | None,
    location_uri: str | None,
    parameters: tuple[str, ...],
) -> None:
    """Create database NAME, from flags or from an input file."""
    document = load_input(input_file, types_pb2.DatabaseInput) if input_file is not None else {}
    source = input_file.name if input_file is not None else "arguments"
    data = overlay(
        document,
        source=source,
        what="DatabaseInput",
        name=name,
        description=description,
        location_uri=location_uri,
        parameters=key_values(parameters, option="--parameter") or None,
    )
    if not data.get("name"):
        raise click.UsageError("give the database's NAME, or an input file that names it")
    database_input = message_from(data, types_pb2.DatabaseInput, source=source)
    cli.catalog.create_database(database_input)
    emit_done(cli, f"Created database {database_input.name}.")


@databases.command("get")
@click.argument("name")
@pass_cli
def get(cli: CliContext, name: str) -> None:
    """Show database NAME."""
    emit_one(cli, cli.catalog.get_database(name), FIELDS)


@databases.command("list")
@pass_cli
def list_(cli: CliContext) -> None:
    """List the databases."""
    emit_list(cli, cli.catalog.get_databases(), COLUMNS)


@databases.command("update")
@click.argument("name")
@_database_flags
@pass_cli
def update(
    cli: CliContext,
    name: str,
    input_file: IO[str] | None,
    description: str | None,
    location_uri: str | None,
    parameters: tuple[str, ...],
) -> None:
    """Update database NAME.

    With an input file, the file is the new definition; otherwise the flags change the
    current one.
    """
    if input_file is not None:
        document = load_input(input_file, types_pb2.DatabaseInput)
        source = input_file.name
    else:
        current = cli.catalog.get_database(name)
        document = {
            "name": current.name,
            "description": current.description,
            "location_uri": current.location_uri,
            "parameters": dict(current.parameters),
        }
        source = "arguments"
    data = overlay(
        document,
        source=source,
        what="DatabaseInput",
        description=description,
        location_uri=location_uri,
        parameters=key_values(parameters, option="--parameter") or None,
    )
    data.setdefault("name", name)
    cli.catalog.update_database(name, message_from(data, types_pb2.DatabaseInput, source=source))
    emit_done(cli, f"Updated database {name}.")


@databases.command("delete")
@click.argument("name")
@pass_cli
def delete(cli: CliContext, name: str) -> None:
    """Delete database NAME with its tables, partitions and functions."""
    cli.catalog.delete_database(name)
    emit_done(cli, f"Deleted database {name}.")
