"""Crawlers, their crawls, and classifiers.

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

TIME = sa.DateTime(timezone=True)
NAME = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "crawlers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("schedule_state", sa.String(16), nullable=False),
        sa.Column("next_fire_at", TIME, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("current_crawl", sa.String(80), nullable=False),
        sa.Column("seen", sa.JSON, nullable=False),
        sa.Column("created_on", TIME, nullable=False),
        sa.Column("last_updated", TIME, nullable=False),
        sa.UniqueConstraint("account", "name", name="uq_crawlers_account_name"),
    )
    op.create_index("ix_crawlers_next_fire_at", "crawlers", ["next_fire_at"])
    op.create_table(
        "crawls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("crawl_id", sa.String(80), nullable=False, unique=True),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("crawler_name", NAME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_on", TIME, nullable=False),
        sa.Column("ended_on", TIME, nullable=True),
        sa.Column("files_total", sa.BigInteger, nullable=False),
        sa.Column("files_done", sa.BigInteger, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
    )
    op.create_index("ix_crawls_account_crawler", "crawls", ["account", "crawler_name", "id"])
    op.create_table(
        "classifiers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_on", TIME, nullable=False),
        sa.Column("last_updated", TIME, nullable=False),
        sa.UniqueConstraint("account", "name", name="uq_classifiers_account_name"),
    )


def downgrade() -> None:
    op.drop_table("classifiers")
    op.drop_index("ix_crawls_account_crawler", "crawls")
    op.drop_table("crawls")
    op.drop_index("ix_crawlers_next_fire_at", "crawlers")
    op.drop_table("crawlers")
