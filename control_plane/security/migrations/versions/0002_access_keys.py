"""Access key pairs of principals (SigV4 for the Glue door), secrets encrypted.

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

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "iam_access_keys",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("access_key_id", sa.String(128), nullable=False),
        sa.Column(
            "principal_id",
            sa.String(32),
            sa.ForeignKey("iam_principals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("secret_encrypted", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_on", TIME, nullable=False),
        sa.UniqueConstraint("access_key_id", name="uq_iam_access_keys_access_key_id"),
    )
    op.create_index("ix_iam_access_keys_principal_id_id", "iam_access_keys", ["principal_id", "id"])


def downgrade() -> None:
    op.drop_table("iam_access_keys")
