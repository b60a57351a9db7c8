"""The request parameters an audit record keeps: enough to say what was asked, cheap to make on
every call, and never a secret.

Top-level scalars are kept; a nested message is kept by its name; lists are counted; maps keep
their keys and the values of keys that do not look secret; bytes (script content) are sized.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from sluice.common.redaction import REDACTED, is_secret_key

_NAME_FIELDS = ("name", "function_name", "connection_name")
_MAX_MAP_ENTRIES = 20
_MAX_TEXT = 256


def request_parameters(request: Message) -> dict[str, object]:
    """What to record of a request (see the module docstring)."""
    kept: dict[str, object] = {}
    for field, value in request.ListFields():
        name = field.name
        if is_secret_key(name):
            kept[name] = REDACTED
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            kept[name] = _map(value)
        elif field.is_repeated:
            kept[name] = {"count": len(value)}
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            kept[name] = _named(value)
        elif field.type == FieldDescriptor.TYPE_BYTES:
            kept[name] = {"bytes": len(value)}
        elif field.type == FieldDescriptor.TYPE_ENUM:
            kept[name] = field.enum_type.values_by_number[value].name
        elif isinstance(value, str):
            kept[name] = value[:_MAX_TEXT]
        else:
            kept[name] = value
    return kept


def _named(message: Message) -> dict[str, object]:
    for name in _NAME_FIELDS:
        if name in message.DESCRIPTOR.fields_by_name:
            value = getattr(message, name)
            if value:
                return {name: str(value)[:_MAX_TEXT]}
    return {}


def _map(entries: object) -> dict[str, object]:
    kept: dict[str, object] = {}
    for index, key in enumerate(sorted(entries)):  # type: ignore[call-overload]
        if index >= _MAX_MAP_ENTRIES:
            kept["..."] = f"{len(entries) - _MAX_MAP_ENTRIES} more"  # type: ignore[arg-type]
            break
        value = entries[key]  # type: ignore[index]
        if is_secret_key(str(key)) or not isinstance(value, str | int | float | bool):
            kept[str(key)] = REDACTED
        else:
            kept[str(key)] = value[:_MAX_TEXT] if isinstance(value, str) else value
    return kept
