"""Options that several commands share, and a way to bundle options into one decorator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]


def bundle(*decorators: Decorator[Any]) -> Decorator[Any]:
    """One decorator applying `decorators` as if they were stacked in this order."""

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def input_option(message_name: str, *, note: str = "flags override its fields") -> Decorator[Any]:
    """-f/--input FILE: a JSON or YAML file holding a message, passed as `input_file`."""
    return click.option(
        "-f",
        "--input",
        "input_file",
        type=click.File("r"),
        help=f"A JSON or YAML file holding the {message_name}; {note}.",
    )


def parameter_option() -> Decorator[Any]:
    """--parameter KEY=VALUE, repeatable, passed as `parameters`."""
    return click.option(
        "--parameter", "parameters", multiple=True, metavar="KEY=VALUE", help="Repeatable."
    )
