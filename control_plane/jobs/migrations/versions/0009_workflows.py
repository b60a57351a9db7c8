"""Workflows: their definitions, their runs, the fires of their triggers per run, and the
workflow run that started a job run (job_runs.workflow_run_id).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UtcDateTime = sa.DateTime(timezone=True)
NAME = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("default_run_properties", sa.JSON, nullable=False),
        sa.Column("max_concurrent_runs", sa.Integer, nullable=False),
        sa.Column("active_runs", sa.Integer, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_on", UtcDateTime, nullable=False),
        sa.Column("last_modified_on", UtcDateTime, nullable=False),
        sa.UniqueConstraint("account", "name", name="uq_workflows_account_name"),
    )
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column(
            "workflow_pk",
            sa.Integer,
            sa.ForeignKey("workflows.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("workflow_name", NAME, nullable=False),
        sa.Column("previous_run_id", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
        sa.Column("resumed_nodes", sa.JSON, nullable=False),
        sa.Column("started_on", UtcDateTime, nullable=False),
        sa.Column("completed_on", UtcDateTime, nullable=True),
        sa.UniqueConstraint("run_id", name="uq_workflow_runs_run_id"),
    )
    op.create_index("ix_workflow_runs_workflow_pk_id", "workflow_runs", ["workflow_pk", "id"])
    op.create_index("ix_workflow_runs_status", "workflow_runs", ["status"])
    op.create_table(
        "trigger_workflow_fires",
        sa.Column(
            "trigger_pk",
            sa.Integer,
            sa.ForeignKey("triggers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "workflow_run_pk",
            sa.Integer,
            sa.ForeignKey("workflow_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("trigger_pk", "workflow_run_pk", name="pk_trigger_workflow_fires"),
    )
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("workflow_run_id", sa.String(80), nullable=True))
    op.create_index("ix_job_runs_workflow_run_id", "job_runs", ["workflow_run_id"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_workflow_run_id", table_name="job_runs")
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("workflow_run_id")
    op.drop_table("trigger_workflow_fires")
    op.drop_table("workflow_runs")
    op.drop_table("workflows")
