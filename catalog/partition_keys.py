"""Partition keys: their types, and the order-preserving text encoding of their values.

A partition is identified by its values exactly as given, as Glue stores them: '01' and '1' are
two partitions of an int key. For comparisons a store also keeps each value's encoding in a text
slot column compared in byte order; the encoding makes that byte order the key type's own order
(numbers by value, dates and timestamps by time), so every comparison in a partition expression
is a plain, indexable comparison on one slot.

DEFAULT_PARTITION (what Hive and Spark write for a null value) is accepted for a key of any type
and has no encoding (a NULL slot): it matches `IS NULL` and `= '__HIVE_DEFAULT_PARTITION__'`,
and no ordering comparison.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sluice.catalog.core.model import Column
from sluice.catalog.core.names import column_name, text_value
from sluice.common.errors import InvalidInput

SLOT_COUNT = 10
DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"

_INT_OFFSET = 2**63
_INT_WIDTH = 20  # digits of 2**64 - 1, the largest offset value
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?"
)
_STRING_TYPE = re.compile(r"string|(var)?char(\([0-9]+\))?|")
_DECIMAL_TYPE = re.compile(r"decimal(\([0-9]+(,[0-9]+)?\))?|numeric(\([0-9]+(,[0-9]+)?\))?")
_DOUBLE_TYPES = frozenset({"double", "float", "real", "doubleprecision"})
_WHITESPACE = re.compile(r"\s+")
# A number's encoding: a class byte, then for finite non-zero numbers the exponent and digits.
_NEG_INFINITY, _NEGATIVE, _ZERO, _POSITIVE, _POS_INFINITY, _NAN = "0", "1", "2", "3", "4", "5"
_EXPONENT_OFFSET = 5000  # exponents -4999..4999 encode as 4 digits
_NEGATIVE_END = "~"  # sorts after every digit, so -0.5 ('4~') > -0.51 ('48~')
_DOUBLE_SPECIALS = {
    "nan": _NAN,
    "infinity": _POS_INFINITY,
    "+infinity": _POS_INFINITY,
    "inf": _POS_INFINITY,
    "-infinity": _NEG_INFINITY,
    "-inf": _NEG_INFINITY,
}


class KeyType(StrEnum):
    """How a partition key's values are validated, encoded and ordered."""

    STRING = "string"
    TINYINT = "tinyint"
    SMALLINT = "smallint"
    INTEGER = "int"  # int, integer and bigint: the 64-bit range
    DATE = "date"
    DECIMAL = "decimal"
    DOUBLE = "double"
    TIMESTAMP = "timestamp"
    OTHER = "other"


_INTEGER_RANGES = {
    KeyType.TINYINT: (-(2**7), 2**7 - 1, "tinyint"),
    KeyType.SMALLINT: (-(2**15), 2**15 - 1, "smallint"),
    KeyType.INTEGER: (-(2**63), 2**63 - 1, "64-bit integer"),
}
_NAMED_TYPES = {
    "tinyint": KeyType.TINYINT,
    "smallint": KeyType.SMALLINT,
    "int": KeyType.INTEGER,
    "integer": KeyType.INTEGER,
    "bigint": KeyType.INTEGER,
    "date": KeyType.DATE,
    "timestamp": KeyType.TIMESTAMP,
    **dict.fromkeys(_DOUBLE_TYPES, KeyType.DOUBLE),
}


@dataclass(frozen=True)
class PartitionKey:
    """A partition key of a table: its lower-case name and the type its values are read as."""

    name: str
    key_type: KeyType


def key_type(hive_type: str) -> KeyType:
    """The KeyType of a Hive column type such as 'bigint', 'varchar(10)' or 'decimal(10,2)'.

    Types without an order-preserving encoding (boolean, binary, complex types, ...) are OTHER:
    their values are kept and compared as the strings they are written as.
    """
    normalized = _WHITESPACE.sub("", hive_type).lower()
    if _STRING_TYPE.fullmatch(normalized):
        return KeyType.STRING
    if _DECIMAL_TYPE.fullmatch(normalized):
        return KeyType.DECIMAL
    return _NAMED_TYPES.get(normalized, KeyType.OTHER)


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


def check_text(key: PartitionKey, raw: str) -> str:
    """Checks that a value of `key` is bounded Unicode text without control characters.

    Raises:
        InvalidInput: it is too long, holds a control character or a lone surrogate.
    """
    text_value(f"value of partition key {key.name!r}", raw)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"value of partition key {key.name!r} is not valid Unicode text"
        ) from None
    return raw


def encode_value(key: PartitionKey, raw: str) -> str | None:
    """Validates a value of `key` and returns its encoding, whose byte order is the key's order.

    STRING and OTHER values are returned unchanged. Integer values (base 10, optional sign, in
    the type's range) become the 20-digit zero-padded decimal of n + 2**63. DATE values (a
    calendar date written YYYY-MM-DD) are returned in that ISO form. DECIMAL and DOUBLE values
    become a class byte, a 4-digit exponent and the significant digits (inverted for negative
    numbers), so that equal numbers ('1.50', '1.5') encode alike. TIMESTAMP values
    ('YYYY-MM-DD[ HH:MM[:SS[.fffffffff]]]') become 'YYYY-MM-DD HH:MM:SS.fffffffff'.
    DEFAULT_PARTITION has no encoding: None.

    Raises:
        InvalidInput: the value is too long, holds control characters, or does not fit the type.
    """
    check_text(key, raw)
    return encode_checked(key, raw)


def encode_checked(key: PartitionKey, raw: str) -> str | None:
    """encode_value of a value whose text check_text has already passed.

    Raises:
        InvalidInput: the value does not fit the key's type.
    """
    if raw == DEFAULT_PARTITION:
        return None
    match key.key_type:
        case KeyType.TINYINT | KeyType.SMALLINT | KeyType.INTEGER:
            return _encode_integer(key, raw)
        case KeyType.DATE:
            return _encode_date(key, raw)
        case KeyType.DECIMAL | KeyType.DOUBLE:
            return _encode_number(key, raw)
        case KeyType.TIMESTAMP:
            return _encode_timestamp(key, raw)
    return raw


def encode_values(keys: Sequence[PartitionKey], values: Sequence[str]) -> tuple[str | None, ...]:
    """Encodes one partition's values, one per key and in key order.

    Raises:
        InvalidInput: the number of values differs from the number of keys, or a value is
            not valid for its key.
    """
    check_count(keys, values)
    return tuple(encode_value(key, value) for key, value in zip(keys, values, strict=True))


def check_count(keys: Sequence[PartitionKey], values: Sequence[str]) -> None:
    """Checks that a partition names one value per key.

    Raises:
        InvalidInput: the number of values differs from the number of keys.
    """
    if len(values) != len(keys):
        names = ", ".join(key.name for key in keys)
        raise InvalidInput(
            f"expected {len(keys)} values for partition keys ({names}), got {len(values)}"
        )


def _encode_integer(key: PartitionKey, raw: str) -> str:
    # The regex, not int() alone: int() also accepts whitespace, '_' and non-ASCII digits.
    if not _INTEGER.fullmatch(raw):
        raise _type_error(key, raw, "an integer")
    number = int(raw)
    low, high, range_name = _INTEGER_RANGES[key.key_type]
    if not low <= number <= high:
        bounds = "" if key.key_type is KeyType.INTEGER else f" ({low} to {high})"
        raise InvalidInput(
            f"value {raw!r} is out of the {range_name} range{bounds} for partition "
            f"key {key.name!r} ({key.key_type})"
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


def _encode_number(key: PartitionKey, raw: str) -> str:
    if key.key_type is KeyType.DOUBLE and raw.lower() in _DOUBLE_SPECIALS:
        return _DOUBLE_SPECIALS[raw.lower()]
    # The regex first: Decimal also accepts '1_000', ' 1', 'NaN' and non-ASCII digits.
    if not _NUMBER.fullmatch(raw):
        raise _type_error(key, raw, "a number")
    number = Decimal(raw)
    if number.is_zero():
        return _ZERO
    sign, digits, _ = number.as_tuple()
    exponent = number.adjusted()  # the power of ten of the first significant digit
    if not -_EXPONENT_OFFSET < exponent < _EXPONENT_OFFSET:
        raise InvalidInput(
            f"value {raw!r} is out of range for partition key {key.name!r} ({key.key_type})"
        )
    significant = "".join(map(str, digits)).rstrip("0")
    biased = exponent + _EXPONENT_OFFSET
    if not sign:
        return f"{_POSITIVE}{biased:04d}{significant}"
    inverted = "".join(str(9 - int(digit)) for digit in significant)
    return f"{_NEGATIVE}{2 * _EXPONENT_OFFSET - 1 - biased:04d}{inverted}{_NEGATIVE_END}"


def _encode_timestamp(key: PartitionKey, raw: str) -> str:
    match = _TIMESTAMP.fullmatch(raw)
    if match is None:
        raise _type_error(key, raw, "a timestamp (YYYY-MM-DD HH:MM:SS[.fffffffff])")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        raise _type_error(key, raw, "a valid timestamp") from None
    return f"{moment.isoformat(sep=' ')}.{(fraction or '').ljust(9, '0')}"


def _type_error(key: PartitionKey, raw: str, expected: str) -> InvalidInput:
    return InvalidInput(
        f"value {raw!r} is not {expected} for partition key {key.name!r} ({key.key_type})"
    )
