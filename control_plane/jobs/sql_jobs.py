"""Jobs of the SQL job store."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, delete, exists, insert, select, update

from sluice.common.errors import AlreadyExists, EntityNotFound, InvalidInput
from sluice.common.paging import Page, PageRequest
from sluice.control_plane.jobs import checks
from sluice.control_plane.jobs.model import (
    STOPPABLE_STATES,
    TERMINAL_STATES,
    Job,
    JobInput,
    RunState,
)
from sluice.control_plane.jobs.rows import JOB_RUNS, JOB_TAGS, JOBS
from sluice.control_plane.jobs.sql_base import SqlStoreBase, job_from_row, state_values


def _definition(job: checks.CheckedJob) -> dict[str, object]:
    """The columns UpdateJob replaces."""
    return {
        "description": job.description,
        "role": job.role,
        "command_name": str(job.command.name),
        "script_location": job.command.script_location,
        "python_version": job.command.python_version,
        "default_arguments": job.default_arguments,
        "non_overridable_arguments": job.non_overridable_arguments,
        "max_retries": job.max_retries,
        "timeout": job.timeout,
        "max_concurrent_runs": job.max_concurrent_runs,
        "worker_type": job.worker_type,
        "number_of_workers": job.number_of_workers,
        "connections": list(job.connections),
        "glue_properties": job.glue_properties,
        "code_gen_configuration_nodes": job.code_gen_configuration_nodes,
    }


class JobOps(SqlStoreBase):
    def create_job(self, account: str, job_input: JobInput) -> Job:
        acc = checks.account(account)
        job = checks.job_input(job_input)
        now = self._now()
        with self._db.write() as conn:
            found = conn.execute(
                select(JOBS.c.id).where(JOBS.c.account == acc, JOBS.c.name == job.name)
            ).first()
            if found is not None:
                raise AlreadyExists(f"Job {job.name} already exists")
            job_id = conn.execute(
                insert(JOBS)
                .values(
                    account=acc,
                    name=job.name,
                    tags=job.tags,
                    active_runs=0,
                    created_on=now,
                    last_modified_on=now,
                    **_definition(job),
                )
                .returning(JOBS.c.id)
            ).scalar_one()
            if job.tags:
                conn.execute(
                    insert(JOB_TAGS),
                    [{"job_id": job_id, "key": k, "value": v} for k, v in job.tags.items()],
                )
            return job_from_row(self._job_row(conn, acc, job.name))

    def get_job(self, account: str, name: str) -> Job:
        acc = checks.account(account)
        job_name = checks.job_name(name)
        with self._db.read() as conn:
            return job_from_row(self._job_row(conn, acc, job_name))

    def get_jobs(self, account: str, page: PageRequest) -> Page[Job]:
        acc = checks.account(account)
        query = self._tokens.page_query(page, (int, str), "GetJobs", acc)
        stmt = select(JOBS).where(JOBS.c.account == acc)
        if query.after is not None:
            stmt = stmt.where(JOBS.c.name > str(query.after))
        stmt = stmt.order_by(JOBS.c.name).limit(query.limit + 1)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.name)
        return Page(items=tuple(job_from_row(row) for row in kept), next_token=token)

    def list_job_names(
        self, account: str, page: PageRequest, tags: Mapping[str, str] | None = None
    ) -> Page[str]:
        acc = checks.account(account)
        wanted = dict(sorted((tags or {}).items()))
        query = self._tokens.page_query(page, (int, str), "ListJobs", acc, wanted)
        stmt = select(JOBS.c.name).where(JOBS.c.account == acc)
        for key, value in wanted.items():
            stmt = stmt.where(
                exists().where(
                    JOB_TAGS.c.job_id == JOBS.c.id,
                    JOB_TAGS.c.key == key,
                    JOB_TAGS.c.value == value,
                )
            )
        if query.after is not None:
            stmt = stmt.where(JOBS.c.name > str(query.after))
        stmt = stmt.order_by(JOBS.c.name).limit(query.limit + 1)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        kept, token = self._tokens.page_of(query, rows, lambda row: row.name)
        return Page(items=tuple(row.name for row in kept), next_token=token)

    def update_job(self, account: str, job_input: JobInput) -> Job:
        acc = checks.account(account)
        if job_input.tags:
            raise InvalidInput("UpdateJob does not change tags")
        job = checks.job_input(job_input)
        with self._db.write() as conn:
            changed = conn.execute(
                update(JOBS)
                .where(JOBS.c.account == acc, JOBS.c.name == job.name)
                .values(last_modified_on=self._now(), **_definition(job))
            ).rowcount
            if not changed:
                raise EntityNotFound(f"Job {job.name} not found")
            return job_from_row(self._job_row(conn, acc, job.name))

    def delete_job(self, account: str, name: str) -> None:
        acc = checks.account(account)
        job_name = checks.job_name(name)
        with self._db.write() as conn:
            # Locking the job first keeps StartJobRun from adding a run we would not see.
            job_id = conn.execute(
                select(JOBS.c.id)
                .where(JOBS.c.account == acc, JOBS.c.name == job_name)
                .with_for_update()
            ).scalar()
            if job_id is None:
                return
            self._stop_and_detach_runs(conn, job_id)
            conn.execute(delete(JOBS).where(JOBS.c.id == job_id))

    def _stop_and_detach_runs(self, conn: Connection, job_id: int) -> None:
        conn.execute(
            update(JOB_RUNS)
            .where(
                JOB_RUNS.c.job_id == job_id, JOB_RUNS.c.state.in_(state_values(STOPPABLE_STATES))
            )
            .values(
                state=str(RunState.STOPPING),
                error_message="the job was deleted",
                last_modified_on=self._now(),
            )
        )
        conn.execute(
            delete(JOB_RUNS).where(
                JOB_RUNS.c.job_id == job_id, JOB_RUNS.c.state.in_(state_values(TERMINAL_STATES))
            )
        )
        conn.execute(update(JOB_RUNS).where(JOB_RUNS.c.job_id == job_id).values(job_id=None))
