"""Tags of databases and connections (TagResource, GetTags, Tags on their Create calls), one row
per tag, removed with their resource.

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
    for table, owner in (("database_tags", "databases"), ("connection_tags", "connections")):
        op.create_table(
            table,
            sa.Column(
                "resource_id",
                sa.Integer(),
                sa.ForeignKey(f"{owner}.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("key", sa.String(128), nullable=False),
            sa.Column("value", sa.String(256), nullable=False),
            sa.PrimaryKeyConstraint("resource_id", "key", name=f"pk_{table}"),
        )


def downgrade() -> None:
    op.drop_table("connection_tags")
    op.drop_table("database_tags")
