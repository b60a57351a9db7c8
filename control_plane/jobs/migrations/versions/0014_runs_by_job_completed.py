"""The ended runs of a job, by when they ended: what a conditional trigger's evaluation looks
up (the runs of its watched jobs ended since it was activated) without going through every
run in a terminal state.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_job_runs_account_job_name_completed_on",
        "job_runs",
        ["account", "job_name", "completed_on"],
    )


def downgrade() -> None:
    op.drop_index("ix_job_runs_account_job_name_completed_on", table_name="job_runs")
