"""An index of runs by when they ended, for conditional triggers to find the runs that ended
since their last look without reading the whole history.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_job_runs_completed_on", "job_runs", ["completed_on"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_completed_on", table_name="job_runs")
