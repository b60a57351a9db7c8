"""What every part of the SQL job store shares: its state, paging, and rows turned into objects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection, Row, select

from sluice.common.db import Database
from sluice.common.errors import EntityNotFound
from sluice.common.paging import PageTokenCodec
from sluice.control_plane.jobs.model import (
    CommandName,
    IsolationTuple,
    Job,
    JobCommand,
    JobRun,
    RunState,
)
from sluice.control_plane.jobs.rows import JOB_RUNS, JOBS
from sluice.control_plane.jobs.scripts import DEFAULT_MAX_SCRIPT_BYTES

R = TypeVar("R")


def utc_now() -> datetime:
    return datetime.now(UTC)


def state_values(states: Iterable[RunState]) -> list[str]:
    """States as SQL values, in a stable order (so statements cache alike)."""
    return sorted(str(state) for state in states)


class SqlStoreBase:
    """State shared by the parts of SqlJobStore, and the helpers they all use."""

    def __init__(
        self,
        db: Database,
        page_tokens: PageTokenCodec,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_script_bytes: int = DEFAULT_MAX_SCRIPT_BYTES,
    ) -> None:
        if max_script_bytes < 1:
            raise ValueError("max_script_bytes must be positive")
        self._db = db
        self._tokens = page_tokens
        self._clock = clock
        self._max_script_bytes = max_script_bytes

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    @staticmethod
    def _job_row(conn: Connection, account: str, name: str) -> Row:
        row = conn.execute(
            select(JOBS).where(JOBS.c.account == account, JOBS.c.name == name)
        ).first()
        if row is None:
            raise EntityNotFound(f"Job {name} not found")
        return row

    @staticmethod
    def _run_row(conn: Connection, account: str, job_name: str, run_id: str) -> Row:
        """A run of a job that exists: runs of a deleted job are not found."""
        row = conn.execute(
            select(JOB_RUNS)
            .join(JOBS, JOBS.c.id == JOB_RUNS.c.job_id)
            .where(
                JOBS.c.account == account,
                JOBS.c.name == job_name,
                JOB_RUNS.c.run_id == run_id,
            )
        ).first()
        if row is None:
            raise EntityNotFound(f"Job run {run_id} of job {job_name} not found")
        return row


def job_from_row(row: Row) -> Job:
    return Job(
        name=row.name,
        account=row.account,
        role=row.role,
        command=JobCommand(
            name=CommandName(row.command_name),
            script_location=row.script_location,
            python_version=row.python_version,
        ),
        created_on=row.created_on,
        last_modified_on=row.last_modified_on,
        description=row.description,
        default_arguments=dict(row.default_arguments),
        non_overridable_arguments=dict(row.non_overridable_arguments),
        max_retries=row.max_retries,
        timeout=row.timeout,
        max_concurrent_runs=row.max_concurrent_runs,
        worker_type=row.worker_type,
        number_of_workers=row.number_of_workers,
        connections=tuple(row.connections),
        tags=dict(row.tags),
        glue_properties=dict(row.glue_properties or {}),
        code_gen_configuration_nodes=dict(row.code_gen_configuration_nodes or {}),
    )


def run_from_row(row: Row) -> JobRun:
    return JobRun(
        id=row.run_id,
        job_name=row.job_name,
        attempt=row.attempt,
        state=RunState(row.state),
        arguments=dict(row.arguments),
        command=JobCommand(
            name=CommandName(row.command_name),
            script_location=row.script_location,
            python_version=row.python_version,
        ),
        isolation=IsolationTuple(
            account=row.account,
            role=row.role,
            subnet_id=row.subnet_id,
            security_group_id=row.security_group_id,
        ),
        started_on=row.started_on,
        last_modified_on=row.last_modified_on,
        timeout=row.timeout,
        worker_type=row.worker_type,
        number_of_workers=row.number_of_workers,
        max_retries=row.max_retries,
        previous_run_id=row.previous_run_id,
        trigger_name=row.trigger_name,
        error_message=row.error_message,
        notify_delay_after=row.notify_delay_after or 0,
        completed_on=row.completed_on,
        execution_time=row.execution_time,
        environment_id=row.environment_id,
        warm_start=bool(row.warm_start),
        log_cursor=row.log_cursor,
        trace_parent=row.trace_parent,
        job_run_queuing_enabled=bool(row.job_run_queuing_enabled),
    )
