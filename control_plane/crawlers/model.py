"""Crawlers, crawls and classifiers as the store returns them, their states, and Glue's
crawler errors."""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sluice.common.errors import FailedPrecondition, InvalidInput

MAX_NAME = 255
_NAME = re.compile(r"[\u0020-\uD7FF\uE000-\uFFFD\t]+")


class CrawlerState(enum.StrEnum):
    READY = "READY"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"


class CrawlState(enum.StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"

    def is_terminal(self) -> bool:
        return self is not CrawlState.RUNNING


class ScheduleState(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    NOT_SCHEDULED = "NOT_SCHEDULED"


class CrawlerRunning(FailedPrecondition):
    reason = "CrawlerRunningException"


class CrawlerNotRunning(FailedPrecondition):
    reason = "CrawlerNotRunningException"


class CrawlerStopping(FailedPrecondition):
    reason = "CrawlerStoppingException"


class SchedulerRunning(FailedPrecondition):
    reason = "SchedulerRunningException"


class SchedulerNotRunning(FailedPrecondition):
    reason = "SchedulerNotRunningException"


class NoSchedule(FailedPrecondition):
    reason = "NoScheduleException"


def crawler_name(value: str) -> str:
    """A crawler's or classifier's name, as Glue's NameString."""
    if not value or len(value) > MAX_NAME or not _NAME.fullmatch(value) or "/" in value:
        raise InvalidInput(f"name {value!r} is not valid (1 to {MAX_NAME} characters, no '/')")
    return value


def new_crawl_id() -> str:
    return "crawl-" + secrets.token_hex(12)


@dataclass(frozen=True)
class Crawler:
    """A crawler. definition holds its Glue settings in snake_case (role, database_name,
    description, targets, schedule, classifiers, table_prefix, schema_change_policy,
    recrawl_policy, configuration); seen: what the last complete crawl saw, per target."""

    account: str
    name: str
    definition: dict[str, Any]
    tags: dict[str, str]
    state: CrawlerState
    schedule_state: ScheduleState
    next_fire_at: datetime | None
    version: int
    current_crawl: str
    seen: dict[str, Any]
    created_on: datetime
    last_updated: datetime
    last_crawl: Crawl | None = None

    @property
    def role(self) -> str:
        return str(self.definition.get("role", ""))

    @property
    def schedule(self) -> str:
        return str(self.definition.get("schedule", ""))


@dataclass(frozen=True)
class Crawl:
    crawl_id: str
    account: str
    crawler_name: str
    state: CrawlState
    started_on: datetime
    ended_on: datetime | None
    files_total: int
    files_done: int
    summary: dict[str, Any] = field(default_factory=dict)
    error_message: str = ""


@dataclass(frozen=True)
class Classifier:
    account: str
    name: str
    kind: str  # csv, json, grok, xml
    definition: dict[str, Any]
    version: int
    created_on: datetime
    last_updated: datetime
