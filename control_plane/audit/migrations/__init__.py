"""Alembic migrations of the audit trail (see sluice.control_plane.audit.schema)."""
