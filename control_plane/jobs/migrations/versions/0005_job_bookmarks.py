"""Job bookmarks: each job's bookmark, and the commits of runs pending until they succeed.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_bookmarks",
        sa.Column(
            "job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("previous_run_id", sa.String(80), nullable=False),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("updated_on", TIME, nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_job_bookmarks"),
    )
    op.create_table(
        "job_bookmark_commits",
        sa.Column(
            "job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("committed_on", TIME, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "run_id", name="pk_job_bookmark_commits"),
    )


def downgrade() -> None:
    op.drop_table("job_bookmark_commits")
    op.drop_table("job_bookmarks")
