"""Runs of the SQL job store: creation under the concurrency cap, and conditional transitions."""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from sluice.common.errors import (
    ConcurrentModification,
    ConcurrentRunsExceeded,
    EntityNotFound,
    FailedPrecondition,
    InvalidInput,
)
from sluice.common.paging import Page, PageRequest
from sluice.control_plane.jobs import checks, workers
from sluice.control_plane.jobs.leases import Fence
from sluice.control_plane.jobs.model import (
    ACTIVE_STATES,
    RETRYABLE_STATES,
    RUN_ID_PREFIX,
    STOPPABLE_STATES,
    TERMINAL_STATES,
    JobRun,
    RunInput,
    RunState,
    check_transition,
)
from sluice.control_plane.jobs.rows import JOB_RUNS, JOBS
from sluice.control_plane.jobs.sql_base import SqlStoreBase, run_from_row, state_values
from sluice.control_plane.jobs.sql_leases import check_fence
from sluice.control_plane.jobs.store import LaunchClaim

MAX_ERROR_MESSAGE = 4096
_RUN_ID = re.compile(re.escape(RUN_ID_PREFIX) + r"[0-9a-f]{1,64}")


def new_run_id() -> str:
    """jr_ and 64 hex digits, like Glue's run ids."""
    return RUN_ID_PREFIX + secrets.token_hex(32)


def checked_run_id(value: str) -> str:
    if not _RUN_ID.fullmatch(value):
        raise InvalidInput(f"job run id {value!r} is not valid")
    return value


def claim_run_slot(conn: Connection, account: str, job_name: str, expected_role: str) -> Row:
    """Takes one of the job's max_concurrent_runs slots in conn's transaction; the job's row.

    The cap is checked and taken in one statement, so racing starts cannot overshoot. Raises
    EntityNotFound (no such job), ConcurrentModification (its role is no longer expected_role,
    when given) or ConcurrentRunsExceeded, having changed nothing.
    """
    conditions = [
        JOBS.c.account == account,
        JOBS.c.name == job_name,
        JOBS.c.active_runs < JOBS.c.max_concurrent_runs,
    ]
    if expected_role:
        conditions.append(JOBS.c.role == expected_role)
    claimed = conn.execute(
        update(JOBS).where(*conditions).values(active_runs=JOBS.c.active_runs + 1)
    ).rowcount
    job = SqlStoreBase._job_row(conn, account, job_name)
    if not claimed and expected_role and job.role != expected_role:
        raise ConcurrentModification(
            f"Job {job_name} changed its role while the run was starting; start it again"
        )
    if not claimed:
        raise ConcurrentRunsExceeded(
            f"Job {job_name} already has {job.max_concurrent_runs} concurrent run(s), its "
            "max_concurrent_runs (ConcurrentRunsExceededException)"
        )
    return job


def insert_run(
    conn: Connection,
    job: Row,
    now: datetime,
    run_arguments: dict[str, str],
    **fields: Any,
) -> str:
    """A new STARTING run of job (whose slot claim_run_slot took), in conn's transaction; its id.
    fields are run_values'."""
    values = run_values(job, now, run_arguments, **fields)
    conn.execute(insert(JOB_RUNS).values(**values))
    return str(values["run_id"])


def job_notify_delay_after(job: Row) -> int:
    """The NotifyDelayAfter of a job's NotificationProperty (kept with its Glue members); 0 for
    none."""
    notification = (job.glue_properties or {}).get("notification_property")
    value = notification.get("notify_delay_after") if isinstance(notification, dict) else None
    return value if isinstance(value, int) and value > 0 else 0


def run_values(
    job: Row,
    now: datetime,
    run_arguments: dict[str, str],
    *,
    trigger_name: str = "",
    notify_delay_after: int | None = None,
    subnet_id: str = "",
    security_group_id: str = "",
    previous_run_id: str = "",
    attempt: int = 0,
    timeout: int | None = None,
    worker_type: str = "",
    number_of_workers: int = 0,
    trace_parent: str = "",
    workflow_run_id: str | None = None,
    job_run_queuing_enabled: bool | None = None,
) -> dict[str, Any]:
    """The row of a new STARTING run of job, with a new run id. Its values are checked already;
    0, "" and None take the job's."""
    if job_run_queuing_enabled is None:
        job_run_queuing_enabled = (job.glue_properties or {}).get("job_run_queuing_enabled") is True
    return {
        "run_id": new_run_id(),
        "job_id": job.id,
        "account": job.account,
        "job_name": job.name,
        "attempt": attempt,
        "previous_run_id": previous_run_id,
        "trigger_name": trigger_name,
        "notify_delay_after": notify_delay_after or job_notify_delay_after(job) or None,
        "arguments": checks.merged_arguments(
            job.default_arguments, run_arguments, job.non_overridable_arguments
        ),
        "state": str(RunState.STARTING),
        "error_message": "",
        "command_name": job.command_name,
        "script_location": job.script_location,
        "python_version": job.python_version,
        "role": job.role,
        "subnet_id": subnet_id,
        "security_group_id": security_group_id,
        "timeout": timeout or job.timeout,
        "worker_type": worker_type or job.worker_type,
        "number_of_workers": number_of_workers or job.number_of_workers,
        "max_retries": job.max_retries,
        "started_on": now,
        "last_modified_on": now,
        "execution_time": 0,
        "environment_id": "",
        "warm_start": False,
        "log_seq": 0,
        "log_cursor": "",
        "trace_parent": trace_parent,
        "workflow_run_id": workflow_run_id,
        "job_run_queuing_enabled": job_run_queuing_enabled,
    }


class RunOps(SqlStoreBase):
    def create_run(self, account: str, job_name: str, run_input: RunInput) -> JobRun:
        acc = checks.account(account)
        name = checks.job_name(job_name)
        run_arguments = checks.arguments("arguments", run_input.arguments)
        trigger_name = checks.short_text("trigger_name", run_input.trigger_name)
        subnet_id = checks.short_text("subnet_id", run_input.subnet_id)
        security_group_id = checks.short_text("security_group_id", run_input.security_group_id)
        previous_id = run_input.previous_run_id and checked_run_id(run_input.previous_run_id)
        # 0 and "" take the job's value.
        timeout = checks.timeout(run_input.timeout) if run_input.timeout else None
        worker_type = run_input.worker_type and workers.checked_worker_type(run_input.worker_type)
        number_of_workers = run_input.number_of_workers and workers.checked_number_of_workers(
            run_input.number_of_workers
        )
        now = self._now()
        with self._db.write() as conn:
            job = claim_run_slot(conn, acc, name, run_input.expected_role)
            attempt = 0
            if previous_id:
                previous = self._run_row(conn, acc, name, previous_id)
                if not RunState(previous.state).is_terminal():
                    raise FailedPrecondition(
                        f"Job run {previous_id} is {previous.state}: only a finished run can "
                        "be retried"
                    )
                attempt = previous.attempt + 1
            run_id = insert_run(
                conn,
                job,
                now,
                run_arguments,
                trigger_name=trigger_name,
                notify_delay_after=checks.notify_delay_after(run_input.notify_delay_after),
                subnet_id=subnet_id,
                security_group_id=security_group_id,
                previous_run_id=previous_id,
                attempt=attempt,
                timeout=timeout,
                worker_type=worker_type,
                number_of_workers=number_of_workers,
                trace_parent=checks.trace_parent(run_input.trace_parent),
                job_run_queuing_enabled=run_input.job_run_queuing_enabled,
            )
            return run_from_row(self._run_by_id(conn, run_id))

    def get_run(self, account: str, job_name: str, run_id: str) -> JobRun:
        acc = checks.account(account)
        name = checks.job_name(job_name)
        with self._db.read() as conn:
            return run_from_row(self._run_row(conn, acc, name, checked_run_id(run_id)))

    def get_runs(self, account: str, job_name: str, page: PageRequest) -> Page[JobRun]:
        acc = checks.account(account)
        name = checks.job_name(job_name)
        query = self._tokens.page_query(page, (int, str), "GetJobRuns", acc, name)
        with self._db.read() as conn:
            job = self._job_row(conn, acc, name)
            stmt = select(JOB_RUNS).where(JOB_RUNS.c.job_id == job.id)
            if query.after is not None:
                stmt = stmt.where(JOB_RUNS.c.id < int(query.after))
            rows = conn.execute(stmt.order_by(JOB_RUNS.c.id.desc()).limit(query.limit + 1)).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.id)
        return Page(items=tuple(run_from_row(row) for row in kept), next_token=token)

    def list_active_runs(self) -> Sequence[JobRun]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(JOB_RUNS)
                .where(JOB_RUNS.c.state.in_(state_values(ACTIVE_STATES)))
                .order_by(JOB_RUNS.c.id)
            ).all()
        return tuple(run_from_row(row) for row in rows)

    def run_is_active(self, run_id: str) -> bool:
        with self._db.read() as conn:
            state = conn.execute(
                select(JOB_RUNS.c.state).where(JOB_RUNS.c.run_id == run_id)
            ).scalar_one_or_none()
        return state is not None and RunState(state) in ACTIVE_STATES

    def transition(
        self,
        run_id: str,
        from_states: Collection[RunState],
        to_state: RunState,
        *,
        error_message: str | None = None,
        environment_id: str | None = None,
        warm_start: bool | None = None,
        execution_time: int | None = None,
        retry: bool = False,
        fence: Fence | None = None,
    ) -> bool:
        check_transition(from_states, to_state, retry)
        values: dict[str, Any] = {"state": str(to_state), "last_modified_on": self._now()}
        if to_state is RunState.WAITING:
            values["launch_token"] = 0
        if error_message is not None:
            values["error_message"] = error_message[:MAX_ERROR_MESSAGE]
        if environment_id is not None:
            values["environment_id"] = environment_id
        if warm_start is not None:
            values["warm_start"] = warm_start
        if execution_time is not None:
            values["execution_time"] = max(0, execution_time)
        with self._db.write() as conn:
            if fence is not None:
                check_fence(conn, fence)
            job_id = conn.execute(
                select(JOB_RUNS.c.job_id).where(JOB_RUNS.c.run_id == run_id)
            ).scalar()
            if to_state.is_terminal() and job_id is not None:
                # Job row before run row, the order create_run and delete_job lock them in.
                conn.execute(select(JOBS.c.id).where(JOBS.c.id == job_id).with_for_update())
            return self._transition(conn, run_id, from_states, to_state, values, retry)

    def claim_launch(self, run_id: str, fence: Fence, *, adopt: bool = False) -> LaunchClaim:
        claimable = JOB_RUNS.c.state == str(RunState.STARTING)
        if not adopt:
            claimable &= JOB_RUNS.c.launch_token.in_((0, fence.token))
        with self._db.write() as conn:
            check_fence(conn, fence)
            claimed = conn.execute(
                update(JOB_RUNS)
                .where(JOB_RUNS.c.run_id == run_id, claimable)
                .values(launch_token=fence.token)
            ).rowcount
            if claimed:
                return LaunchClaim.CLAIMED
            # Only telling the caller why: the update above decided.
            state = conn.execute(
                select(JOB_RUNS.c.state).where(JOB_RUNS.c.run_id == run_id)
            ).scalar()
        if state == str(RunState.STARTING):
            return LaunchClaim.INTERRUPTED
        return LaunchClaim.NOT_STARTING

    def release_launches(self, fence: Fence) -> int:
        with self._db.write() as conn:
            check_fence(conn, fence)
            return conn.execute(
                update(JOB_RUNS)
                .where(
                    JOB_RUNS.c.state == str(RunState.STARTING),
                    JOB_RUNS.c.launch_token == fence.token,
                )
                .values(launch_token=0)
            ).rowcount

    def request_stop(self, account: str, job_name: str, run_id: str) -> JobRun:
        acc = checks.account(account)
        name = checks.job_name(job_name)
        rid = checked_run_id(run_id)
        with self._db.write() as conn:
            self._run_row(conn, acc, name, rid)
            values = {"state": str(RunState.STOPPING), "last_modified_on": self._now()}
            self._transition(conn, rid, STOPPABLE_STATES, RunState.STOPPING, values, False)
            row = self._run_by_id(conn, rid)
            if RunState(row.state).is_terminal():
                raise FailedPrecondition(f"Job run {rid} has already finished: {row.state}")
            return run_from_row(row)

    def purge_orphan_runs(self) -> int:
        with self._db.write() as conn:
            return conn.execute(
                delete(JOB_RUNS).where(
                    JOB_RUNS.c.job_id.is_(None),
                    JOB_RUNS.c.state.in_(state_values(TERMINAL_STATES)),
                )
            ).rowcount

    def _transition(
        self,
        conn: Connection,
        run_id: str,
        from_states: Collection[RunState],
        to_state: RunState,
        values: dict[str, Any],
        retry: bool,
    ) -> bool:
        now: datetime = values["last_modified_on"]
        if to_state is RunState.RUNNING:
            values["running_on"] = now
        if to_state.is_terminal():
            values["completed_on"] = now
        changed = conn.execute(
            update(JOB_RUNS)
            .where(JOB_RUNS.c.run_id == run_id, JOB_RUNS.c.state.in_(state_values(from_states)))
            .values(**values)
        ).rowcount
        if not changed:
            return False
        if to_state.is_terminal():
            self._finish(conn, self._run_by_id(conn, run_id), to_state, values, retry)
        return True

    def _finish(
        self, conn: Connection, row: Row, to_state: RunState, values: dict[str, Any], retry: bool
    ) -> None:
        """What ending a run does besides its state: execution time, and its slot of the job."""
        now: datetime = values["completed_on"]
        if "execution_time" not in values and row.running_on is not None:
            seconds = int((now - row.running_on).total_seconds())
            conn.execute(
                update(JOB_RUNS).where(JOB_RUNS.c.id == row.id).values(execution_time=seconds)
            )
        if row.job_id is None:
            return
        if retry and to_state in RETRYABLE_STATES and row.attempt < row.max_retries:
            # The next attempt takes over this run's slot, so the count stays as it is.
            self._insert_next_attempt(conn, row, now)
            return
        conn.execute(
            update(JOBS).where(JOBS.c.id == row.job_id).values(active_runs=JOBS.c.active_runs - 1)
        )

    @staticmethod
    def _insert_next_attempt(conn: Connection, row: Row, now: datetime) -> None:
        copied = {
            key: getattr(row, key)
            for key in (
                "job_id",
                "account",
                "job_name",
                "trigger_name",
                "arguments",
                "command_name",
                "script_location",
                "python_version",
                "role",
                "subnet_id",
                "security_group_id",
                "timeout",
                "worker_type",
                "number_of_workers",
                "max_retries",
                "trace_parent",
                "workflow_run_id",
                "job_run_queuing_enabled",
            )
        }
        conn.execute(
            insert(JOB_RUNS).values(
                run_id=new_run_id(),
                attempt=row.attempt + 1,
                previous_run_id=row.run_id,
                state=str(RunState.STARTING),
                error_message="",
                started_on=now,
                last_modified_on=now,
                execution_time=0,
                environment_id="",
                warm_start=False,
                log_seq=0,
                log_cursor="",
                **copied,
            )
        )

    @staticmethod
    def _run_by_id(conn: Connection, run_id: str) -> Row:
        row = conn.execute(select(JOB_RUNS).where(JOB_RUNS.c.run_id == run_id)).first()
        if row is None:
            raise EntityNotFound(f"Job run {run_id} not found")
        return row
