"""Alembic migrations of the catalog schema (see sluice.catalog.core.schema)."""
