"""The workflow run that began a crawl (crawls.workflow_run_id), for its run's conditional
triggers and its run's graph.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawls") as batch:
        batch.add_column(sa.Column("workflow_run_id", sa.String(80), nullable=True))
    op.create_index("ix_crawls_workflow_run_id", "crawls", ["workflow_run_id"])


def downgrade() -> None:
    op.drop_index("ix_crawls_workflow_run_id", table_name="crawls")
    with op.batch_alter_table("crawls") as batch:
        batch.drop_column("workflow_run_id")
