"""Runs keep Glue's JobRunQueuingEnabled (their own or their job's): with no room, a run with it
waits in WAITING, in order, instead of failing.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(
            sa.Column(
                "job_run_queuing_enabled",
                sa.Boolean,
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("job_run_queuing_enabled")
