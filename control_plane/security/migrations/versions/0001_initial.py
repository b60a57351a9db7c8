"""Principals, their API tokens, and policies with the roles they are attached to.

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

NAME = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "iam_principals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("operator", sa.Boolean, nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("certificate_subject", sa.String(255), nullable=True),
        sa.Column("created_on", TIME, nullable=False),
        sa.Column("last_modified_on", TIME, nullable=False),
        sa.UniqueConstraint("account", "name", name="uq_iam_principals_account_name"),
        sa.UniqueConstraint("certificate_subject", name="uq_iam_principals_certificate_subject"),
    )
    op.create_table(
        "iam_tokens",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("token_id", sa.String(16), nullable=False),
        sa.Column(
            "principal_id",
            sa.String(32),
            sa.ForeignKey("iam_principals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_on", TIME, nullable=False),
        sa.Column("expires_on", TIME, nullable=True),
        sa.Column("revoked_on", TIME, nullable=True),
        sa.UniqueConstraint("token_id", name="uq_iam_tokens_token_id"),
    )
    op.create_index("ix_iam_tokens_principal_id_id", "iam_tokens", ["principal_id", "id"])
    op.create_table(
        "iam_policies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("statements", sa.JSON, nullable=False),
        sa.Column("created_on", TIME, nullable=False),
        sa.Column("last_modified_on", TIME, nullable=False),
        sa.UniqueConstraint("account", "name", name="uq_iam_policies_account_name"),
    )
    op.create_table(
        "iam_policy_roles",
        sa.Column(
            "policy_id",
            sa.Integer,
            sa.ForeignKey("iam_policies.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role_key", sa.String(64), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "role_key", name="pk_iam_policy_roles"),
    )
    op.create_index("ix_iam_policy_roles_role_key", "iam_policy_roles", ["role_key"])


def downgrade() -> None:
    op.drop_table("iam_policy_roles")
    op.drop_table("iam_policies")
    op.drop_table("iam_tokens")
    op.drop_table("iam_principals")
