"""Glue's JSON shapes ⇄ Sluice's protos, generically, from the descriptors.

A Glue member is the PascalCase of the proto field (`storage_descriptor` ⇄ `StorageDescriptor`)
unless RENAMES says otherwise; timestamps are epoch seconds; enums are their value names without
the enum's prefix (`JOB_RUN_STATE_SUCCEEDED` ⇄ `SUCCEEDED`); maps are JSON objects, repeated
fields arrays; a google.protobuf.Struct is a Glue structure kept as its JSON (a visual job's
nodes: Glue's members as they are, checked by the server, not here). One walker for every
message, so a new RPC is served the moment it exists.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from sluice.common.errors import InvalidInput

_TIMESTAMP = Timestamp.DESCRIPTOR.full_name
STRUCT = Struct.DESCRIPTOR.full_name
# (message full name, proto field) -> Glue member, where Glue's name is not the PascalCase.
RENAMES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("sluice.crawlers.v1.Classifier", "xml_classifier"): "XMLClassifier",
        ("sluice.crawlers.v1.CreateClassifierRequest", "xml_classifier"): "XMLClassifier",
        ("sluice.crawlers.v1.UpdateClassifierRequest", "xml_classifier"): "XMLClassifier",
        ("sluice.crawlers.v1.CrawlerHistory", "dpu_hour"): "DPUHour",
    }
)
# (enum full name, value without its prefix) -> Glue's value, where they differ.
ENUM_RENAMES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("sluice.catalog.v1.SortDirection", "ASCENDING"): "ASC",
        ("sluice.catalog.v1.SortDirection", "DESCENDING"): "DESC",
    }
)
# Members whose silent loss would mislead: a read as of another time or transaction would
# quietly return the current data.
REFUSED = frozenset({"TransactionId", "QueryAsOfTime"})

_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_FLOATS = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


def glue_name(message: Descriptor, field: FieldDescriptor) -> str:
    """The Glue member of a proto field."""
    renamed = RENAMES.get((message.full_name, field.name))
    if renamed is not None:
        return renamed
    return "".join(part[:1].upper() + part[1:] for part in field.name.split("_"))


@dataclass(frozen=True)
class _Enum:
    """An enum's Glue values ⇄ numbers."""

    by_glue: Mapping[str, int]
    by_number: Mapping[int, str]


@functools.cache
def _members(message: Descriptor) -> Mapping[str, FieldDescriptor]:
    return MappingProxyType({glue_name(message, f): f for f in message.fields})


@functools.cache
def _glue_names(message: Descriptor) -> Mapping[str, str]:
    return MappingProxyType({f.name: glue_name(message, f) for f in message.fields})


@functools.cache
def _enum(enum: EnumDescriptor) -> _Enum:
    zero = enum.values_by_number.get(0)
    prefix = zero.name[: -len("UNSPECIFIED")] if zero and zero.name.endswith("UNSPECIFIED") else ""
    ours = {
        v.number: v.name[len(prefix) :] if v.name.startswith(prefix) else v.name
        for v in enum.values
        if v.number != 0
    }
    by_number = {n: ENUM_RENAMES.get((enum.full_name, name), name) for n, name in ours.items()}
    # Sluice's own spelling is accepted too.
    by_glue = {_enum_key(name): n for n, name in ours.items()}
    by_glue.update({_enum_key(name): n for n, name in by_number.items()})
    return _Enum(by_glue=MappingProxyType(by_glue), by_number=MappingProxyType(by_number))


def _enum_key(value: str) -> str:
    return _NOT_ALNUM.sub("_", value.upper())


# JSON -> proto


def to_message(data: Any, message: Message, where: str = "") -> Message:
    """Fills message from a Glue JSON object; InvalidInput naming the member that is wrong.

    Members Sluice does not know are ignored (clients send many Sluice has no machinery
    for), except REFUSED ones, whose loss would change what the call means.
    """
    if not isinstance(data, dict):
        raise InvalidInput(f"{where or 'the request'} must be an object")
    members = _members(message.DESCRIPTOR)
    for name, value in data.items():
        if value is None:
            continue
        field = members.get(name)
        path = f"{where}.{name}" if where else name
        if field is None:
            if name in REFUSED:
                raise InvalidInput(f"{path} is not supported by Sluice")
            continue
        _set(message, field, value, path)
    return message


def _set(message: Message, field: FieldDescriptor, value: Any, path: str) -> None:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        if not isinstance(value, dict):
            raise InvalidInput(f"{path} must be an object")
        target = getattr(message, field.name)
        value_field = field.message_type.fields_by_name["value"]
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{path} keys must be strings")
            if value_field.message_type is not None:
                _message_value(value_field, item, target[key], f"{path}.{key}")
            else:
                target[key] = _scalar(value_field, item, f"{path}.{key}")
        return
    if field.is_repeated:
        if not isinstance(value, list):
            raise InvalidInput(f"{path} must be a list")
        target = getattr(message, field.name)
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if field.message_type is not None:
                _message_value(field, item, target.add(), item_path)
            else:
                target.append(_scalar(field, item, item_path))
        return
    if field.message_type is not None:
        _message_value(field, value, getattr(message, field.name), path)
        return
    setattr(message, field.name, _scalar(field, value, path))


def _message_value(field: FieldDescriptor, value: Any, target: Message, path: str) -> None:
    if field.message_type.full_name == _TIMESTAMP:
        target.CopyFrom(_timestamp(value, path))
    elif field.message_type.full_name == STRUCT:
        if not isinstance(value, dict):
            raise InvalidInput(f"{path} must be an object")
        try:
            target.update(value)
        except (ValueError, TypeError):
            raise InvalidInput(f"{path} must hold only JSON values") from None
    else:
        to_message(value, target, path)
        # An empty object still says "this member is set" (Glue's {} for a struct).
        target.SetInParent()


def _scalar(field: FieldDescriptor, value: Any, path: str) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        if not isinstance(value, str):
            raise InvalidInput(f"{path} must be a string")
        return value
    if kind == FieldDescriptor.TYPE_BOOL:
        if not isinstance(value, bool):
            raise InvalidInput(f"{path} must be a boolean")
        return value
    if kind in _INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{path} must be an integer")
        if isinstance(value, float) and not value.is_integer():
            raise InvalidInput(f"{path} must be an integer")
        number = int(value)
        bits = 32 if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32) else 64
        if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            raise InvalidInput(f"{path} is out of range")
        return number
    if kind in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{path} must be a number")
        return float(value)
    if kind == FieldDescriptor.TYPE_ENUM:
        if not isinstance(value, str):
            raise InvalidInput(f"{path} must be a string")
        number = _enum(field.enum_type).by_glue.get(_enum_key(value))
        if number is None:
            allowed = ", ".join(sorted(_enum(field.enum_type).by_number.values()))
            raise InvalidInput(f"{path} must be one of {allowed}")
        return number
    if kind == FieldDescriptor.TYPE_BYTES:
        if not isinstance(value, str):
            raise InvalidInput(f"{path} must be a string")
        return value.encode("utf-8")
    raise InvalidInput(f"{path} is not supported")  # pragma: no cover (no other proto types)


def _timestamp(value: Any, path: str) -> Timestamp:
    stamp = Timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        seconds = math.floor(value)
        stamp.seconds, stamp.nanos = seconds, round((value - seconds) * 1e9) % 1_000_000_000
        return stamp
    if isinstance(value, str):
        try:
            stamp.FromDatetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
            return stamp
        except ValueError:
            pass
    raise InvalidInput(f"{path} must be a timestamp (seconds since the epoch)")


# proto -> JSON


def to_json(message: Message, *, top: bool = False) -> dict[str, Any]:
    """A Glue JSON object of a message: its set fields (top: empty lists and maps too, as Glue
    returns `"TableList": []` and `"Tags": {}`)."""
    names = _glue_names(message.DESCRIPTOR)
    out: dict[str, Any] = {}
    if top:
        for field in message.DESCRIPTOR.fields:
            if field.is_repeated:
                is_map = (
                    field.message_type is not None and field.message_type.GetOptions().map_entry
                )
                out[names[field.name]] = {} if is_map else []
    for field, value in message.ListFields():
        out[names[field.name]] = _json_value(field, value)
    return out


def _whole_numbers(value: Any) -> Any:
    # A Struct holds every number as a double; Glue's members are integers (MaxBand: 5, not 5.0).
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def _json_value(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        return {key: _json_item(value_field, item) for key, item in value.items()}
    if field.is_repeated:
        return [_json_item(field, item) for item in value]
    return _json_item(field, value)


def _json_item(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is not None:
        if field.message_type.full_name == _TIMESTAMP:
            return value.seconds + value.nanos / 1e9
        if field.message_type.full_name == STRUCT:
            return _whole_numbers(json_format.MessageToDict(value))
        return to_json(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return _enum(field.enum_type).by_number.get(value, "")
    if field.type == FieldDescriptor.TYPE_BYTES:
        return value.decode("utf-8", "replace")
    return value
