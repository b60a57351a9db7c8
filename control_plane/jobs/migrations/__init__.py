"""Alembic migrations of the jobs domain (see sluice.control_plane.jobs.schema)."""
