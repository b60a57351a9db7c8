"""The tables of the SQL job store.

The Sql* classes describe the schema (control_plane/jobs/migrations creates it); they never leave
the store, which reads and writes them with SQLAlchemy Core and returns control_plane.jobs.model
objects.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from sluice.catalog.core.store.rows import BIG_ID, NAME, UtcDateTime


class SqlJob(SQLModel, table=True):
    """A job definition. active_runs counts its non-terminal runs, to cap them atomically."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("account", "name", name="uq_jobs_account_name"),
        CheckConstraint("active_runs >= 0", name="ck_jobs_active_runs"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    account: str = Field(sa_column=Column(String(255), nullable=False))
    name: str = Field(sa_column=Column(NAME, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    role: str = Field(sa_column=Column(Text, nullable=False))
    command_name: str = Field(sa_column=Column(String(32), nullable=False))
    script_location: str = Field(sa_column=Column(Text, nullable=False))
    python_version: str = Field(sa_column=Column(String(16), nullable=False))
    default_arguments: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    non_overridable_arguments: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    max_retries: int = Field(sa_column=Column(Integer, nullable=False))
    timeout: int = Field(sa_column=Column(Integer, nullable=False))
    max_concurrent_runs: int = Field(sa_column=Column(Integer, nullable=False))
    worker_type: str = Field(sa_column=Column(String(16), nullable=False))
    number_of_workers: int = Field(sa_column=Column(Integer, nullable=False))
    connections: list[str] = Field(sa_column=Column(JSON, nullable=False))
    tags: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    # Glue members kept and returned unchanged (GlueVersion, MaxCapacity, LogUri, ...).
    glue_properties: dict[str, object] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    # A visual job's CodeGenConfigurationNodes, as given.
    code_gen_configuration_nodes: dict[str, object] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    active_runs: int = Field(sa_column=Column(Integer, nullable=False))
    created_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_modified_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlJobTag(SQLModel, table=True):
    """A job's tags again, one row each, so ListJobs can filter on them in SQL."""

    __tablename__ = "job_tags"
    __table_args__ = (
        PrimaryKeyConstraint("job_id", "key", name="pk_job_tags"),
        Index("ix_job_tags_key_value", "key", "value"),
    )

    job_id: int = Field(
        sa_column=Column(Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    )
    key: str = Field(sa_column=Column(String(128), nullable=False))
    value: str = Field(sa_column=Column(String(256), nullable=False))


class SqlJobRun(SQLModel, table=True):
    """A run. It keeps what it runs (command, isolation, shape) as its job had them when it
    started; job_id becomes NULL when the job is deleted while the run is still stopping."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("run_id", name="uq_job_runs_run_id"),
        Index("ix_job_runs_job_id_id", "job_id", "id"),
        Index("ix_job_runs_state", "state"),
        Index("ix_job_runs_completed_on", "completed_on"),
        Index("ix_job_runs_account_job_name_completed_on", "account", "job_name", "completed_on"),
        Index("ix_job_runs_workflow_run_id", "workflow_run_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    run_id: str = Field(sa_column=Column(String(80), nullable=False))
    job_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True),
    )
    account: str = Field(sa_column=Column(String(255), nullable=False))
    job_name: str = Field(sa_column=Column(NAME, nullable=False))
    attempt: int = Field(sa_column=Column(Integer, nullable=False))
    previous_run_id: str = Field(sa_column=Column(String(80), nullable=False))
    trigger_name: str = Field(sa_column=Column(String(255), nullable=False))
    arguments: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    error_message: str = Field(sa_column=Column(Text, nullable=False))
    command_name: str = Field(sa_column=Column(String(32), nullable=False))
    script_location: str = Field(sa_column=Column(Text, nullable=False))
    python_version: str = Field(sa_column=Column(String(16), nullable=False))
    role: str = Field(sa_column=Column(Text, nullable=False))
    subnet_id: str = Field(sa_column=Column(String(255), nullable=False))
    security_group_id: str = Field(sa_column=Column(String(255), nullable=False))
    timeout: int = Field(sa_column=Column(Integer, nullable=False))
    worker_type: str = Field(sa_column=Column(String(16), nullable=False))
    number_of_workers: int = Field(sa_column=Column(Integer, nullable=False))
    max_retries: int = Field(sa_column=Column(Integer, nullable=False))
    started_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_modified_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    # When it last became RUNNING; execution_time counts from there.
    running_on: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    completed_on: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True)
    )
    execution_time: int = Field(sa_column=Column(Integer, nullable=False))
    environment_id: str = Field(sa_column=Column(String(255), nullable=False))
    warm_start: bool = Field(sa_column=Column(Boolean, nullable=False))
    # The seq of the run's last log entry; the next entries are numbered after it.
    log_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    log_cursor: str = Field(sa_column=Column(Text, nullable=False))
    # W3C traceparent of the StartJobRun call (or of the attempt it retries).
    trace_parent: str = Field(
        default="", sa_column=Column(String(64), nullable=False, server_default="")
    )
    # The fencing token of the scheduler that began launching it; 0: no launch begun.
    launch_token: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    # The workflow run that started it (None: not started by a workflow).
    workflow_run_id: str | None = Field(default=None, sa_column=Column(String(80), nullable=True))
    # Glue's NotificationProperty.NotifyDelayAfter (minutes), the run's own or else its job's;
    # None for neither.
    notify_delay_after: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # Glue's JobRunQueuingEnabled, the run's own or else its job's when it started.
    job_run_queuing_enabled: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )


class SqlLease(SQLModel, table=True):
    """A named lease (sluice.control_plane.jobs.leases). Rows are never deleted, so that a name's
    token only ever grows."""

    __tablename__ = "leases"
    __table_args__ = (PrimaryKeyConstraint("name", name="pk_leases"),)

    name: str = Field(sa_column=Column(String(128), nullable=False))
    holder: str = Field(sa_column=Column(String(255), nullable=False))
    token: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    acquired_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlJobRunLog(SQLModel, table=True):
    __tablename__ = "job_run_logs"
    __table_args__ = (
        PrimaryKeyConstraint("run_pk", "seq", name="pk_job_run_logs"),
        Index("ix_job_run_logs_run_pk_stream_seq", "run_pk", "stream", "seq"),
    )

    run_pk: int = Field(
        sa_column=Column(BigInteger, ForeignKey("job_runs.id", ondelete="CASCADE"), nullable=False)
    )
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    stream: str = Field(sa_column=Column(String(8), nullable=False))
    timestamp: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    message: str = Field(sa_column=Column(Text, nullable=False))


class SqlJobScript(SQLModel, table=True):
    __tablename__ = "job_scripts"
    __table_args__ = (PrimaryKeyConstraint("account", "name", name="pk_job_scripts"),)

    account: str = Field(sa_column=Column(String(255), nullable=False))
    name: str = Field(sa_column=Column(NAME, nullable=False))
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = Field(sa_column=Column(Integer, nullable=False))
    updated_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


JOBS = SqlJob.__table__
JOB_TAGS = SqlJobTag.__table__
JOB_RUNS = SqlJobRun.__table__
JOB_RUN_LOGS = SqlJobRunLog.__table__
JOB_SCRIPTS = SqlJobScript.__table__
LEASES = SqlLease.__table__
