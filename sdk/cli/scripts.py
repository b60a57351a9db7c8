"""`sluice scripts`: generate a Glue-style ETL script from a source table, a target and a column
mapping (Glue's GetMapping and GetPlan), and show the dataflow graph of a script."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

import click

from sluice.jobs.v1 import codegen_pb2 as api
from sluice.sdk.cli.context import CliContext, OutputFormat, pass_cli
from sluice.sdk.cli.failures import InputFileError
from sluice.sdk.cli.inputs import load_document
from sluice.sdk.cli.output import Column, emit_list, to_dict
from sluice.sdk.scripts import FileTarget

MAPPING_COLUMNS = (
    Column("SOURCE", lambda m: m.source_path),
    Column("SOURCE TYPE", lambda m: m.source_type),
    Column("TARGET", lambda m: m.target_path),
    Column("TARGET TYPE", lambda m: m.target_type),
)
NODE_COLUMNS = (
    Column("LINE", lambda n: str(n.line_number)),
    Column("ID", lambda n: n.id),
    Column("TYPE", lambda n: n.node_type),
    Column("ARGUMENTS", lambda n: ", ".join(f"{a.name}={a.value}" for a in n.args)),
)
EDGE_COLUMNS = (
    Column("SOURCE", lambda e: e.source),
    Column("TARGET", lambda e: e.target),
    Column("PARAMETER", lambda e: e.target_parameter),
)
_MAPPING_KEYS = ("source_path", "source_type", "target_path", "target_type")


def table_name(value: str) -> tuple[str, str]:
    """DB.TABLE as (database, table)."""
    database, dot, table = value.partition(".")
    if not dot or not database or not table:
        raise click.BadParameter(f"{value!r} is not DATABASE.TABLE")
    return database, table


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key).lstrip("_")


def mapping_entries(document: Any, source: str) -> list[api.MappingEntry]:
    """A mapping file's entries: a list (or {"Mapping": [...]}, GetMapping's answer) of
    [source, source type, target, target type] or of objects with source_path, source_type,
    target_path, target_type (or Glue's SourcePath, ...).

    Raises:
        InputFileError: The document is not such a list.
    """
    if isinstance(document, Mapping) and len(document) == 1:
        document = next(iter(document.values()))
    if not isinstance(document, list) or not document:
        raise InputFileError(f"{source}: expected a list of mapping entries")
    entries = []
    for index, item in enumerate(document):
        if isinstance(item, list) and len(item) == 4 and all(isinstance(v, str) for v in item):
            entries.append(api.MappingEntry(**dict(zip(_MAPPING_KEYS, item, strict=True))))
            continue
        if isinstance(item, Mapping):
            fields = {_snake(str(k)): v for k, v in item.items()}
            unknown = sorted(set(fields) - set(api.MappingEntry.DESCRIPTOR.fields_by_name))
            if not unknown and all(isinstance(v, str) for v in fields.values()):
                entries.append(api.MappingEntry(**fields))
                continue
        raise InputFileError(
            f"{source}: entry {index} is not [source, source type, target, target type] nor "
            "an object of source_path, source_type, target_path, target_type"
        )
    return entries


@click.group("scripts")
def scripts() -> None:
    """Generated ETL scripts (Glue's GetMapping, GetPlan, GetDataflowGraph); uploaded ones
    read back (get)."""


@scripts.command("mapping")
@click.option("--source", required=True, metavar="DB.TABLE", help="The table read.")
@click.option("--sink", metavar="DB.TABLE", help="The table written, if it exists already.")
@pass_cli
def mapping(cli: CliContext, source: str, sink: str | None) -> None:
    """Propose a column mapping from the source table (onto the sink table's columns)."""
    sinks = [table_name(sink)] if sink else []
    emit_list(cli, cli.client.scripts.get_mapping(table_name(source), sinks), MAPPING_COLUMNS)


@scripts.command("generate")
@click.option("--source", required=True, metavar="DB.TABLE", help="The catalog table read.")
@click.option(
    "--target",
    required=True,
    metavar="URI|DB.TABLE",
    help="Where the data goes: a file:// or s3:// path (with --format), or an existing table.",
)
@click.option(
    "--table",
    "sink_table",
    metavar="DB.TABLE",
    help="For a path target: the catalog table kept up to date with the files written.",
)
@click.option("--format", "file_format", default="parquet", show_default=True)
@click.option(
    "--partition-keys", default="", metavar="COL,COL", help="Partition columns of a path target."
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.File("r"),
    help="A YAML or JSON list of [source, source type, target, target type] (default: the "
    "proposed mapping).",
)
@click.option(
    "-o",
    "--output",
    "output_file",
    metavar="FILE",
    help="The script's file (stdout by default). As for every command, `table` or `json` name "
    "the output format instead (write ./json for a file of that name).",
)
@pass_cli
def generate(
    cli: CliContext,
    source: str,
    target: str,
    sink_table: str | None,
    file_format: str,
    partition_keys: str,
    mapping_file: IO[str] | None,
    output_file: str | None,
) -> None:
    """Generate a script reading SOURCE, mapping its columns and writing TARGET."""
    if output_file in {f.value for f in OutputFormat}:
        cli.output = OutputFormat(output_file)
        output_file = None
    entries: list[api.MappingEntry] = []
    if mapping_file is not None:
        entries = mapping_entries(load_document(mapping_file), mapping_file.name)
    keys = [k.strip() for k in partition_keys.split(",") if k.strip()]
    if "://" in target:
        sinks = [table_name(sink_table)] if sink_table else []
        file_target: FileTarget | None = FileTarget(target, file_format, keys)
    else:
        if sink_table or keys:
            raise click.UsageError("--table and --partition-keys go with a path --target")
        sinks, file_target = [table_name(target)], None
    script = cli.client.scripts.get_plan(
        table_name(source), entries, sinks=sinks, target=file_target
    )
    if output_file is None:
        click.echo(script, nl=False)
        return
    with click.open_file(output_file, "w") as out:
        out.write(script)


@scripts.command("get")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    "output_file",
    metavar="FILE",
    help="The script's file (stdout by default); `table` and `json` are accepted, as for every "
    "command, and change nothing: the script is printed as it was uploaded.",
)
@pass_cli
def get(cli: CliContext, name: str, output_file: str | None) -> None:
    """Print the uploaded script NAME (sluice://scripts/NAME), as it was uploaded."""
    content = cli.client.scripts.get(name)
    if output_file is None or output_file in {f.value for f in OutputFormat}:
        output_file = "-"
    with click.open_file(output_file, "wb") as out:
        out.write(content)


@scripts.command("graph")
@click.argument("script", type=click.File("r"))
@pass_cli
def graph(cli: CliContext, script: IO[str]) -> None:
    """Show the dataflow graph of SCRIPT (parsed by the server, never run)."""
    nodes, edges = cli.client.scripts.get_dataflow_graph(script.read())
    if cli.output is OutputFormat.JSON:
        response = api.GetDataflowGraphResponse(dag_nodes=nodes, dag_edges=edges)
        click.echo(json.dumps(to_dict(response), indent=2))
        return
    emit_list(cli, nodes, NODE_COLUMNS)
    emit_list(cli, edges, EDGE_COLUMNS)
