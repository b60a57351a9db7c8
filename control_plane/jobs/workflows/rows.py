"""The tables of the SQL workflow store (control_plane/jobs/migrations creates them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from sluice.catalog.core.store.rows import NAME, UtcDateTime


class SqlWorkflow(SQLModel, table=True):
    """A workflow. active_runs: its RUNNING or STOPPING runs, the slots max_concurrent_runs
    caps (0: no cap), claimed and freed by conditional updates."""

    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("account", "name", name="uq_workflows_account_name"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    account: str = Field(sa_column=Column(String(255), nullable=False))
    name: str = Field(sa_column=Column(NAME, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    default_run_properties: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    max_concurrent_runs: int = Field(sa_column=Column(Integer, nullable=False))
    active_runs: int = Field(sa_column=Column(Integer, nullable=False))
    tags: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    created_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_modified_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlWorkflowRun(SQLModel, table=True):
    """A run of a workflow (deleted with it). Its job runs carry its run_id
    (job_runs.workflow_run_id)."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        UniqueConstraint("run_id", name="uq_workflow_runs_run_id"),
        Index("ix_workflow_runs_workflow_pk_id", "workflow_pk", "id"),
        Index("ix_workflow_runs_status", "status"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    run_id: str = Field(sa_column=Column(String(80), nullable=False))
    workflow_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False)
    )
    account: str = Field(sa_column=Column(String(255), nullable=False))
    workflow_name: str = Field(sa_column=Column(NAME, nullable=False))
    previous_run_id: str = Field(sa_column=Column(String(80), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    properties: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    error_message: str = Field(sa_column=Column(Text, nullable=False))
    # A resumed run's restarted nodes (job/<name>): they and what follows them run again; the
    # rest counts the previous runs' job runs.
    resumed_nodes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # Its workflow's triggers (their rows, as JSON) when it started: the run's graph, which
    # later edits of the workflow do not change. None for runs recorded before (migration 0011).
    graph: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    started_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    completed_on: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True)
    )


class SqlTriggerWorkflowFire(SQLModel, table=True):
    """A workflow's trigger fired in a workflow run: at most once (the primary key refuses a
    second fire)."""

    __tablename__ = "trigger_workflow_fires"
    __table_args__ = (
        PrimaryKeyConstraint("trigger_pk", "workflow_run_pk", name="pk_trigger_workflow_fires"),
    )

    trigger_pk: int = Field(
        sa_column=Column(Integer, ForeignKey("triggers.id", ondelete="CASCADE"), nullable=False)
    )
    workflow_run_pk: int = Field(
        sa_column=Column(
            Integer, ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False
        )
    )


WORKFLOWS = SqlWorkflow.__table__
WORKFLOW_RUNS = SqlWorkflowRun.__table__
TRIGGER_WORKFLOW_FIRES = SqlTriggerWorkflowFire.__table__
