"""The catalog tables: databases, tables and their versions and parameters, partitions,
connections and user-defined functions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Byte-order comparison on PostgreSQL too, so both databases order names and slots alike.
NAME = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
SLOT = sa.String().with_variant(sa.String(collation="C"), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "databases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("catalog_id", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location_uri", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.UniqueConstraint("catalog_id", "name", name="uq_databases_catalog_id_name"),
    )
    op.create_table(
        "tables",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "database_id",
            sa.Integer(),
            sa.ForeignKey("databases.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", NAME, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("table_type", sa.String(255), nullable=False),
        sa.Column("retention", sa.Integer(), nullable=False),
        sa.Column("view_original_text", sa.Text(), nullable=False),
        sa.Column("view_expanded_text", sa.Text(), nullable=False),
        sa.Column("storage_descriptor", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("partition_keys", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.Column("last_access_time", TIME, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.UniqueConstraint("database_id", "name", name="uq_tables_database_id_name"),
    )
    op.create_table(
        "table_versions",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column(
            "table_id", sa.Integer(), sa.ForeignKey("tables.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.UniqueConstraint("table_id", "version", name="uq_table_versions_table_id_version"),
    )
    op.create_table(
        "table_parameters",
        sa.Column(
            "table_id", sa.Integer(), sa.ForeignKey("tables.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("table_id", "key", name="pk_table_parameters"),
    )
    op.create_table(
        "partitions",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column(
            "table_id", sa.Integer(), sa.ForeignKey("tables.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("values_json", sa.JSON(), nullable=False),
        sa.Column("values_key", sa.Text(), nullable=False),
        *(sa.Column(f"k{i}", SLOT, nullable=True) for i in range(10)),
        sa.Column("storage_descriptor", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("creation_time", TIME, nullable=False),
        sa.Column("last_access_time", TIME, nullable=True),
        sa.UniqueConstraint("table_id", "values_key", name="uq_partitions_table_id_values_key"),
    )
    op.create_index("ix_partitions_table_id_id", "partitions", ["table_id", "id"])
    op.create_index("ix_partitions_slots", "partitions", ["table_id", "k0", "k1", "k2", "k3"])
    op.create_index("ix_partitions_k1", "partitions", ["table_id", "k1"])
    op.create_index("ix_partitions_k2", "partitions", ["table_id", "k2"])
    op.create_index("ix_partitions_k3", "partitions", ["table_id", "k3"])
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("catalog_id", sa.String(255), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("connection_type", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("match_criteria", sa.JSON(), nullable=False),
        sa.Column("match_criteria_text", sa.Text(), nullable=False),
        sa.Column("connection_properties", sa.JSON(), nullable=False),
        sa.Column("physical_connection_requirements", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("creation_time", TIME, nullable=False),
        sa.Column("last_updated_time", TIME, nullable=False),
        sa.Column("last_updated_by", sa.String(255), nullable=False),
        sa.UniqueConstraint("catalog_id", "name", name="uq_connections_catalog_id_name"),
    )
    op.create_table(
        "user_defined_functions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "database_id",
            sa.Integer(),
            sa.ForeignKey("databases.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", NAME, nullable=False),
        sa.Column("class_name", sa.String(255), nullable=False),
        sa.Column("owner_name", sa.String(255), nullable=False),
        sa.Column("owner_type", sa.String(16), nullable=False),
        sa.Column("resource_uris", sa.JSON(), nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        sa.UniqueConstraint(
            "database_id", "name", name="uq_user_defined_functions_database_id_name"
        ),
    )


def downgrade() -> None:
    for table in (
        "user_defined_functions",
        "connections",
        "partitions",
        "table_parameters",
        "table_versions",
        "tables",
        "databases",
    ):
        op.drop_table(table)
