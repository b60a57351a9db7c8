"""Alembic migrations of the identity domain (see control_plane.security.schema)."""
