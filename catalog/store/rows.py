"""The tables of the SQL catalog store.

The Sql* classes describe the schema (catalog/migrations creates it); they never leave the
store, which reads and writes them with SQLAlchemy Core and returns catalog.model objects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

# Names compare in byte order on PostgreSQL too, so both databases list them in the same order.
NAME = String(255).with_variant(String(255, collation="C"), "postgresql")
# A partition value's order-preserving encoding; byte order is the key's order.
SLOT = String().with_variant(String(collation="C"), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY (its rowid).
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json(*, nullable: bool = False) -> Any:
    return JSON(none_as_null=True) if nullable else JSON()


class SqlDatabase(SQLModel, table=True):
    __tablename__ = "databases"
    __table_args__ = (UniqueConstraint("catalog_id", "name", name="uq_databases_catalog_id_name"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    catalog_id: str = Field(sa_column=Column(String(255), nullable=False))
    name: str = Field(sa_column=Column(NAME, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    location_uri: str = Field(sa_column=Column(Text, nullable=False))
    parameters: dict[str, str] = Field(sa_column=Column(_json(), nullable=False))
    create_time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlTable(SQLModel, table=True):
    """The current definition of a table; `version` is the number of its current version."""

    __tablename__ = "tables"
    __table_args__ = (UniqueConstraint("database_id", "name", name="uq_tables_database_id_name"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    database_id: int = Field(
        sa_column=Column(Integer, ForeignKey("databases.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = Field(sa_column=Column(NAME, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    owner: str = Field(sa_column=Column(String(255), nullable=False))
    table_type: str = Field(sa_column=Column(String(255), nullable=False))
    retention: int = Field(sa_column=Column(Integer, nullable=False))
    view_original_text: str = Field(sa_column=Column(Text, nullable=False))
    view_expanded_text: str = Field(sa_column=Column(Text, nullable=False))
    storage_descriptor: dict[str, Any] | None = Field(
        default=None, sa_column=Column(_json(nullable=True), nullable=True)
    )
    partition_keys: list[dict[str, Any]] = Field(sa_column=Column(_json(), nullable=False))
    parameters: dict[str, str] = Field(sa_column=Column(_json(), nullable=False))
    created_by: str = Field(sa_column=Column(String(255), nullable=False))
    create_time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    update_time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_access_time: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True)
    )
    version: int = Field(sa_column=Column(Integer, nullable=False))
    # Lower-cased name, description, columns and parameters, for SearchTables.
    search_text: str = Field(sa_column=Column(Text, nullable=False))


class SqlTableVersion(SQLModel, table=True):
    """One version of a table, the current one included, as a full JSON snapshot."""

    __tablename__ = "table_versions"
    __table_args__ = (
        UniqueConstraint("table_id", "version", name="uq_table_versions_table_id_version"),
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    table_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tables.id", ondelete="CASCADE"), nullable=False)
    )
    version: int = Field(sa_column=Column(Integer, nullable=False))
    snapshot: dict[str, Any] = Field(sa_column=Column(_json(), nullable=False))
    create_time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlTableParameter(SQLModel, table=True):
    """A table's parameters again, one row each, so SearchTables can filter on them in SQL."""

    __tablename__ = "table_parameters"
    __table_args__ = (PrimaryKeyConstraint("table_id", "key", name="pk_table_parameters"),)

    table_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tables.id", ondelete="CASCADE"), nullable=False)
    )
    key: str = Field(sa_column=Column(String(255), nullable=False))
    value: str = Field(sa_column=Column(Text, nullable=False))


class SqlPartition(SQLModel, table=True):
    """A partition. k0..k9 hold the encoded values (catalog.partition_keys), one per key."""

    __tablename__ = "partitions"
    __table_args__ = (
        UniqueConstraint("table_id", "values_key", name="uq_partitions_table_id_values_key"),
        Index("ix_partitions_table_id_id", "table_id", "id"),
        Index("ix_partitions_slots", "table_id", "k0", "k1", "k2", "k3"),
        Index("ix_partitions_k1", "table_id", "k1"),
        Index("ix_partitions_k2", "table_id", "k2"),
        Index("ix_partitions_k3", "table_id", "k3"),
    )

    id: int | None = Field(default=None, sa_column=Column(BIG_ID, primary_key=True))
    table_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tables.id", ondelete="CASCADE"), nullable=False)
    )
    values_json: list[str] = Field(sa_column=Column(_json(), nullable=False))
    # The encoded values joined with '\x1f': equal exactly when two partitions are the same.
    values_key: str = Field(sa_column=Column(Text, nullable=False))
    k0: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    k1: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    k2: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    k3: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    k4: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    k5: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    k6: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    k7: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    k8: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    k9: str | None = Field(default=None, sa_column=Column(SLOT, nullable=True))
    storage_descriptor: dict[str, Any] | None = Field(
        default=None, sa_column=Column(_json(nullable=True), nullable=True)
    )
    parameters: dict[str, str] = Field(sa_column=Column(_json(), nullable=False))
    creation_time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_access_time: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True)
    )


class SqlConnection(SQLModel, table=True):
    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("catalog_id", "name", name="uq_connections_catalog_id_name"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    catalog_id: str = Field(sa_column=Column(String(255), nullable=False))
    name: str = Field(sa_column=Column(NAME, nullable=False))
    connection_type: str = Field(sa_column=Column(String(32), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    match_criteria: list[str] = Field(sa_column=Column(_json(), nullable=False))
    # The criteria as '\x1f' + '\x1f'.join(criteria) + '\x1f', so a filter is a LIKE per item.
    match_criteria_text: str = Field(sa_column=Column(Text, nullable=False))
    connection_properties: dict[str, str] = Field(sa_column=Column(_json(), nullable=False))
    physical_connection_requirements: dict[str, Any] | None = Field(
        default=None, sa_column=Column(_json(nullable=True), nullable=True)
    )
    creation_time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_updated_time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_updated_by: str = Field(sa_column=Column(String(255), nullable=False))


class SqlUserDefinedFunction(SQLModel, table=True):
    __tablename__ = "user_defined_functions"
    __table_args__ = (
        UniqueConstraint("database_id", "name", name="uq_user_defined_functions_database_id_name"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    database_id: int = Field(
        sa_column=Column(Integer, ForeignKey("databases.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = Field(sa_column=Column(NAME, nullable=False))
    class_name: str = Field(sa_column=Column(String(255), nullable=False))
    owner_name: str = Field(sa_column=Column(String(255), nullable=False))
    owner_type: str = Field(sa_column=Column(String(16), nullable=False))
    resource_uris: list[dict[str, str]] = Field(sa_column=Column(_json(), nullable=False))
    create_time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class SqlDatabaseTag(SQLModel, table=True):
    """A database's tags (TagResource, Tags on CreateDatabase), going with it."""

    __tablename__ = "database_tags"
    __table_args__ = (PrimaryKeyConstraint("resource_id", "key", name="pk_database_tags"),)

    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("databases.id", ondelete="CASCADE"), nullable=False)
    )
    key: str = Field(sa_column=Column(String(128), nullable=False))
    value: str = Field(sa_column=Column(String(256), nullable=False))


class SqlConnectionTag(SQLModel, table=True):
    """A connection's tags (TagResource, Tags on CreateConnection), going with it."""

    __tablename__ = "connection_tags"
    __table_args__ = (PrimaryKeyConstraint("resource_id", "key", name="pk_connection_tags"),)

    resource_id: int = Field(
        sa_column=Column(Integer, ForeignKey("connections.id", ondelete="CASCADE"), nullable=False)
    )
    key: str = Field(sa_column=Column(String(128), nullable=False))
    value: str = Field(sa_column=Column(String(256), nullable=False))
