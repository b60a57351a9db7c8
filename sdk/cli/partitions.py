"""`sluice partitions`: partitions of a table, named by their values (one per partition key)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

import click

from sluice.catalog.v1 import types_pb2
from sluice.sdk.catalog import CatalogClient
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.failures import CommandFailed
from sluice.sdk.cli.inputs import (
    comma_values,
    key_values,
    load_document,
    load_input,
    message_from,
    messages_from,
    overlay,
)
from sluice.sdk.cli.options import input_option, parameter_option
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, pairs, timestamp

ERROR_COLUMNS = (
    Column("VALUES", lambda e: ", ".join(e.partition_values)),
    Column("ERROR", lambda e: e.error_detail.error_code),
    Column("MESSAGE", lambda e: e.error_detail.error_message),
)


def partition_columns(keys: Sequence[str]) -> tuple[Column, ...]:
    """One column per partition key with the partition's value for it, then location and time.

    A partition with more values than the table has keys shows the rest in a VALUES column.
    """
    by_key = tuple(
        Column(key.upper(), lambda p, i=i: p.values[i] if i < len(p.values) else "")
        for i, key in enumerate(keys)
    )
    extra = () if keys else (Column("VALUES", lambda p: ", ".join(p.values)),)
    return (
        *by_key,
        *extra,
        Column("LOCATION", lambda p: p.storage_descriptor.location),
        Column("CREATED", lambda p: timestamp(p.creation_time)),
    )


def _key_names(catalog: CatalogClient, database: str, table: str) -> list[str]:
    return [key.name for key in catalog.get_table(database, table).partition_keys]


@click.group()
def partitions() -> None:
    """Partitions of Data Catalog tables."""


@partitions.command("create")
@click.argument("database")
@click.argument("table")
@click.argument("values", nargs=-1)
@input_option("PartitionInput", note="arguments and flags override its fields")
@click.option("--location", help="Where the partition's data lives.")
@parameter_option()
@pass_cli
def create(
    cli: CliContext,
    database: str,
    table: str,
    values: tuple[str, ...],
    input_file: IO[str] | None,
    location: str | None,
    parameters: tuple[str, ...],
) -> None:
    """Create the partition of DATABASE.TABLE with VALUES..., one per partition key.

    \b
    Example:
      sluice partitions create sales orders 2024 01 --location s3://bucket/orders/2024/01/
    """
    document = load_input(input_file, types_pb2.PartitionInput) if input_file is not None else {}
    source = input_file.name if input_file is not None else "arguments"
    data = overlay(
        document,
        source=source,
        what="PartitionInput",
        values=list(values) or None,
        storage_descriptor=None if location is None else {"location": location},
        parameters=key_values(parameters, option="--parameter") or None,
    )
    if not data.get("values"):
        raise click.UsageError("give the partition's VALUES, or an input file that has them")
    partition_input = message_from(data, types_pb2.PartitionInput, source=source)
    cli.catalog.create_partition(database, table, partition_input)
    emit_done(
        cli, f"Created partition ({', '.join(partition_input.values)}) of {database}.{table}."
    )


@partitions.command("batch-create")
@click.argument("database")
@click.argument("table")
@input_option("list of PartitionInput", note="--values adds to them")
@click.option(
    "--values",
    "value_lists",
    multiple=True,
    metavar="V1,V2,...",
    help="The values of one partition, comma-separated. Repeatable.",
)
@pass_cli
def batch_create(
    cli: CliContext,
    database: str,
    table: str,
    input_file: IO[str] | None,
    value_lists: tuple[str, ...],
) -> None:
    """Create many partitions of DATABASE.TABLE at once.

    \b
    Examples:
      sluice partitions batch-create sales orders -f partitions.yaml
      sluice partitions batch-create sales orders --values 2024,01 --values 2024,02
    """
    inputs: list[types_pb2.PartitionInput] = []
    if input_file is not None:
        inputs.extend(
            messages_from(
                load_document(input_file), types_pb2.PartitionInput, source=input_file.name
            )
        )
    inputs.extend(types_pb2.PartitionInput(values=comma_values(v)) for v in value_lists)
    if not inputs:
        raise click.UsageError("give an input file or at least one --values")
    errors = list(cli.catalog.batch_create_partition(database, table, inputs).errors)
    if errors:
        emit_list(cli, errors, ERROR_COLUMNS)
        raise CommandFailed(f"{len(errors)} of {len(inputs)} partitions were not created")
    emit_done(cli, f"Created {len(inputs)} partitions of {database}.{table}.")


@partitions.command("get")
@click.argument("database")
@click.argument("table")
@click.argument("values", nargs=-1, required=True)
@pass_cli
def get(cli: CliContext, database: str, table: str, values: tuple[str, ...]) -> None:
    """Show the partition of DATABASE.TABLE with VALUES..."""
    partition = cli.catalog.get_partition(database, table, values)
    keys = _key_names(cli.catalog, database, table) if cli.output is OutputFormat.TABLE else []
    fields = (
        Column("Database", lambda p: p.database_name),
        Column("Table", lambda p: p.table_name),
        Column("Values", lambda p: _named_values(keys, p.values)),
        Column("Location", lambda p: p.storage_descriptor.location),
        Column("Parameters", lambda p: pairs(p.parameters)),
        Column("Created", lambda p: timestamp(p.creation_time)),
        Column("Last access", lambda p: timestamp(p.last_access_time)),
    )
    emit_one(cli, partition, fields)


@partitions.command("list")
@click.argument("database")
@click.argument("table")
@click.option(
    "-e",
    "--expression",
    default="",
    help="Glue's partition predicate, e.g. \"year = '2024' AND month IN ('01', '02')\".",
)
@pass_cli
def list_(cli: CliContext, database: str, table: str, expression: str) -> None:
    """List the partitions of DATABASE.TABLE."""
    keys = _key_names(cli.catalog, database, table) if cli.output is OutputFormat.TABLE else []
    emit_list(cli, cli.catalog.get_partitions(database, table, expression), partition_columns(keys))


@partitions.command("delete")
@click.argument("database")
@click.argument("table")
@click.argument("values", nargs=-1, required=True)
@pass_cli
def delete(cli: CliContext, database: str, table: str, values: tuple[str, ...]) -> None:
    """Delete the partition of DATABASE.TABLE with VALUES..."""
    cli.catalog.delete_partition(database, table, values)
    emit_done(cli, f"Deleted partition ({', '.join(values)}) of {database}.{table}.")


def _named_values(keys: Sequence[str], values: Sequence[str]) -> str:
    if len(keys) != len(values):
        return ", ".join(values)
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
