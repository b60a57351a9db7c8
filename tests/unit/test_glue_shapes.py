"""The Glue door's contract with Glue's service model (botocore's `glue` model): every RPC with
a Glue operation's name is served, and its request and response convert to and from Glue's
shapes (member names, kinds, enum values), with only the Sluice extensions listed here."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.parsers import JSONParser
from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor
from google.protobuf.message import Message

import sluice
from sluice.common.errors import InvalidInput
from sluice.control_plane.app import GLUE_SERVED
from sluice.control_plane.glue.operations import glue_operations
from sluice.control_plane.glue.shapes import (
    ENUM_RENAMES,
    STRUCT,
    glue_name,
    to_json,
    to_message,
)

pytestmark = pytest.mark.unit

MODEL = botocore.session.get_session().get_service_model("glue")
GLUE_OPERATIONS = set(MODEL.operation_names)
SERVED = glue_operations(GLUE_SERVED)
# Proto fields Glue's shapes do not have: Sluice's own additions, harmless to Glue clients
# (botocore ignores response members it does not know; requests never set them).
EXTENSIONS = frozenset(
    {
        "segment",  # parallel listing of GetTables, GetDatabases, ... (Glue: GetPartitions only)
        "sluice.catalog.v1.Connection.catalog_id",
        "sluice.jobs.v1.Job.tags",
        "sluice.jobs.v1.JobRun.environment_id",
        "sluice.jobs.v1.JobRun.warm_start",
        "schedule_time_zone",
        "sluice.jobs.v1.Trigger.next_fire_time",
        "sluice.crawlers.v1.CrawlerMetrics.files_total",  # the progress bar of crawlers start
        "sluice.crawlers.v1.CrawlerMetrics.files_done",
    }
)
_KINDS = {
    FieldDescriptor.TYPE_STRING: {"string"},
    FieldDescriptor.TYPE_BOOL: {"boolean"},
    FieldDescriptor.TYPE_INT32: {"integer", "long"},
    FieldDescriptor.TYPE_INT64: {"long", "integer"},
    FieldDescriptor.TYPE_DOUBLE: {"double", "float"},
    FieldDescriptor.TYPE_ENUM: {"string"},
}


def _services() -> Iterator[ServiceDescriptor]:
    for module in pkgutil.walk_packages(sluice.__path__, "sluice."):
        if module.name.endswith("_pb2") and ".v1." in module.name:
            yield from importlib.import_module(module.name).DESCRIPTOR.services_by_name.values()


def _is_extension(message: Descriptor, field: FieldDescriptor) -> bool:
    return field.name in EXTENSIONS or f"{message.full_name}.{field.name}" in EXTENSIONS


def _mismatches(shape: Any, message: Descriptor, path: str, seen: set[str]) -> Iterator[str]:
    if message.full_name == STRUCT:
        # Kept as Glue's JSON (a visual job's nodes); their members are checked where they are
        # read (test_codegen_nodes: every member Sluice reads is Glue's).
        if shape.type_name != "structure":
            yield f"{path}: a structure (Struct), Glue's is a {shape.type_name}"
        return
    if message.full_name in seen:
        return
    seen = {*seen, message.full_name}
    for field in message.fields:
        name = glue_name(message, field)
        where = f"{path}.{name}"
        member = shape.members.get(name)
        if member is None:
            if not _is_extension(message, field):
                yield f"{where}: {message.full_name}.{field.name} is not a member of {shape.name}"
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if member.type_name != "map":
                yield f"{where}: a map, Glue's is a {member.type_name}"
                continue
            value = field.message_type.fields_by_name["value"]
            if value.message_type is not None:
                yield from _mismatches(member.value, value.message_type, where, seen)
            continue
        if field.is_repeated:
            if member.type_name != "list":
                yield f"{where}: a list, Glue's is a {member.type_name}"
                continue
            member = member.member
        if field.message_type is not None:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                if member.type_name != "timestamp":
                    yield f"{where}: a timestamp, Glue's is a {member.type_name}"
            elif member.type_name != "structure":
                yield f"{where}: a structure, Glue's is a {member.type_name}"
            else:
                yield from _mismatches(member, field.message_type, where, seen)
        elif member.type_name not in _KINDS.get(field.type, ()):
            yield f"{where}: proto type {field.type}, Glue's is a {member.type_name}"
        elif field.type == FieldDescriptor.TYPE_ENUM and member.enum:
            ours = {
                ENUM_RENAMES.get((field.enum_type.full_name, value), value)
                for value in (
                    v.name.removeprefix(_prefix(field)) for v in field.enum_type.values[1:]
                )
            }
            if not ours <= set(member.enum):
                yield f"{where}: values {sorted(ours - set(member.enum))} are not Glue's"


def _prefix(field: FieldDescriptor) -> str:
    return field.enum_type.values_by_number[0].name.removesuffix("UNSPECIFIED")


def _sample(message: Message, depth: int = 0) -> Message:
    """Every field of message set (nested ones down to a depth)."""
    for field in message.DESCRIPTOR.fields:
        if field.containing_oneof is not None and message.WhichOneof(field.containing_oneof.name):
            continue
        target = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            if value.message_type is None:
                target["k"] = _scalar(value)
            elif depth < 4:
                _sample(target["k"], depth + 1)
        elif field.message_type is not None:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                item = target.add() if field.is_repeated else target
                item.seconds = 1_700_000_000
            elif depth < 4:
                _sample(target.add() if field.is_repeated else target, depth + 1)
        elif field.is_repeated:
            target.append(_scalar(field))
        else:
            setattr(message, field.name, _scalar(field))
    return message


def _scalar(field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values[-1].number
    return {
        FieldDescriptor.TYPE_STRING: "x",
        FieldDescriptor.TYPE_BOOL: True,
        FieldDescriptor.TYPE_DOUBLE: 1.5,
        FieldDescriptor.TYPE_BYTES: b"x",
    }.get(field.type, 7)


def _glue_rpcs() -> list[str]:
    names = []
    for service in _services():
        if service.full_name not in GLUE_SERVED:
            continue
        for method in service.methods:
            if method.name in GLUE_OPERATIONS:
                names.append(method.name)
    return sorted(names)


def test_every_rpc_named_as_a_glue_operation_is_served() -> None:
    missing = [
        f"{service.full_name}/{method.name}"
        for service in _services()
        if service.full_name in GLUE_SERVED
        for method in service.methods
        if method.name in GLUE_OPERATIONS and method.name not in SERVED
    ]
    assert not missing, f"RPCs with a Glue operation's name but no Glue mapping: {missing}"
    assert {"GetTable", "GetPartitions", "CreateJob", "StartJobRun", "GetJobRuns"} <= set(SERVED)


@pytest.mark.parametrize("name", _glue_rpcs())
def test_request_and_response_are_glues_shapes(name: str) -> None:
    op, model = SERVED[name], MODEL.operation_model(name)
    problems = list(_mismatches(model.input_shape, op.request.DESCRIPTOR, f"{name} input", set()))
    if model.output_shape is not None:
        problems += _mismatches(model.output_shape, op.response.DESCRIPTOR, f"{name} output", set())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", _glue_rpcs())
def test_requests_round_trip_and_responses_parse_with_botocore(name: str) -> None:
    op, model = SERVED[name], MODEL.operation_model(name)
    request = _sample(op.request())
    assert to_message(json.loads(json.dumps(to_json(request))), op.request()) == request
    response = _sample(op.response())
    body = json.dumps(to_json(response, top=True)).encode()
    parsed = JSONParser().parse(
        {"body": body, "headers": {}, "status_code": 200}, model.output_shape
    )
    assert "Error" not in parsed
    if model.output_shape is not None:
        glue_members = {
            glue_name(op.response.DESCRIPTOR, f)
            for f in op.response.DESCRIPTOR.fields
            if not _is_extension(op.response.DESCRIPTOR, f)
        }
        assert glue_members <= set(parsed)


def test_member_errors_name_the_member() -> None:
    request = SERVED["GetPartitions"].request
    with pytest.raises(InvalidInput, match=r"Segment\.SegmentNumber must be an integer"):
        to_message({"Segment": {"SegmentNumber": "one"}}, request())
    with pytest.raises(InvalidInput, match="QueryAsOfTime is not supported"):
        to_message({"QueryAsOfTime": 1}, request())
    run = SERVED["GetJobRuns"].response
    with pytest.raises(InvalidInput, match=r"JobRuns\[0\]\.JobRunState must be one of"):
        to_message({"JobRuns": [{"JobRunState": "DANCING"}]}, run())
    # Members Sluice has no machinery for are accepted (ignored).
    assert to_message({"AuditContext": {"AllColumnsRequested": True}}, request()) == request()


def test_timestamps_are_epoch_seconds() -> None:
    table = SERVED["CreateTable"].request
    message = to_message({"TableInput": {"Name": "t", "LastAccessTime": 1700000000.25}}, table())
    assert message.table_input.last_access_time.seconds == 1_700_000_000
    assert message.table_input.last_access_time.nanos == 250_000_000
    assert to_json(message)["TableInput"]["LastAccessTime"] == 1700000000.25
