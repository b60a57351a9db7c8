"""The crawls a CONDITIONAL trigger has counted (conditions on crawlers), as its counted runs.

Keyed by the crawl's id (crawl-<random>), never reused, unlike a row key SQLite may hand out
again after DeleteCrawler deleted its crawls; no foreign key to crawls: the crawlers' tables
have migrations of their own, run after these.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_consumed_crawls",
        sa.Column(
            "trigger_pk",
            sa.Integer,
            sa.ForeignKey("triggers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("crawl_id", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("trigger_pk", "crawl_id", name="pk_trigger_consumed_crawls"),
    )


def downgrade() -> None:
    op.drop_table("trigger_consumed_crawls")
