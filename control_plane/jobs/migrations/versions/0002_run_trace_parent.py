"""Runs remember the W3C traceparent of the call that started them, so that their work shows
as child spans of that call in the audit trail.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(
            sa.Column("trace_parent", sa.String(64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("trace_parent")
