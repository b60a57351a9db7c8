"""Turning what callers pass (generated messages or plain dicts) into generated messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from sluice.catalog.v1 import types_pb2

M = TypeVar("M", bound=Message)

# Messages whose JSON form is not an object of their fields.
_WELL_KNOWN = frozenset(
    {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.Struct"}
)


def to_message(value: M | Mapping[str, Any], cls: type[M], *, what: str = "") -> M:
    """The message `value` stands for.

    Args:
        value: An instance of `cls`, returned as it is, or a dict with the message's fields by
            their proto names (snake_case), as json_format.ParseDict reads them.
        cls: The generated message class wanted.
        what: The argument's name, to say which one is wrong.

    Returns:
        An instance of `cls`.

    Raises:
        TypeError: `value` is neither a `cls` nor a mapping.
        ValueError: The mapping names a field `cls` does not have, or holds a wrong value.
    """
    label = what or cls.DESCRIPTOR.name
    if isinstance(value, cls):
        return value
    if isinstance(value, Message):
        raise TypeError(
            f"{label}: expected {cls.DESCRIPTOR.full_name}, not {value.DESCRIPTOR.full_name}"
        )
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{label}: expected {cls.DESCRIPTOR.name} or a dict, not {type(value).__name__}"
        )
    _check_field_names(value, cls.DESCRIPTOR, label)
    try:
        return json_format.ParseDict(dict(value), cls())
    except json_format.ParseError as exc:
        raise ValueError(f"{label}: {exc}") from None


def to_messages(
    values: Iterable[M | Mapping[str, Any]], cls: type[M], *, what: str = ""
) -> list[M]:
    """`to_message` over each item, naming the position of a bad one."""
    label = what or cls.DESCRIPTOR.name
    return [to_message(v, cls, what=f"{label}[{i}]") for i, v in enumerate(values)]


def to_values(values: Sequence[str], *, what: str = "partition values") -> list[str]:
    """A partition's values as a list of strings.

    Raises:
        TypeError: `values` is a single string (which would be read as one value per
            character) or holds something other than strings.
    """
    if isinstance(values, str | bytes):
        raise TypeError(
            f"{what}: expected a sequence of strings, not a single {type(values).__name__}"
        )
    result = list(values)
    for value in result:
        if not isinstance(value, str):
            raise TypeError(f"{what}: expected strings, not {type(value).__name__} {value!r}")
    return result


def to_value_list(
    values: types_pb2.PartitionValueList | Mapping[str, Any] | Sequence[str], *, what: str
) -> types_pb2.PartitionValueList:
    """A PartitionValueList from a message, a dict {"values": [...]}, or a list of strings."""
    if isinstance(values, types_pb2.PartitionValueList | Mapping):
        return to_message(values, types_pb2.PartitionValueList, what=what)
    return types_pb2.PartitionValueList(values=to_values(values, what=what))


def _check_field_names(data: Mapping[str, Any], descriptor: Descriptor, path: str) -> None:
    """Names the first unknown field by its snake_case path, which ParseDict's error does not."""
    for key, value in data.items():
        field = descriptor.fields_by_name.get(key) or descriptor.fields_by_camelcase_name.get(key)
        if field is None:
            known = ", ".join(descriptor.fields_by_name)
            raise ValueError(f"{path}: unknown field {key!r}; {descriptor.name} has {known}")
        nested = field.message_type
        if nested is None or nested.GetOptions().map_entry or nested.full_name in _WELL_KNOWN:
            continue
        if field.is_repeated and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    _check_field_names(item, nested, f"{path}.{key}[{i}]")
        elif isinstance(value, Mapping):
            _check_field_names(value, nested, f"{path}.{key}")
