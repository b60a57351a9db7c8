"""`sluice functions`: user-defined functions registered in databases."""

from __future__ import annotations

from typing import IO, Any

import click

from sluice.catalog.v1 import types_pb2
from sluice.sdk.cli.context import CliContext, pass_cli
from sluice.sdk.cli.inputs import input_fields, load_input, message_from, overlay
from sluice.sdk.cli.options import bundle, input_option
from sluice.sdk.cli.output import Column, emit_done, emit_list, emit_one, timestamp

_OWNER_TYPES = ("USER", "ROLE", "GROUP")
_RESOURCE_TYPES = ("JAR", "FILE", "ARCHIVE")


def _resources(function: types_pb2.UserDefinedFunction) -> str:
    return ", ".join(
        f"{types_pb2.ResourceType.Name(r.resource_type).removeprefix('RESOURCE_TYPE_')}:{r.uri}"
        for r in function.resource_uris
    )


def _owner_type(function: types_pb2.UserDefinedFunction) -> str:
    if function.owner_type == types_pb2.PRINCIPAL_TYPE_UNSPECIFIED:
        return ""
    return types_pb2.PrincipalType.Name(function.owner_type).removeprefix("PRINCIPAL_TYPE_")


COLUMNS = (
    Column("NAME", lambda f: f.function_name),
    Column("DATABASE", lambda f: f.database_name),
    Column("CLASS", lambda f: f.class_name),
    Column("OWNER", lambda f: f.owner_name),
    Column("RESOURCES", _resources),
)
FIELDS = (
    Column("Name", lambda f: f.function_name),
    Column("Database", lambda f: f.database_name),
    Column("Catalog", lambda f: f.catalog_id),
    Column("Class", lambda f: f.class_name),
    Column("Owner", lambda f: f.owner_name),
    Column("Owner type", _owner_type),
    Column("Resources", _resources),
    Column("Created", lambda f: timestamp(f.create_time)),
)


_function_flags = bundle(
    input_option("UserDefinedFunctionInput"),
    click.option("--class-name", help="The class implementing the function."),
    click.option("--owner", "owner_name", help="Who owns the function."),
    click.option(
        "--owner-type", type=click.Choice(_OWNER_TYPES, case_sensitive=False), default=None
    ),
    click.option(
        "--resource",
        "resources",
        multiple=True,
        metavar="TYPE:URI",
        help="A resource the function needs, TYPE one of JAR, FILE, ARCHIVE, e.g. "
        "JAR:s3://bucket/udfs.jar. Repeatable; replaces them all.",
    ),
)


@click.group()
def functions() -> None:
    """User-defined functions of Data Catalog databases."""


@functions.command("create")
@click.argument("database")
@click.argument("name", required=False)
@_function_flags
@pass_cli
def create(
    cli: CliContext, database: str, name: str | None, input_file: IO[str] | None, **flags: Any
) -> None:
    """Create function NAME in DATABASE, from flags or from an input file.

    \b
    Example:
      sluice functions create sales to_cents --class-name com.example.ToCents \\
          --resource JAR:s3://bucket/udfs.jar
    """
    document = (
        load_input(input_file, types_pb2.UserDefinedFunctionInput) if input_file is not None else {}
    )
    source = input_file.name if input_file is not None else "arguments"
    data = _overlay_flags(document, source, name=name, **flags)
    if not data.get("function_name"):
        raise click.UsageError("give the function's NAME, or an input file that names it")
    function_input = message_from(data, types_pb2.UserDefinedFunctionInput, source=source)
    cli.catalog.create_user_defined_function(database, function_input)
    emit_done(cli, f"Created function {database}.{function_input.function_name}.")


@functions.command("get")
@click.argument("database")
@click.argument("name")
@pass_cli
def get(cli: CliContext, database: str, name: str) -> None:
    """Show function NAME of DATABASE."""
    emit_one(cli, cli.catalog.get_user_defined_function(database, name), FIELDS)


@functions.command("list")
@click.argument("database", required=False, default="")
@click.option("--pattern", default="", help="Only names matching: '*' any, '|' or.")
@pass_cli
def list_(cli: CliContext, database: str, pattern: str) -> None:
    """List the functions of DATABASE, or of every database."""
    emit_list(cli, cli.catalog.get_user_defined_functions(database, pattern), COLUMNS)


@functions.command("update")
@click.argument("database")
@click.argument("name")
@_function_flags
@pass_cli
def update(
    cli: CliContext, database: str, name: str, input_file: IO[str] | None, **flags: Any
) -> None:
    """Update function NAME of DATABASE.

    With an input file, the file is the new definition; otherwise the flags change the current
    one.
    """
    if input_file is not None:
        document = load_input(input_file, types_pb2.UserDefinedFunctionInput)
        source = input_file.name
    else:
        current = cli.catalog.get_user_defined_function(database, name)
        document = input_fields(current, types_pb2.UserDefinedFunctionInput)
        source = "arguments"
    data = _overlay_flags(document, source, name=None, **flags)
    data.setdefault("function_name", name)
    function_input = message_from(data, types_pb2.UserDefinedFunctionInput, source=source)
    cli.catalog.update_user_defined_function(database, name, function_input)
    emit_done(cli, f"Updated function {database}.{name}.")


@functions.command("delete")
@click.argument("database")
@click.argument("name")
@pass_cli
def delete(cli: CliContext, database: str, name: str) -> None:
    """Delete function NAME of DATABASE."""
    cli.catalog.delete_user_defined_function(database, name)
    emit_done(cli, f"Deleted function {database}.{name}.")


def _overlay_flags(
    document: object,
    source: str,
    *,
    name: str | None,
    class_name: str | None,
    owner_name: str | None,
    owner_type: str | None,
    resources: tuple[str, ...],
) -> dict[str, object]:
    return overlay(
        document,
        source=source,
        what="UserDefinedFunctionInput",
        function_name=name,
        class_name=class_name,
        owner_name=owner_name,
        owner_type=None if owner_type is None else f"PRINCIPAL_TYPE_{owner_type.upper()}",
        resource_uris=[_resource_uri(spec) for spec in resources] or None,
    )


def _resource_uri(spec: str) -> dict[str, str]:
    kind, sep, uri = spec.partition(":")
    if not sep or kind.upper() not in _RESOURCE_TYPES or not uri:
        raise click.BadParameter(
            f"expected TYPE:URI with TYPE one of {', '.join(_RESOURCE_TYPES)}, not {spec!r}",
            param_hint="--resource",
        )
    return {"resource_type": f"RESOURCE_TYPE_{kind.upper()}", "uri": uri}
