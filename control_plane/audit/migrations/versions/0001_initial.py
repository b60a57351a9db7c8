"""Audit events (one row per span) and the cursors of their exporters.

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

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
KEY = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
MATCHED = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("parent_span_id", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("start_ns", sa.BigInteger, nullable=False),
        sa.Column("end_ns", sa.BigInteger, nullable=False),
        sa.Column("status_code", sa.String(8), nullable=False),
        sa.Column("status_message", sa.Text, nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("account", KEY, nullable=False),
        sa.Column("principal", KEY, nullable=False),
        sa.Column("principal_name", KEY, nullable=False),
        sa.Column("action", KEY, nullable=False),
        sa.Column("resource", MATCHED, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("grpc_code", sa.Integer, nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.UniqueConstraint("seq", name="uq_audit_events_seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_time_id", "audit_events", ["time", "id"])
    op.create_index("ix_audit_events_account_time_id", "audit_events", ["account", "time", "id"])
    op.create_table(
        "audit_export_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("updated_on", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_export_cursors")
    op.drop_table("audit_events")
