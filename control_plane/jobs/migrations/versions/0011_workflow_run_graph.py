"""A workflow run keeps its graph as of its start (Glue's Run.Graph): its workflow's triggers
then, so that later edits of the workflow do not change a past run's graph. NULL for runs
recorded before (their graph is the workflow's current one).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_runs") as batch:
        batch.add_column(sa.Column("graph", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_runs") as batch:
        batch.drop_column("graph")
