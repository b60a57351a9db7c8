"""Validation of what callers give the job store: each check returns the normalised value or
raises InvalidInput, before anything is written."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sluice.catalog.core import names
from sluice.common.errors import InvalidInput
from sluice.control_plane.jobs import workers
from sluice.control_plane.jobs.model import (
    DEFAULT_MAX_CONCURRENT_RUNS,
    DEFAULT_TIMEOUT_MINUTES,
    CommandName,
    JobCommand,
    JobInput,
    Params,
)
from sluice.control_plane.jobs.scripts import parse_script_location

MAX_JOB_NAME = 255
MAX_DESCRIPTION = 2048
MAX_ROLE = 2048
MAX_SHORT_TEXT = 255
MAX_ARGUMENT_VALUE = 65_536
MAX_RETRIES = 10
MAX_TIMEOUT_MINUTES = 10_080
MAX_CONCURRENT_RUNS = 1000
MAX_CONNECTIONS = 1000
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
MAX_GLUE_PROPERTIES_BYTES = 8192
MAX_CODE_GEN_NODES_BYTES = 256 * 1024
_JOB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_ARGUMENT_KEY = re.compile(r"--[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_PYTHON_VERSION = re.compile(r"3(\.[0-9]{1,2})?")


@dataclass(frozen=True)
class CheckedJob:
    """A JobInput with every default resolved and every field validated."""

    name: str
    description: str
    role: str
    command: JobCommand
    default_arguments: dict[str, str]
    non_overridable_arguments: dict[str, str]
    max_retries: int
    timeout: int
    max_concurrent_runs: int
    worker_type: str
    number_of_workers: int
    connections: tuple[str, ...]
    tags: dict[str, str]
    glue_properties: dict[str, object]
    code_gen_configuration_nodes: dict[str, object]


def account(value: str) -> str:
    """The account a store method was given: resolved by the caller, so never empty."""
    if not value:
        raise InvalidInput("account must not be empty")
    return names.catalog_id(value, default=value)


def job_name(value: str) -> str:
    """Job names are case-sensitive, as in Glue."""
    if not value or len(value) > MAX_JOB_NAME or not _JOB_NAME.fullmatch(value):
        raise InvalidInput(
            f"job name {value!r} is not valid: use 1 to {MAX_JOB_NAME} letters, digits, "
            "'_', '.' and '-', starting with a letter, digit or '_'"
        )
    return value


def short_text(field: str, value: str, max_length: int = MAX_SHORT_TEXT) -> str:
    return names.text_value(field, value, max_length)


def arguments(field: str, values: Mapping[str, str]) -> dict[str, str]:
    """Job and run arguments: keys look like --name, as Glue's job parameters."""
    for key, value in values.items():
        if len(key) > MAX_SHORT_TEXT or not _ARGUMENT_KEY.fullmatch(key):
            raise InvalidInput(
                f"{field} key {key!r} is not valid: keys look like --name (letters, digits, "
                "'_', '.' and '-' after the two dashes)"
            )
        if len(value) > MAX_ARGUMENT_VALUE:
            raise InvalidInput(f"{field} value of {key} is longer than {MAX_ARGUMENT_VALUE}")
    return dict(values)


def merged_arguments(
    job_defaults: Params, run_arguments: Params, non_overridable: Params
) -> dict[str, str]:
    """A run's arguments: the job's defaults, then the run's, then the non-overridable ones."""
    return {**job_defaults, **arguments("arguments", run_arguments), **non_overridable}


def command(value: JobCommand) -> JobCommand:
    try:
        name = CommandName(value.name)
    except ValueError:
        allowed = ", ".join(str(c) for c in CommandName)
        raise InvalidInput(f"command.name {value.name!r} is not one of {allowed}") from None
    parse_script_location(value.script_location)
    python_version = value.python_version or "3"
    if not _PYTHON_VERSION.fullmatch(python_version):
        raise InvalidInput(f"command.python_version {python_version!r} is not a Python 3 version")
    return JobCommand(
        name=name, script_location=value.script_location, python_version=python_version
    )


def timeout(value: int) -> int:
    """Minutes; 0 is Glue's default of 2,880."""
    if value == 0:
        return DEFAULT_TIMEOUT_MINUTES
    if not 1 <= value <= MAX_TIMEOUT_MINUTES:
        raise InvalidInput(f"timeout must be between 1 and {MAX_TIMEOUT_MINUTES} minutes")
    return value


def _bounded_int(field: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}")
    return value


def _tags(values: Mapping[str, str]) -> dict[str, str]:
    if len(values) > MAX_TAGS:
        raise InvalidInput(f"a job has at most {MAX_TAGS} tags")
    for key, value in values.items():
        if not key:
            raise InvalidInput("tag keys must not be empty")
        names.text_value("tag key", key, MAX_TAG_KEY)
        names.text_value(f"tag value of {key!r}", value, MAX_TAG_VALUE)
    return dict(values)


def notify_delay_after(value: int | None) -> int | None:
    """Glue's NotifyDelayAfter: minutes, at least 1; None or 0 for none given."""
    if not value:
        return None
    return _bounded_int("notify_delay_after", value, 1, MAX_TIMEOUT_MINUTES)


def _glue_properties(values: Mapping[str, object]) -> dict[str, object]:
    # Kept only to be returned: bounded, so that they cannot bloat the store.
    notification = values.get("notification_property")
    if isinstance(notification, dict):
        delay = notification.get("notify_delay_after")
        if isinstance(delay, int):
            notify_delay_after(delay)
    size = len(json.dumps(dict(values), default=str))
    if size > MAX_GLUE_PROPERTIES_BYTES:
        raise InvalidInput(
            f"the job's Glue-only members (GlueVersion, MaxCapacity, LogUri, ...) take {size} "
            f"bytes, at most {MAX_GLUE_PROPERTIES_BYTES}"
        )
    return dict(values)


def _code_gen_nodes(values: Mapping[str, object]) -> dict[str, object]:
    # Stored and returned as given: bounded (what they mean is the code generator's check).
    size = len(json.dumps(dict(values), default=str))
    if size > MAX_CODE_GEN_NODES_BYTES:
        raise InvalidInput(
            f"the job's CodeGenConfigurationNodes take {size} bytes, at most "
            f"{MAX_CODE_GEN_NODES_BYTES}"
        )
    return dict(values)


def _connections(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(values) > MAX_CONNECTIONS:
        raise InvalidInput(f"a job has at most {MAX_CONNECTIONS} connections")
    return tuple(names.resource_name("connection", value) for value in values)


def job_input(value: JobInput) -> CheckedJob:
    role = short_text("role", value.role, MAX_ROLE)
    if not role:
        raise InvalidInput("role must not be empty")
    return CheckedJob(
        name=job_name(value.name),
        description=short_text("description", value.description, MAX_DESCRIPTION),
        role=role,
        command=command(value.command),
        default_arguments=arguments("default_arguments", value.default_arguments),
        non_overridable_arguments=arguments(
            "non_overridable_arguments", value.non_overridable_arguments
        ),
        max_retries=_bounded_int("max_retries", value.max_retries, 0, MAX_RETRIES),
        timeout=timeout(value.timeout),
        max_concurrent_runs=_bounded_int(
            "max_concurrent_runs",
            value.max_concurrent_runs or DEFAULT_MAX_CONCURRENT_RUNS,
            1,
            MAX_CONCURRENT_RUNS,
        ),
        worker_type=workers.checked_worker_type(value.worker_type),
        number_of_workers=workers.checked_number_of_workers(value.number_of_workers),
        connections=_connections(tuple(value.connections)),
        tags=_tags(value.tags),
        glue_properties=_glue_properties(value.glue_properties),
        code_gen_configuration_nodes=_code_gen_nodes(value.code_gen_configuration_nodes),
    )


_TRACE_PARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def trace_parent(value: str) -> str:
    """A W3C traceparent, or "" (anything else is dropped: tracing must never fail a run)."""
    return value if _TRACE_PARENT.match(value or "") else ""
