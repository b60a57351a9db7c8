"""Reading what commands are given: input files (JSON or YAML) and flag values.

YAML types unquoted scalars (2024, true, 2024-01-31), while the API's fields are mostly
strings; values are converted by the type of the field they fill, so `values: [2024, "01"]`
means what its author meant.

An input file may be written in Sluice's snake_case or in Glue's PascalCase (as `aws glue
get-table` prints it, wrapper `{"Table": ...}` included), and what a get command prints with
`-o json` feeds back into the matching create or update: one conversion driven by the proto
descriptors. Keys become field names (`StorageDescriptor` is `storage_descriptor`), enum values
may drop their prefix (`USER` is `PRINCIPAL_TYPE_USER`), timestamps may be epoch seconds, and
what the server sets (the fields a resource has and its input lacks: create_time, version_id,
catalog_id, ...) is ignored, as are Glue's fields that Sluice does not keep (with a warning
when they hold something).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, TypeVar

import click
import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from sluice.catalog.v1 import types_pb2 as catalog_types
from sluice.jobs.v1 import jobs_pb2
from sluice.jobs.v1 import types_pb2 as job_types
from sluice.sdk.cli.failures import InputFileError
from sluice.sdk.messages import to_message

M = TypeVar("M", bound=Message)

_TIMESTAMP = "google.protobuf.Timestamp"

# The resource each input message writes: the resource's fields that the input lacks are set by
# the server (times, versions, the account, the parent's name) and ignored on input, so that a
# get's output is a valid input.
_RESOURCE_OF: dict[str, Descriptor] = {
    catalog_types.DatabaseInput.DESCRIPTOR.full_name: catalog_types.Database.DESCRIPTOR,
    catalog_types.TableInput.DESCRIPTOR.full_name: catalog_types.Table.DESCRIPTOR,
    catalog_types.PartitionInput.DESCRIPTOR.full_name: catalog_types.Partition.DESCRIPTOR,
    catalog_types.ConnectionInput.DESCRIPTOR.full_name: catalog_types.Connection.DESCRIPTOR,
    catalog_types.UserDefinedFunctionInput.DESCRIPTOR.full_name: (
        catalog_types.UserDefinedFunction.DESCRIPTOR
    ),
    jobs_pb2.CreateJobRequest.DESCRIPTOR.full_name: job_types.Job.DESCRIPTOR,
    job_types.JobUpdate.DESCRIPTOR.full_name: job_types.Job.DESCRIPTOR,
}

# Glue's fields that Sluice does not keep: read-only ones, ignored silently...
_GLUE_READ_ONLY = frozenset(
    {
        "allocated_capacity",
        "auto_upgrade_metadata",
        "compatible_compute_environments",
        "connection_schema_version",
        "iceberg_table_metadata",
        "is_materialized_view",
        "is_multi_dialect_view",
        "is_registered_with_lake_formation",
        "last_connection_validation_time",
        "profile_name",
        "rls_properties",
        "status",
        "status_reason",
    }
)
# ...and settings, ignored with a warning when they hold something.
_GLUE_NOT_KEPT = frozenset(
    {
        "artifact_location",
        "athena_properties",
        "authentication_configuration",
        "code_gen_configuration_nodes",
        "create_table_default_permissions",
        "execution_class",
        "federated_database",
        "federated_table",
        "function_type",
        "glue_version",
        "governance_mode",
        "job_mode",
        "job_run_queuing_enabled",
        "last_analyzed_time",
        "last_modified",
        "log_uri",
        "maintenance_window",
        "max_capacity",
        "notification_property",
        "python_properties",
        "runtime",
        "schema_reference",
        "security_configuration",
        "skewed_info",
        "source_control_details",
        "spark_properties",
        "target_database",
        "target_table",
        "validate_credentials",
        "validate_for_compute_environments",
        "view_definition",
    }
)
# Names that do not become a field by case alone: IAM policy documents' singular keys.
_RENAMES = {"statement": "statements", "action": "actions", "resource": "resources"}
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


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


def load_input(stream: IO[str], cls: type[Message]) -> dict[str, Any]:
    """The input file in `stream` as a document of `cls`'s fields (see `input_document`).

    Raises:
        InputFileError: The file cannot be read, or is not a mapping.
    """
    return input_document(load_document(stream), cls, source=getattr(stream, "name", "<input>"))


def input_document(document: Any, cls: type[Message], *, source: str) -> dict[str, Any]:
    """A document of `cls`'s fields by their proto names, from Sluice's or Glue's shape.

    Unwraps Glue's {"Table": ...}; renames Glue's keys; drops what the server sets and, with a
    warning on stderr, Glue's settings that Sluice does not keep; types scalar values by their
    field. Unknown keys are kept, for `message_from` to name.

    Raises:
        InputFileError: The document is not a mapping.
    """
    descriptor = cls.DESCRIPTOR
    resource = _RESOURCE_OF.get(descriptor.full_name)
    if isinstance(document, Mapping):
        document = _unwrapped(document, descriptor, resource, plural=False)
    if not isinstance(document, Mapping):
        raise InputFileError(
            f"{source}: expected a mapping of {descriptor.name} fields, not {_yaml_type(document)}"
        )
    read_only = frozenset() if resource is None else _only_in(resource, descriptor)
    ignored: list[str] = []
    data = _normalise(document, descriptor, read_only=read_only, ignored=ignored)
    if ignored:
        click.echo(
            f"warning: {source}: Sluice does not keep Glue's {', '.join(ignored)}; ignored",
            err=True,
        )
    return data


def message_from(document: Any, cls: type[M], *, source: str) -> M:
    """The message a document (in Sluice's or Glue's shape, see `input_document`) describes.

    Raises:
        InputFileError: The document is not a mapping, or does not fit the message.
    """
    data = input_document(document, cls, source=source)
    try:
        return to_message(data, cls)
    except (TypeError, ValueError) as exc:
        raise InputFileError(f"{source}: {exc}") from None


def messages_from(document: Any, cls: type[M], *, source: str) -> list[M]:
    """The messages a document holding a list (or Glue's {"Partitions": [...]}) describes.

    Raises:
        InputFileError: The document is not a list, or an item does not fit the message.
    """
    descriptor = cls.DESCRIPTOR
    if isinstance(document, Mapping):
        resource = _RESOURCE_OF.get(descriptor.full_name)
        document = _unwrapped(document, descriptor, resource, plural=True)
    if not isinstance(document, list):
        raise InputFileError(
            f"{source}: expected a list of {descriptor.name}, not {_yaml_type(document)}"
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


def snake_case(name: str) -> str:
    """A Glue member name in snake_case: StorageDescriptor -> storage_descriptor."""
    return _WORD_BOUNDARY.sub("_", name).lower()


def _only_in(resource: Descriptor, input_: Descriptor) -> frozenset[str]:
    return frozenset(resource.fields_by_name) - frozenset(input_.fields_by_name)


def _unwrapped(
    document: Mapping[Any, Any],
    descriptor: Descriptor,
    resource: Descriptor | None,
    *,
    plural: bool,
) -> Any:
    """The document inside a wrapper such as `aws glue get-table`'s {"Table": {...}} or
    get-partitions' {"Partitions": [...]}; the document itself when it is no wrapper."""
    if len(document) != 1:
        return document
    ((key, inner),) = document.items()
    if not isinstance(key, str) or _field_of(key, descriptor) is not None:
        return document
    names = {snake_case(descriptor.name)}
    if resource is not None:
        names.add(snake_case(resource.name))
    if plural:
        names = {f"{name}s" for name in names} | {f"{name}_list" for name in names}
    return inner if snake_case(key) in names else document


def _field_of(key: str, descriptor: Descriptor) -> FieldDescriptor | None:
    field = descriptor.fields_by_name.get(key) or descriptor.fields_by_camelcase_name.get(key)
    if field is None:
        snake = snake_case(key)
        field = descriptor.fields_by_name.get(snake) or descriptor.fields_by_name.get(
            _RENAMES.get(snake, "")
        )
    return field


def _normalise(
    document: Mapping[Any, Any],
    descriptor: Descriptor,
    *,
    read_only: frozenset[str] = frozenset(),
    ignored: list[str],
) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, value in document.items():
        field = _field_of(key, descriptor) if isinstance(key, str) else None
        if field is not None:
            result[field.name] = _field_value(value, field, ignored)
            continue
        snake = snake_case(key) if isinstance(key, str) else ""
        if snake in read_only or snake in _GLUE_READ_ONLY:
            continue
        if snake in _GLUE_NOT_KEPT:
            if not _empty(value):
                ignored.append(key)
            continue
        result[key] = value  # unknown: to_message names it
    return result


def _empty(value: Any) -> bool:
    if isinstance(value, Mapping):
        return all(_empty(v) for v in value.values())
    if isinstance(value, list):
        return all(_empty(v) for v in value)
    return not value


def _field_value(value: Any, field: FieldDescriptor, ignored: list[str]) -> Any:
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        if not isinstance(value, Mapping):
            return value
        key_field = message_type.fields_by_name["key"]
        value_field = message_type.fields_by_name["value"]
        return {
            _single(k, key_field, ignored): _single(v, value_field, ignored)
            for k, v in value.items()
        }
    if field.is_repeated and isinstance(value, list):
        return [_single(item, field, ignored) for item in value]
    if field.is_repeated and field.type != FieldDescriptor.TYPE_MESSAGE and value is not None:
        return [_single(value, field, ignored)]  # "Action": "glue:*" as IAM writes one
    return _single(value, field, ignored)


def _single(value: Any, field: FieldDescriptor, ignored: list[str]) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return _rfc3339(dt.datetime.fromtimestamp(value, tz=dt.UTC))
            if isinstance(value, dt.date):
                return _rfc3339(value)
            return value
        if isinstance(value, Mapping):
            return _normalise(value, field.message_type, ignored=ignored)
        return value
    if field.type == FieldDescriptor.TYPE_ENUM and isinstance(value, str):
        enum = field.enum_type
        if value not in enum.values_by_name:
            prefixed = f"{snake_case(enum.name).upper()}_{value.upper()}"
            if prefixed in enum.values_by_name:
                return prefixed
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
