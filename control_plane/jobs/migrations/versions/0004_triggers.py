"""Triggers, and the finished runs each conditional trigger has counted.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
NAME = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trigger_id", sa.String(80), nullable=False),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("workflow_name", NAME, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("schedule", sa.Text, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("predicate", sa.JSON, nullable=False),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("batch_window", sa.Integer, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("next_fire_at", TIME, nullable=True),
        sa.Column("activated_on", TIME, nullable=True),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("first_event_at", TIME, nullable=True),
        sa.Column("created_on", TIME, nullable=False),
        sa.Column("last_modified_on", TIME, nullable=False),
        sa.UniqueConstraint("account", "name", name="uq_triggers_account_name"),
    )
    op.create_index("ix_triggers_state_type", "triggers", ["state", "type"])
    op.create_table(
        "trigger_consumed_runs",
        sa.Column(
            "trigger_pk",
            sa.Integer,
            sa.ForeignKey("triggers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "run_pk",
            BIG_ID,
            sa.ForeignKey("job_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("trigger_pk", "run_pk", name="pk_trigger_consumed_runs"),
    )


def downgrade() -> None:
    op.drop_table("trigger_consumed_runs")
    op.drop_table("triggers")
