"""Alembic migrations of the identity domain (see sluice.control_plane.security.schema)."""
