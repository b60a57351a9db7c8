"""Alembic migrations of the catalog schema (see catalog.schema)."""
