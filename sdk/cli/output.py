"""Printing results: rich tables for people, JSON (proto field names) for programs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import click
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sluice.sdk.cli.context import CliContext, OutputFormat

PIPED_WIDTH = 4096


@dataclass(frozen=True)
class Column:
    """A column of a table: its header and how to get its text from an item."""

    header: str
    text: Callable[[Any], str]


@dataclass(frozen=True)
class Section:
    """A table printed under an item's details, e.g. the columns of a table."""

    title: str
    columns: Sequence[Column]
    rows: Callable[[Any], Iterable[Any]]


def to_dict(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data with the proto's snake_case field names."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def timestamp(value: Timestamp) -> str:
    """A timestamp as 'YYYY-MM-DD HH:MM:SS' UTC, or '' when unset."""
    if value.seconds == 0 and value.nanos == 0:
        return ""
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")


def pairs(mapping: Any) -> str:
    """A map field as 'k=v, k=v', sorted by key."""
    return ", ".join(f"{k}={mapping[k]}" for k in sorted(mapping))


def emit_list(cli: CliContext, items: Iterable[Message], columns: Sequence[Column]) -> None:
    """Prints items: a JSON array, or a table with one row per item."""
    if cli.output is OutputFormat.JSON:
        _echo_json([to_dict(item) for item in items])
        return
    table = _table(columns)
    for item in items:
        table.add_row(*(Text(column.text(item)) for column in columns))
    _print(table)


def emit_one(
    cli: CliContext,
    item: Message,
    fields: Sequence[Column],
    sections: Sequence[Section] = (),
) -> None:
    """Prints one item: a JSON object, or its fields one per line and then its sections."""
    if cli.output is OutputFormat.JSON:
        _echo_json(to_dict(item))
        return
    details = Table(box=None, show_header=False, pad_edge=False)
    details.add_column(style="bold")
    details.add_column(overflow="fold")
    for field in fields:
        details.add_row(Text(field.header), Text(field.text(item)))
    _print(details)
    for section in sections:
        rows = list(section.rows(item))
        if not rows:
            continue
        table = _table(section.columns, title=section.title)
        for row in rows:
            table.add_row(*(Text(column.text(row)) for column in section.columns))
        _print(table)


def emit_done(cli: CliContext, text: str) -> None:
    """Confirms a change to people; programs read the exit code, so JSON output stays empty."""
    if cli.output is OutputFormat.TABLE:
        click.echo(text)


def _table(columns: Sequence[Column], title: str | None = None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, title=title, title_justify="left")
    for column in columns:
        table.add_column(column.header, overflow="fold")
    return table


def _console() -> Console:
    # Made per print so that it writes to the sys.stdout of the moment (tests swap it).
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped output is for grep and awk: one row per line, however long.
        console.width = PIPED_WIDTH
    return console


def _print(renderable: Table) -> None:
    """Prints a rich table line by line without the blanks rich pads its cells with, so that a
    line is as wide as its text (not the table's or the terminal's width)."""
    console = _console()
    with console.capture() as captured:
        console.print(renderable)
    for line in captured.get().splitlines():
        click.echo(line.rstrip())


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
