"""Alembic migrations of the jobs domain (see control_plane.jobs.schema)."""
