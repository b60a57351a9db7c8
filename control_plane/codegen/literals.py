"""Python literals for generated code: every value from a request becomes a literal built from
repr() (so it can only ever be a value), laid out within the line length as ruff format would."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LINE_LENGTH = 100
INDENT = "    "
# Long strings are split into pieces of at most this many characters.
_PIECE = 60


@dataclass(frozen=True)
class Code:
    """A piece of code the generator wrote itself (a variable, a lambda): emitted as is."""

    text: str


def string(value: str) -> str:
    """A string literal, in double quotes where that needs no more escapes than repr's."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        text = '"' + text[1:-1] + '"'
    return text


def flat(value: Any) -> str:
    """value as a literal on one line."""
    if isinstance(value, Code):
        return value.text
    if isinstance(value, str):
        return string(value)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int | float):
        text = repr(value)
        if text in ("inf", "-inf", "nan"):
            raise ValueError(f"{text} has no literal")
        return text
    if isinstance(value, tuple):
        items = [flat(v) for v in value]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(flat(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{flat(k)}: {flat(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no literal for {type(value).__name__}")


def layout(value: Any, depth: int, used: int) -> str:
    """value as a literal starting after `used` characters of a line indented `depth` levels;
    collections and strings too long for the line are spread over lines (trailing commas)."""
    one_line = flat(value)
    room = LINE_LENGTH - len(INDENT) * depth - used - 1  # the trailing comma
    if len(one_line) <= room or isinstance(value, Code):
        return one_line
    inner = INDENT * (depth + 1)
    close = INDENT * depth
    if isinstance(value, str):
        pieces = [value[i : i + _PIECE] for i in range(0, len(value), _PIECE)] or [""]
        return "(\n" + "".join(f"{inner}{string(p)}\n" for p in pieces) + close + ")"
    if isinstance(value, Mapping):
        lines = []
        for key, item in value.items():
            head = flat(key) + ": "
            lines.append(f"{inner}{head}{layout(item, depth + 1, len(head))},\n")
        return "{\n" + "".join(lines) + close + "}"
    if isinstance(value, Sequence):
        opening, closing = ("(", ")") if isinstance(value, tuple) else ("[", "]")
        lines = [f"{inner}{layout(item, depth + 1, 0)},\n" for item in value]
        return opening + "\n" + "".join(lines) + close + closing
    return one_line


def parse(text: str) -> Any:
    """The value of a literal (ast.literal_eval: nothing is ever run).

    Raises:
        ValueError: text is not a Python literal.
    """
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"not a Python literal: {exc}") from None
