"""Partition keys: their types, and the order-preserving text encoding of their values.

A store keeps each partition value in a text slot column compared in byte order. The encoding
makes that byte order agree with the key's own order (numeric for integers, calendar for dates),
so every comparison in a partition expression is a plain, indexable comparison on one slot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from catalog.model import Column
from catalog.names import column_name, text_value
from common.errors import InvalidInput

SLOT_COUNT = 10

_INT_OFFSET = 2**63
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_INT_WIDTH = 20  # digits of 2**64 - 1, the largest offset value
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_STRING_TYPE = re.compile(r"string|(var)?char(\([0-9]+\))?|")
_INTEGER_TYPES = frozenset({"tinyint", "smallint", "int", "integer", "bigint"})
_WHITESPACE = re.compile(r"\s+")


class KeyType(StrEnum):
    """How a partition key's values are validated, encoded and ordered."""

    STRING = "string"
    INTEGER = "int"
    DATE = "date"
    OTHER = "other"


@dataclass(frozen=True)
class PartitionKey:
    """A partition key of a table: its lower-case name and the type its values are read as."""

    name: str
    key_type: KeyType


def key_type(hive_type: str) -> KeyType:
    """The KeyType of a Hive column type such as 'bigint', 'varchar(10)' or 'date'.

    Types without an order-preserving encoding (double, boolean, decimal(p,s), timestamp, ...)
    are OTHER: their values are kept and compared as the strings they are written as.
    """
    normalized = _WHITESPACE.sub("", hive_type).lower()
    if _STRING_TYPE.fullmatch(normalized):
        return KeyType.STRING
    if normalized in _INTEGER_TYPES:
        return KeyType.INTEGER
    if normalized == "date":
        return KeyType.DATE
    return KeyType.OTHER


def partition_keys_of(columns: Sequence[Column]) -> tuple[PartitionKey, ...]:
    """The partition keys a table declares, validated and with lower-case names.

    Raises:
        InvalidInput: more than SLOT_COUNT keys, a malformed name, or a name used twice.
    """
    if len(columns) > SLOT_COUNT:
        raise InvalidInput(
            f"a table may have at most {SLOT_COUNT} partition keys, got {len(columns)}"
        )
    keys: list[PartitionKey] = []
    seen: set[str] = set()
    for column in columns:
        try:
            name = column_name(column.name)
        except InvalidInput:
            raise InvalidInput(
                f"partition key name {column.name!r} is not valid: it must be 1 to 255 "
                "characters without control characters"
            ) from None
        if name in seen:
            raise InvalidInput(
                f"partition key {column.name!r} is declared twice (names are case-insensitive)"
            )
        seen.add(name)
        keys.append(PartitionKey(name, key_type(column.type)))
    return tuple(keys)


def encode_value(key: PartitionKey, raw: str) -> str:
    """Validates a value of `key` and returns its encoding, whose byte order is the key's order.

    STRING and OTHER values are returned unchanged. INTEGER values (base 10, optional sign, in
    the signed 64-bit range) become the 20-digit zero-padded decimal of n + 2**63. DATE values
    (a calendar date written YYYY-MM-DD) are returned in that ISO form.

    Raises:
        InvalidInput: the value is too long, holds control characters, or does not fit the type.
    """
    text_value(f"value of partition key {key.name!r}", raw)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"value of partition key {key.name!r} is not valid Unicode text"
        ) from None
    if key.key_type is KeyType.INTEGER:
        return _encode_integer(key, raw)
    if key.key_type is KeyType.DATE:
        return _encode_date(key, raw)
    return raw


def encode_values(keys: Sequence[PartitionKey], values: Sequence[str]) -> tuple[str, ...]:
    """Encodes one partition's values, one per key and in key order.

    Raises:
        InvalidInput: the number of values differs from the number of keys, or a value is
            not valid for its key.
    """
    if len(values) != len(keys):
        names = ", ".join(key.name for key in keys)
        raise InvalidInput(
            f"expected {len(keys)} values for partition keys ({names}), got {len(values)}"
        )
    return tuple(encode_value(key, value) for key, value in zip(keys, values, strict=True))


def _encode_integer(key: PartitionKey, raw: str) -> str:
    # The regex, not int() alone: int() also accepts whitespace, '_' and non-ASCII digits.
    if not _INTEGER.fullmatch(raw):
        raise _type_error(key, raw, "an integer")
    number = int(raw)
    if not _INT_MIN <= number <= _INT_MAX:
        raise InvalidInput(
            f"value {raw!r} is out of the 64-bit integer range for partition key "
            f"{key.name!r} ({key.key_type})"
        )
    return str(number + _INT_OFFSET).zfill(_INT_WIDTH)


def _encode_date(key: PartitionKey, raw: str) -> str:
    # The regex first: date.fromisoformat also accepts forms such as '20240131'.
    if not _DATE.fullmatch(raw):
        raise _type_error(key, raw, "a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise _type_error(key, raw, "a valid calendar date") from None


def _type_error(key: PartitionKey, raw: str, expected: str) -> InvalidInput:
    return InvalidInput(
        f"value {raw!r} is not {expected} for partition key {key.name!r} ({key.key_type})"
    )
