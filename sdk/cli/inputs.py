"""Reading what commands are given: input files (JSON or YAML) and flag values.

YAML types unquoted scalars (2024, true, 2024-01-31), while the API's fields are mostly
strings; values are converted by the type of the field they fill, so `values: [2024, "01"]`
means what its author meant.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, TypeVar

import click
import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from sdk.cli.failures import InputFileError
from sdk.messages import to_message

M = TypeVar("M", bound=Message)

_TIMESTAMP = "google.protobuf.Timestamp"


def load_document(stream: IO[str]) -> Any:
    """The JSON or YAML document in `stream` (YAML reads JSON too).

    Raises:
        InputFileError: The file is not text, not valid JSON or YAML, or is empty.
    """
    name = getattr(stream, "name", "<input>")
    try:
        text = stream.read()
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{name}: not a UTF-8 text file ({exc.reason})") from None
    try:
        document = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except yaml.MarkedYAMLError as exc:
        where = "" if exc.problem_mark is None else f" (line {exc.problem_mark.line + 1})"
        raise InputFileError(f"{name}: not valid YAML: {exc.problem}{where}") from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"{name}: not valid YAML: {exc}") from None
    if document is None:
        raise InputFileError(f"{name}: the file is empty")
    return document


def message_from(document: Any, cls: type[M], *, source: str) -> M:
    """The message a document describes.

    Raises:
        InputFileError: The document is not a mapping, or does not fit the message.
    """
    if not isinstance(document, Mapping):
        raise InputFileError(
            f"{source}: expected a mapping of {cls.DESCRIPTOR.name} fields, "
            f"not {_yaml_type(document)}"
        )
    try:
        return to_message(_normalise(document, cls.DESCRIPTOR), cls)
    except (TypeError, ValueError) as exc:
        raise InputFileError(f"{source}: {exc}") from None


def messages_from(document: Any, cls: type[M], *, source: str) -> list[M]:
    """The messages a document holding a list describes.

    Raises:
        InputFileError: The document is not a list, or an item does not fit the message.
    """
    if not isinstance(document, list):
        raise InputFileError(
            f"{source}: expected a list of {cls.DESCRIPTOR.name}, not {_yaml_type(document)}"
        )
    return [message_from(item, cls, source=f"{source}[{i}]") for i, item in enumerate(document)]


def overlay(document: Any, *, source: str, what: str, **fields: Any) -> dict[str, Any]:
    """A copy of a document (a mapping) with the flags that were given laid over it.

    A None field was not given and changes nothing; a dict field (such as parameters) is
    merged into the document's own.

    Raises:
        InputFileError: The document is not a mapping.
    """
    if not isinstance(document, Mapping):
        raise InputFileError(
            f"{source}: expected a mapping of {what} fields, not {_yaml_type(document)}"
        )
    data = dict(document)
    for key, value in fields.items():
        if value is None:
            continue
        current = data.get(key)
        if isinstance(value, dict) and isinstance(current, Mapping):
            data[key] = {**current, **value}
        else:
            data[key] = value
    return data


def input_fields(message: Message, input_cls: type[Message]) -> dict[str, Any]:
    """The fields of a resource that its *Input message also has, as a document.

    Used to change a resource from flags: read it, lay the flags over, write it back.
    """
    known = input_cls.DESCRIPTOR.fields_by_name
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return {key: value for key, value in data.items() if key in known}


def key_values(pairs: Iterable[str], *, option: str) -> dict[str, str]:
    """{"k": "v"} from ["k=v", ...].

    Raises:
        click.BadParameter: An item has no '='.
    """
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, not {pair!r}", param_hint=option)
        result[key] = value
    return result


def columns(specs: Sequence[str], *, option: str) -> list[dict[str, str]]:
    """Column dicts from "name:type" specs; the type may itself hold ':' (struct<a:int>).

    Raises:
        click.BadParameter: A spec has no type.
    """
    result = []
    for spec in specs:
        name, sep, type_ = spec.partition(":")
        if not sep or not name or not type_:
            raise click.BadParameter(f"expected NAME:TYPE, not {spec!r}", param_hint=option)
        result.append({"name": name, "type": type_})
    return result


def comma_values(text: str) -> list[str]:
    """Partition values from "a,b,c"."""
    return [part.strip() for part in text.split(",")]


def _normalise(document: Mapping[Any, Any], descriptor: Descriptor) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, value in document.items():
        field = descriptor.fields_by_name.get(key) or descriptor.fields_by_camelcase_name.get(key)
        result[key] = value if field is None else _field_value(value, field)
    return result


def _field_value(value: Any, field: FieldDescriptor) -> Any:
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        if not isinstance(value, Mapping):
            return value
        key_field = message_type.fields_by_name["key"]
        value_field = message_type.fields_by_name["value"]
        return {_single(k, key_field): _single(v, value_field) for k, v in value.items()}
    if field.is_repeated and isinstance(value, list):
        return [_single(item, field) for item in value]
    return _single(value, field)


def _single(value: Any, field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP and isinstance(value, dt.date):
            return _rfc3339(value)
        if isinstance(value, Mapping):
            return _normalise(value, field.message_type)
        return value
    if field.type == FieldDescriptor.TYPE_STRING:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, dt.date):
            return value.isoformat()
    return value


def _rfc3339(value: dt.date) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def _yaml_type(document: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(document), type(document).__name__
    )
