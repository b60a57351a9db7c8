"""Names of catalog resources: normalised to lower case and validated like Glue's."""

from __future__ import annotations

import re

from sluice.common.errors import InvalidInput

MAX_NAME_LENGTH = 255
MAX_CATALOG_ID_LENGTH = 255
MAX_VALUE_LENGTH = 1024
_NAME = re.compile(r"[a-z0-9_][a-z0-9_\-]*")
_CATALOG_ID = re.compile(r"[A-Za-z0-9_\-:]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def resource_name(kind: str, name: str) -> str:
    """A database, table, connection or function name, lower-cased; InvalidInput if malformed."""
    if not name:
        raise InvalidInput(f"{kind} name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{kind} name is longer than {MAX_NAME_LENGTH} characters")
    lowered = name.lower()
    if not _NAME.fullmatch(lowered):
        raise InvalidInput(
            f"{kind} name {name!r} is not valid: use letters, digits, '_' and '-', "
            "starting with a letter, digit or '_'"
        )
    return lowered


def catalog_id(value: str, default: str) -> str:
    """The account a call is scoped to; the default account when empty."""
    if not value:
        return default
    if len(value) > MAX_CATALOG_ID_LENGTH or not _CATALOG_ID.fullmatch(value):
        raise InvalidInput(f"catalog_id {value!r} is not valid")
    return value


def column_name(name: str) -> str:
    """A column or partition key name: lower-cased, single-line, 1 to 255 characters."""
    if not name or len(name) > MAX_NAME_LENGTH or _CONTROL.search(name):
        raise InvalidInput(f"column name {name!r} is not valid")
    return name.lower()


def text_value(field: str, value: str, max_length: int = MAX_VALUE_LENGTH) -> str:
    """A free-text value (partition value, parameter): bounded, no control characters."""
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters")
    if _CONTROL.search(value):
        raise InvalidInput(f"{field} contains a control character")
    return value
