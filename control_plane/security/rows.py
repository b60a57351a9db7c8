"""The tables of the SQL identity store.

The Sql* classes describe the schema (control_plane/security/migrations creates it); they never
leave the store, which reads and writes them with SQLAlchemy Core and returns
sluice.control_plane.security.model objects.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from sluice.catalog.core.store.rows import BIG_ID, NAME, UtcDateTime


class SqlPrincipal(SQLModel, table=True):
    """A principal. certificate_subject is NULL when it has none, so it can be unique."""

    __tablename__ = "iam_principals"
    __table_args__ = (
        UniqueConstraint("account", "name", name="uq_iam_principals_account_name"),
        UniqueConstraint("certificate_subject", name="uq_iam_principals_certificate_subject"),
    )

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    account: str = Field(sa_column=Column(String(255), nullable=False))
    name: str = Field(sa_column=Column(NAME, nullable=False))
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    operator: bool = Field(sa_column=Column(Boolean, nullable=False))
    # The job run whose temporary principal this is; "" for everyone else.
    run_id: str = Field(sa_column=Column(String(128), nullable=False))
    certificate_subject: str | None = Field(
        default=None, sa_column=Column(String(255), nullable=True)
    )
    created_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_modified_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlToken(SQLModel, table=True):
    """An API token: only the SHA-256 of its secret is kept."""

    __tablename__ = "iam_tokens"
    __table_args__ = (
        UniqueConstraint("token_id", name="uq_iam_tokens_token_id"),
        Index("ix_iam_tokens_principal_id_id", "principal_id", "id"),
    )

    # Orders a principal's tokens by creation, for listing.
    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    token_id: str = Field(sa_column=Column(String(16), nullable=False))
    principal_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("iam_principals.id", ondelete="CASCADE"), nullable=False
        )
    )
    secret_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    created_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    expires_on: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    revoked_on: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))


class SqlAccessKey(SQLModel, table=True):
    """An access key pair (SigV4): the secret is kept encrypted with the server's secret key,
    since verifying a signature needs it."""

    __tablename__ = "iam_access_keys"
    __table_args__ = (
        UniqueConstraint("access_key_id", name="uq_iam_access_keys_access_key_id"),
        Index("ix_iam_access_keys_principal_id_id", "principal_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    access_key_id: str = Field(sa_column=Column(String(128), nullable=False))
    principal_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("iam_principals.id", ondelete="CASCADE"), nullable=False
        )
    )
    secret_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    created_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlPolicy(SQLModel, table=True):
    """A policy; roles and statements as JSON, roles again in iam_policy_roles for lookups."""

    __tablename__ = "iam_policies"
    __table_args__ = (UniqueConstraint("account", "name", name="uq_iam_policies_account_name"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    account: str = Field(sa_column=Column(String(255), nullable=False))
    name: str = Field(sa_column=Column(NAME, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    statements: list[dict[str, object]] = Field(sa_column=Column(JSON, nullable=False))
    created_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_modified_on: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlPolicyRole(SQLModel, table=True):
    """A role a policy is attached to. Roles may be long (a job's role is), so they are looked
    up by their SHA-256, which always fits an index."""

    __tablename__ = "iam_policy_roles"
    __table_args__ = (
        PrimaryKeyConstraint("policy_id", "role_key", name="pk_iam_policy_roles"),
        Index("ix_iam_policy_roles_role_key", "role_key"),
    )

    policy_id: int = Field(
        sa_column=Column(Integer, ForeignKey("iam_policies.id", ondelete="CASCADE"), nullable=False)
    )
    role_key: str = Field(sa_column=Column(String(64), nullable=False))
    role: str = Field(sa_column=Column(Text, nullable=False))


PRINCIPALS = SqlPrincipal.__table__
TOKENS = SqlToken.__table__
ACCESS_KEYS = SqlAccessKey.__table__
POLICIES = SqlPolicy.__table__
POLICY_ROLES = SqlPolicyRole.__table__
