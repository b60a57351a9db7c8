"""Alembic migrations of the crawlers domain (see sluice.control_plane.crawlers.schema)."""
