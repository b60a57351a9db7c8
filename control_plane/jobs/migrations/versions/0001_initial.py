"""Jobs, their tags, runs, run logs and uploaded scripts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NAME = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("command_name", sa.String(32), nullable=False),
        sa.Column("script_location", sa.Text, nullable=False),
        sa.Column("python_version", sa.String(16), nullable=False),
        sa.Column("default_arguments", sa.JSON, nullable=False),
        sa.Column("non_overridable_arguments", sa.JSON, nullable=False),
        sa.Column("max_retries", sa.Integer, nullable=False),
        sa.Column("timeout", sa.Integer, nullable=False),
        sa.Column("max_concurrent_runs", sa.Integer, nullable=False),
        sa.Column("worker_type", sa.String(16), nullable=False),
        sa.Column("number_of_workers", sa.Integer, nullable=False),
        sa.Column("connections", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("active_runs", sa.Integer, nullable=False),
        sa.Column("created_on", TIME, nullable=False),
        sa.Column("last_modified_on", TIME, nullable=False),
        sa.UniqueConstraint("account", "name", name="uq_jobs_account_name"),
        sa.CheckConstraint("active_runs >= 0", name="ck_jobs_active_runs"),
    )
    op.create_table(
        "job_tags",
        sa.Column(
            "job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "key", name="pk_job_tags"),
    )
    op.create_index("ix_job_tags_key_value", "job_tags", ["key", "value"])
    op.create_table(
        "job_runs",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column(
            "job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("job_name", NAME, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("previous_run_id", sa.String(80), nullable=False),
        sa.Column("trigger_name", sa.String(255), nullable=False),
        sa.Column("arguments", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
        sa.Column("command_name", sa.String(32), nullable=False),
        sa.Column("script_location", sa.Text, nullable=False),
        sa.Column("python_version", sa.String(16), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("subnet_id", sa.String(255), nullable=False),
        sa.Column("security_group_id", sa.String(255), nullable=False),
        sa.Column("timeout", sa.Integer, nullable=False),
        sa.Column("worker_type", sa.String(16), nullable=False),
        sa.Column("number_of_workers", sa.Integer, nullable=False),
        sa.Column("max_retries", sa.Integer, nullable=False),
        sa.Column("started_on", TIME, nullable=False),
        sa.Column("last_modified_on", TIME, nullable=False),
        sa.Column("running_on", TIME, nullable=True),
        sa.Column("completed_on", TIME, nullable=True),
        sa.Column("execution_time", sa.Integer, nullable=False),
        sa.Column("environment_id", sa.String(255), nullable=False),
        sa.Column("warm_start", sa.Boolean, nullable=False),
        sa.Column("log_seq", sa.BigInteger, nullable=False),
        sa.Column("log_cursor", sa.Text, nullable=False),
        sa.UniqueConstraint("run_id", name="uq_job_runs_run_id"),
    )
    op.create_index("ix_job_runs_job_id_id", "job_runs", ["job_id", "id"])
    op.create_index("ix_job_runs_state", "job_runs", ["state"])
    op.create_table(
        "job_run_logs",
        sa.Column(
            "run_pk",
            sa.BigInteger,
            sa.ForeignKey("job_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("timestamp", TIME, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("run_pk", "seq", name="pk_job_run_logs"),
    )
    op.create_index(
        "ix_job_run_logs_run_pk_stream_seq", "job_run_logs", ["run_pk", "stream", "seq"]
    )
    op.create_table(
        "job_scripts",
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("updated_on", TIME, nullable=False),
        sa.PrimaryKeyConstraint("account", "name", name="pk_job_scripts"),
    )


def downgrade() -> None:
    op.drop_table("job_scripts")
    op.drop_table("job_run_logs")
    op.drop_table("job_runs")
    op.drop_table("job_tags")
    op.drop_table("jobs")
