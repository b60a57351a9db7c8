"""`sluice tables`: tables of a database, their versions, and search across databases."""

from __future__ import annotations

from typing import IO

import click

from sluice.catalog.v1 import types_pb2
from sluice.sdk.cli.context import CliContext, pass_cli
from sluice.sdk.cli.failures import CommandFailed
from sluice.sdk.cli.inputs import (
    columns,
    input_fields,
    key_values,
    load_input,
    message_from,
    overlay,
)
from sluice.sdk.cli.options import bundle, input_option, parameter_option
from sluice.sdk.cli.output import Column, Section, emit_done, emit_list, emit_one, pairs, timestamp

COLUMNS = (
    Column("NAME", lambda t: t.name),
    Column("DATABASE", lambda t: t.database_name),
    Column("TYPE", lambda t: t.table_type),
    Column("COLUMNS", lambda t: str(len(t.storage_descriptor.columns))),
    Column("PARTITION KEYS", lambda t: ", ".join(k.name for k in t.partition_keys)),
    Column("LOCATION", lambda t: t.storage_descriptor.location),
    Column("VERSION", lambda t: t.version_id),
    Column("UPDATED", lambda t: timestamp(t.update_time)),
)
FIELDS = (
    Column("Name", lambda t: t.name),
    Column("Database", lambda t: t.database_name),
    Column("Catalog", lambda t: t.catalog_id),
    Column("Description", lambda t: t.description),
    Column("Owner", lambda t: t.owner),
    Column("Type", lambda t: t.table_type),
    Column("Location", lambda t: t.storage_descriptor.location),
    Column("Input format", lambda t: t.storage_descriptor.input_format),
    Column("Output format", lambda t: t.storage_descriptor.output_format),
    Column("SerDe", lambda t: t.storage_descriptor.serde_info.serialization_library),
    Column("Parameters", lambda t: pairs(t.parameters)),
    Column("Version", lambda t: t.version_id),
    Column("Created", lambda t: timestamp(t.create_time)),
    Column("Updated", lambda t: timestamp(t.update_time)),
)
_SCHEMA_COLUMNS = (
    Column("NAME", lambda c: c.name),
    Column("TYPE", lambda c: c.type),
    Column("COMMENT", lambda c: c.comment),
)
SECTIONS = (
    Section("Columns", _SCHEMA_COLUMNS, lambda t: t.storage_descriptor.columns),
    Section("Partition keys", _SCHEMA_COLUMNS, lambda t: t.partition_keys),
)
VERSION_COLUMNS = (
    Column("VERSION", lambda v: v.version_id),
    Column("UPDATED", lambda v: timestamp(v.table.update_time)),
    Column(
        "COLUMNS",
        lambda v: ", ".join(f"{c.name}:{c.type}" for c in v.table.storage_descriptor.columns),
    ),
    Column("LOCATION", lambda v: v.table.storage_descriptor.location),
    Column("DESCRIPTION", lambda v: v.table.description),
)
ERROR_COLUMNS = (
    Column("TABLE", lambda e: e.table_name),
    Column("ERROR", lambda e: e.error_detail.error_code),
    Column("MESSAGE", lambda e: e.error_detail.error_message),
)

_SORT_DIRECTIONS = {
    "asc": types_pb2.SORT_DIRECTION_ASCENDING,
    "desc": types_pb2.SORT_DIRECTION_DESCENDING,
}


_table_flags = bundle(
    input_option("TableInput"),
    click.option("--description", help="What the table holds."),
    click.option("--owner", help="Who owns the table."),
    click.option("--table-type", help="EXTERNAL_TABLE, MANAGED_TABLE, VIRTUAL_VIEW, ..."),
    click.option("--location", help="Where its data lives, e.g. s3://bucket/orders/."),
    click.option(
        "--column",
        "column_specs",
        multiple=True,
        metavar="NAME:TYPE",
        help="A column of the table, e.g. id:bigint. Repeatable; replaces the columns.",
    ),
    click.option(
        "--partition-key",
        "partition_key_specs",
        multiple=True,
        metavar="NAME:TYPE",
        help="A partition key, e.g. dt:string. Repeatable; replaces the keys.",
    ),
    parameter_option(),
)


@click.group()
def tables() -> None:
    """Tables of the Data Catalog and their versions."""


@tables.command("create")
@click.argument("database")
@click.argument("name", required=False)
@_table_flags
@pass_cli
def create(
    cli: CliContext,
    database: str,
    name: str | None,
    input_file: IO[str] | None,
    **flags: str | tuple[str, ...] | None,
) -> None:
    """Create a table in DATABASE, from an input file or from flags.

    \b
    Examples:
      sluice tables create sales -f orders.yaml
      sluice tables create sales orders --column id:bigint --partition-key dt:string \\
          --location s3://bucket/orders/ --table-type EXTERNAL_TABLE
    """
    document = load_input(input_file, types_pb2.TableInput) if input_file is not None else {}
    source = input_file.name if input_file is not None else "arguments"
    data = _overlay_flags(document, source, name=name, **flags)
    if not data.get("name"):
        raise click.UsageError("give the table's NAME, or an input file that names it")
    table_input = message_from(data, types_pb2.TableInput, source=source)
    cli.catalog.create_table(database, table_input)
    emit_done(cli, f"Created table {database}.{table_input.name}.")


@tables.command("get")
@click.argument("database")
@click.argument("name")
@pass_cli
def get(cli: CliContext, database: str, name: str) -> None:
    """Show table NAME of DATABASE, with its columns and partition keys."""
    emit_one(cli, cli.catalog.get_table(database, name), FIELDS, SECTIONS)


@tables.command("list")
@click.argument("database")
@click.option(
    "-e",
    "--expression",
    default="",
    help="Only names matching this regular expression ('test_.*'; a lone '*' is any).",
)
@pass_cli
def list_(cli: CliContext, database: str, expression: str) -> None:
    """List the tables of DATABASE."""
    emit_list(cli, cli.catalog.get_tables(database, expression), COLUMNS)


@tables.command("update")
@click.argument("database")
@click.argument("name")
@_table_flags
@click.option(
    "--version-id",
    default=None,
    help="Update only if this is still the current version. Without an input file, the "
    "version that was read is used.",
)
@click.option("--skip-archive", is_flag=True, help="Replace the current version in the history.")
@pass_cli
def update(
    cli: CliContext,
    database: str,
    name: str,
    input_file: IO[str] | None,
    version_id: str | None,
    skip_archive: bool,
    **flags: str | tuple[str, ...] | None,
) -> None:
    """Write a new version of table NAME of DATABASE.

    With an input file, the file is the new definition; otherwise the flags change the current
    one, and the update fails if someone else changed the table in between.
    """
    if input_file is not None:
        document = load_input(input_file, types_pb2.TableInput)
        source = input_file.name
    else:
        current = cli.catalog.get_table(database, name)
        document = input_fields(current, types_pb2.TableInput)
        source = "arguments"
        if version_id is None:
            version_id = current.version_id
    data = _overlay_flags(document, source, name=None, **flags)
    data.setdefault("name", name)
    table_input = message_from(data, types_pb2.TableInput, source=source)
    cli.catalog.update_table(
        database, table_input, version_id=version_id or "", skip_archive=skip_archive
    )
    emit_done(cli, f"Updated table {database}.{name}.")


@tables.command("delete")
@click.argument("database")
@click.argument("names", nargs=-1, required=True)
@pass_cli
def delete(cli: CliContext, database: str, names: tuple[str, ...]) -> None:
    """Delete tables NAMES... of DATABASE with their partitions and versions."""
    if len(names) == 1:
        cli.catalog.delete_table(database, names[0])
        emit_done(cli, f"Deleted table {database}.{names[0]}.")
        return
    errors = list(cli.catalog.batch_delete_table(database, names).errors)
    if errors:
        emit_list(cli, errors, ERROR_COLUMNS)
        raise CommandFailed(f"{len(errors)} of {len(names)} tables were not deleted")
    emit_done(cli, f"Deleted {len(names)} tables of {database}.")


@tables.command("versions")
@click.argument("database")
@click.argument("name")
@pass_cli
def versions(cli: CliContext, database: str, name: str) -> None:
    """List the versions of table NAME of DATABASE, newest first."""
    emit_list(cli, cli.catalog.get_table_versions(database, name), VERSION_COLUMNS)


@tables.command("search")
@click.argument("text", required=False, default="")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only tables whose KEY (database_name, name, owner, table_type, description or a "
    "parameter) equals VALUE. Repeatable.",
)
@click.option(
    "--sort",
    "sorts",
    multiple=True,
    metavar="FIELD[:asc|desc]",
    help="Order by name, database_name, owner, table_type, update_time or create_time.",
)
@pass_cli
def search(cli: CliContext, text: str, filters: tuple[str, ...], sorts: tuple[str, ...]) -> None:
    """Find tables of every database whose name, description, columns or parameters hold TEXT."""
    predicates = [
        types_pb2.PropertyPredicate(key=key, value=value, comparator=types_pb2.COMPARATOR_EQUALS)
        for key, value in key_values(filters, option="--filter").items()
    ]
    emit_list(
        cli,
        cli.catalog.search_tables(
            text, filters=predicates, sort_criteria=[_sort_criterion(s) for s in sorts]
        ),
        COLUMNS,
    )


def _sort_criterion(spec: str) -> types_pb2.SortCriterion:
    field, _, direction = spec.partition(":")
    sort = _SORT_DIRECTIONS.get(direction.lower() or "asc")
    if not field or sort is None:
        raise click.BadParameter(f"expected FIELD[:asc|desc], not {spec!r}", param_hint="--sort")
    return types_pb2.SortCriterion(field_name=field, sort=sort)


def _overlay_flags(
    document: object,
    source: str,
    *,
    name: str | None,
    description: str | None,
    owner: str | None,
    table_type: str | None,
    location: str | None,
    column_specs: tuple[str, ...],
    partition_key_specs: tuple[str, ...],
    parameters: tuple[str, ...],
) -> dict[str, object]:
    storage: dict[str, object] = {}
    if column_specs:
        storage["columns"] = columns(column_specs, option="--column")
    if location is not None:
        storage["location"] = location
    return overlay(
        document,
        source=source,
        what="TableInput",
        name=name,
        description=description,
        owner=owner,
        table_type=table_type,
        storage_descriptor=storage or None,
        partition_keys=columns(partition_key_specs, option="--partition-key") or None,
        parameters=key_values(parameters, option="--parameter") or None,
    )
