"""Triggers as the rest of Sluice sees them: plain frozen dataclasses, and their checks."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sluice.catalog.core import names
from sluice.common.errors import InvalidInput
from sluice.control_plane.crawlers.model import crawler_name
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.model import RunState
from sluice.control_plane.jobs.triggers.cron import GlueCron

MAX_TRIGGER_NAME = 255
MAX_ACTIONS = 50
MAX_CONDITIONS = 500
MAX_BATCH_SIZE = 100
MAX_BATCH_WINDOW_S = 900
TRIGGER_ID_PREFIX = "tr_"
_TRIGGER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
# The run states a condition may wait for.
CONDITION_STATES = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.TIMEOUT, RunState.STOPPED}
)


class CrawlState(enum.StrEnum):
    """A finished crawl's state as Glue spells it in a condition (CrawlState)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# The crawl store's final states (crawlers.model.CrawlState) as a condition names them.
CRAWL_STATES = {
    "COMPLETED": CrawlState.SUCCEEDED,
    "FAILED": CrawlState.FAILED,
    "STOPPED": CrawlState.CANCELLED,
}


class TriggerType(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    CONDITIONAL = "CONDITIONAL"
    ON_DEMAND = "ON_DEMAND"
    EVENT = "EVENT"


class TriggerState(enum.StrEnum):
    CREATED = "CREATED"
    ACTIVATED = "ACTIVATED"
    DEACTIVATED = "DEACTIVATED"


class Logical(enum.StrEnum):
    AND = "AND"
    ANY = "ANY"


@dataclass(frozen=True)
class Action:
    """A job (or a crawler: crawler_name, job_name empty) a trigger starts. role is the job's
    (crawler's) role when the trigger was made or updated, the one its author was allowed to
    pass: a run (crawl) is started only while the job (crawler) still has it."""

    job_name: str = ""
    arguments: Mapping[str, str] = field(default_factory=dict)
    timeout: int = 0
    security_configuration: str = ""
    notify_delay_after: int = 0
    role: str = ""
    crawler_name: str = ""


@dataclass(frozen=True)
class Condition:
    """A job's run ending in state, or (job_name empty) a crawler's crawl in crawl_state."""

    job_name: str
    state: RunState | None = None
    crawler_name: str = ""
    crawl_state: CrawlState | None = None


@dataclass(frozen=True)
class Predicate:
    logical: Logical
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class EventBatching:
    batch_size: int
    batch_window: int = MAX_BATCH_WINDOW_S


@dataclass(frozen=True)
class TriggerInput:
    """What CreateTrigger (or UpdateTrigger, merged over the trigger) asks for."""

    name: str
    type: TriggerType
    actions: tuple[Action, ...]
    description: str = ""
    schedule: str = ""
    time_zone: str = ""
    predicate: Predicate | None = None
    event_batching: EventBatching | None = None
    workflow_name: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    start_on_creation: bool = False


@dataclass(frozen=True)
class Trigger:
    name: str
    account: str
    id: str
    type: TriggerType
    state: TriggerState
    actions: tuple[Action, ...]
    description: str
    schedule: str
    time_zone: str
    predicate: Predicate | None
    event_batching: EventBatching | None
    workflow_name: str
    tags: Mapping[str, str]
    next_fire_at: datetime | None
    pending_events: int
    created_on: datetime
    last_modified_on: datetime
    # The store's own key of the trigger (not part of the API).
    pk: int = field(default=0, compare=False, repr=False)

    def as_input(self) -> TriggerInput:
        return TriggerInput(
            name=self.name,
            type=self.type,
            actions=self.actions,
            description=self.description,
            schedule=self.schedule,
            time_zone=self.time_zone,
            predicate=self.predicate,
            event_batching=self.event_batching,
            workflow_name=self.workflow_name,
            tags=self.tags,
        )


def trigger_name(value: str) -> str:
    """Trigger names are case-sensitive, as job names."""
    if not value or len(value) > MAX_TRIGGER_NAME or not _TRIGGER_NAME.fullmatch(value):
        raise InvalidInput(
            f"trigger name {value!r} is not valid: use 1 to {MAX_TRIGGER_NAME} letters, "
            "digits, '_', '.' and '-', starting with a letter, digit or '_'"
        )
    return value


def workflow_name(value: str) -> str:
    """Workflow names follow the trigger names' rules."""
    if not value or len(value) > MAX_TRIGGER_NAME or not _TRIGGER_NAME.fullmatch(value):
        raise InvalidInput(
            f"workflow name {value!r} is not valid: use 1 to {MAX_TRIGGER_NAME} letters, "
            "digits, '_', '.' and '-', starting with a letter, digit or '_'"
        )
    return value


def checked(value: TriggerInput) -> TriggerInput:
    """value once every part is valid for its type; InvalidInput naming what is not."""
    trigger_name(value.name)
    checks.short_text("description", value.description, checks.MAX_DESCRIPTION)
    if value.workflow_name:
        _check_workflow_trigger(value)
    if not 1 <= len(value.actions) <= MAX_ACTIONS:
        raise InvalidInput(f"a trigger has 1 to {MAX_ACTIONS} actions")
    for action in value.actions:
        if action.crawler_name:
            _check_crawler_action(action)
            continue
        checks.job_name(action.job_name)
        checks.arguments("arguments", action.arguments)
        if action.timeout:
            checks.timeout(action.timeout)
        if action.notify_delay_after < 0:
            raise InvalidInput("notify_delay_after must not be negative")
    _tags(value.tags)
    kind = value.type
    if kind is TriggerType.SCHEDULED:
        if not value.schedule:
            raise InvalidInput("a SCHEDULED trigger needs a schedule, e.g. cron(15 12 * * ? *)")
        GlueCron.parse(value.schedule, value.time_zone)
    elif value.schedule or value.time_zone:
        raise InvalidInput(f"a {kind} trigger has no schedule")
    if kind is TriggerType.CONDITIONAL:
        _check_predicate(value.predicate)
    elif value.predicate is not None and value.predicate.conditions:
        raise InvalidInput(f"a {kind} trigger has no predicate")
    if kind is TriggerType.EVENT:
        batching = value.event_batching
        if batching is None:
            raise InvalidInput("an EVENT trigger needs an event_batching_condition")
        if not 1 <= batching.batch_size <= MAX_BATCH_SIZE:
            raise InvalidInput(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
        if not 1 <= batching.batch_window <= MAX_BATCH_WINDOW_S:
            raise InvalidInput(f"batch_window must be between 1 and {MAX_BATCH_WINDOW_S} seconds")
    elif value.event_batching is not None:
        raise InvalidInput(f"a {kind} trigger has no event_batching_condition")
    if value.start_on_creation and kind is TriggerType.ON_DEMAND:
        raise InvalidInput("start_on_creation is not for ON_DEMAND triggers: start them")
    return value


def _check_predicate(predicate: Predicate | None) -> None:
    if predicate is None or not predicate.conditions:
        raise InvalidInput("a CONDITIONAL trigger needs a predicate with conditions")
    if len(predicate.conditions) > MAX_CONDITIONS:
        raise InvalidInput(f"a predicate has at most {MAX_CONDITIONS} conditions")
    for condition in predicate.conditions:
        if condition.crawler_name:
            if condition.job_name or condition.state is not None:
                raise InvalidInput(
                    f"condition on crawler {condition.crawler_name}: a condition names a job "
                    "and a state, or a crawler and a crawl_state, not both"
                )
            crawler_name(condition.crawler_name)
            if condition.crawl_state not in CrawlState:
                raise InvalidInput(
                    f"condition on crawler {condition.crawler_name}: crawl_state "
                    f"{condition.crawl_state} is not one of SUCCEEDED, FAILED, CANCELLED"
                )
            continue
        if condition.crawl_state is not None:
            raise InvalidInput("a condition with a crawl_state names a crawler (crawler_name)")
        checks.job_name(condition.job_name)
        if condition.state not in CONDITION_STATES:
            raise InvalidInput(
                f"condition on job {condition.job_name}: state {condition.state} is not one of "
                + ", ".join(sorted(CONDITION_STATES))
            )


def _check_crawler_action(action: Action) -> None:
    if action.job_name:
        raise InvalidInput(
            f"action on crawler {action.crawler_name}: an action starts a job or a crawler, "
            "not both"
        )
    crawler_name(action.crawler_name)
    if (
        action.arguments
        or action.timeout
        or action.security_configuration
        or action.notify_delay_after
    ):
        raise InvalidInput(
            f"action on crawler {action.crawler_name}: arguments, timeout, "
            "security_configuration and notification_property are for jobs"
        )


def _tags(values: Mapping[str, str]) -> None:
    if len(values) > checks.MAX_TAGS:
        raise InvalidInput(f"a trigger has at most {checks.MAX_TAGS} tags")
    for key, value in values.items():
        if not key:
            raise InvalidInput("tag keys must not be empty")
        names.text_value("tag key", key, checks.MAX_TAG_KEY)
        names.text_value(f"tag value of {key!r}", value, checks.MAX_TAG_VALUE)


def job_names(value: TriggerInput) -> tuple[str, ...]:
    """Every job a trigger names, in its actions and its predicate."""
    named = [action.job_name for action in value.actions]
    if value.predicate is not None:
        named += [condition.job_name for condition in value.predicate.conditions]
    return tuple(dict.fromkeys(name for name in named if name))


def crawler_names(value: TriggerInput) -> tuple[str, ...]:
    """Every crawler a trigger names, in its actions and its predicate."""
    named = [action.crawler_name for action in value.actions]
    if value.predicate is not None:
        named += [condition.crawler_name for condition in value.predicate.conditions]
    return tuple(dict.fromkeys(name for name in named if name))


def _check_workflow_trigger(value: TriggerInput) -> None:
    """A workflow's trigger: its start trigger (ON_DEMAND, SCHEDULED or EVENT) or a
    CONDITIONAL one."""
    workflow_name(value.workflow_name)
