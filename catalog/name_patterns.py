"""GetTables' Expression: a regular expression over table names, matched in linear time.

Glue reads it as the Hive metastore does: a regular expression, matched against the whole name
and ignoring case, in which a '*' that does not follow '.' stands for any characters, so both
Terraform's 'test_.*' and the older 'sales*' or '*_tmp' forms select what their authors meant.
Patterns run on RE2, whose matching time is linear in the name whatever the pattern, and whose
compiled size is bounded, so no expression can make a call slow.
"""

from __future__ import annotations

from collections.abc import Callable

import re2

from sluice.catalog.core.names import text_value
from sluice.common.errors import InvalidInput

MAX_EXPRESSION_LENGTH = 2048  # Glue's FilterString
# Bounds the compiled program: '(a{1000}){1000}' is refused instead of built.
_MAX_PROGRAM_BYTES = 1 << 20


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.never_capture = True
    options.log_errors = False
    options.max_mem = _MAX_PROGRAM_BYTES
    return options


def hive_regex(expression: str) -> str:
    """The expression as a regular expression: a '*' that quantifies nothing useful to a
    Hive user (not after an unescaped '.', outside a character class) becomes '.*'."""
    out: list[str] = []
    escaped = in_class = False
    previous = ""
    for ch in expression:
        if escaped:
            out.append(ch)
            escaped, previous = False, "\\" + ch
            continue
        if ch == "\\":
            out.append(ch)
            escaped = True
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "*" and previous != ".":
            out.append(".")
        out.append(ch)
        previous = ch
    return "".join(out)


def table_name_matcher(expression: str) -> Callable[[str], bool] | None:
    """A test of table names for GetTables' expression; None when it is empty (every name).

    Raises:
        InvalidInput: the expression is too long, holds a control character, is not a
            regular expression RE2 accepts (back-references and look-around are not), or is
            too complex.
    """
    if not expression:
        return None
    text_value("expression", expression, MAX_EXPRESSION_LENGTH)
    try:
        pattern = re2.compile(hive_regex(expression), _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "not accepted"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidInput(
            f"expression {expression[:100]!r} is not a valid regular expression: {reason}"
        ) from None
    return lambda name: pattern.fullmatch(name) is not None
