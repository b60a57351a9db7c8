"""Run notifications: runs keep Glue's NotificationProperty (job_runs.notify_delay_after, their
own or their job's), run events (a run DELAYED, FAILED, TIMEOUT or ERROR, recorded once each)
with their webhook delivery state, and each account's webhook (its secret encrypted).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UtcDateTime = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("notify_delay_after", sa.Integer, nullable=True))
    op.create_table(
        "run_events",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(80), nullable=False),
        sa.Column("job_name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("notify_delay_after", sa.Integer, nullable=False),
        sa.Column("created_on", UtcDateTime, nullable=False),
        # NONE (no webhook then), PENDING, DELIVERED or FAILED (gave up).
        sa.Column("delivery", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_on", UtcDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.UniqueConstraint("run_id", "kind", name="uq_run_events_run_id_kind"),
    )
    op.create_index("ix_run_events_account_id", "run_events", ["account", "id"])
    op.create_index("ix_run_events_delivery", "run_events", ["delivery", "next_attempt_on"])
    op.create_table(
        "webhooks",
        sa.Column("account", sa.String(255), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret_encrypted", sa.Text, nullable=False),
        sa.Column("last_modified_on", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhooks")
    op.drop_index("ix_run_events_delivery", table_name="run_events")
    op.drop_index("ix_run_events_account_id", table_name="run_events")
    op.drop_table("run_events")
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("notify_delay_after")
