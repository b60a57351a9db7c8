"""Workflows as the rest of Sluice sees them: plain frozen dataclasses, and their checks."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sluice.catalog.core import names
from sluice.common.errors import InvalidInput
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.model import JobRun
from sluice.control_plane.jobs.triggers.model import Trigger, workflow_name

WORKFLOW_RUN_ID_PREFIX = "wr_"
MAX_RUN_PROPERTIES = 100
MAX_PROPERTY_VALUE = 65535
# Glue's MaxConcurrentRuns has no documented maximum; Sluice's bound.
MAX_CONCURRENT_RUNS = 1000

__all__ = ["workflow_name"]


class RunStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    ERROR = "ERROR"


# The statuses of a run that holds one of its workflow's max_concurrent_runs slots.
ACTIVE_STATUSES = frozenset({RunStatus.RUNNING, RunStatus.STOPPING})


@dataclass(frozen=True)
class WorkflowInput:
    """What CreateWorkflow (or UpdateWorkflow: tags ignored) asks for."""

    name: str
    description: str = ""
    default_run_properties: Mapping[str, str] = field(default_factory=dict)
    max_concurrent_runs: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Statistics:
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    stopped: int = 0
    timeout: int = 0
    errored: int = 0
    running: int = 0
    waiting: int = 0


@dataclass(frozen=True)
class WorkflowCrawl:
    """A crawl a workflow run began; state as Glue spells a crawl's (RUNNING, SUCCEEDED,
    FAILED, CANCELLED)."""

    crawler_name: str
    state: str
    started_on: datetime
    completed_on: datetime | None
    error_message: str


@dataclass(frozen=True)
class WorkflowRun:
    workflow_name: str
    run_id: str
    previous_run_id: str
    properties: Mapping[str, str]
    status: RunStatus
    error_message: str
    started_on: datetime
    completed_on: datetime | None
    statistics: Statistics
    # The job runs it started and the crawls it began (oldest first).
    job_runs: tuple[JobRun, ...] = ()
    crawls: tuple[WorkflowCrawl, ...] = ()
    # Its graph: the workflow's triggers as they were when it started (read with its job runs;
    # None when not read, or for a run recorded before runs kept their graph).
    graph: tuple[Trigger, ...] | None = None


@dataclass(frozen=True)
class Workflow:
    name: str
    account: str
    description: str
    default_run_properties: Mapping[str, str]
    max_concurrent_runs: int
    tags: Mapping[str, str]
    created_on: datetime
    last_modified_on: datetime
    last_run: WorkflowRun | None = None


def checked(value: WorkflowInput) -> WorkflowInput:
    workflow_name(value.name)
    checks.short_text("description", value.description, checks.MAX_DESCRIPTION)
    run_properties(value.default_run_properties)
    if not 0 <= value.max_concurrent_runs <= MAX_CONCURRENT_RUNS:
        raise InvalidInput(
            f"max_concurrent_runs must be between 0 (no limit) and {MAX_CONCURRENT_RUNS}"
        )
    if len(value.tags) > checks.MAX_TAGS:
        raise InvalidInput(f"a workflow has at most {checks.MAX_TAGS} tags")
    for key, tag in value.tags.items():
        if not key:
            raise InvalidInput("tag keys must not be empty")
        names.text_value("tag key", key, checks.MAX_TAG_KEY)
        names.text_value(f"tag value of {key!r}", tag, checks.MAX_TAG_VALUE)
    return value


def run_properties(values: Mapping[str, str]) -> Mapping[str, str]:
    if len(values) > MAX_RUN_PROPERTIES:
        raise InvalidInput(f"a workflow run has at most {MAX_RUN_PROPERTIES} properties")
    for key, value in values.items():
        if not key or len(key) > 255:
            raise InvalidInput(f"run property name {key[:40]!r} must be 1 to 255 characters")
        if len(value) > MAX_PROPERTY_VALUE:
            raise InvalidInput(f"run property {key} is longer than {MAX_PROPERTY_VALUE}")
    return values


def workflow_run_id(value: str) -> str:
    if not value.startswith(WORKFLOW_RUN_ID_PREFIX) or not 3 < len(value) <= 80:
        raise InvalidInput(f"workflow run id {value[:80]!r} is not valid")
    return value
