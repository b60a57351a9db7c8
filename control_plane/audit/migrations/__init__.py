"""Alembic migrations of the audit trail (see control_plane.audit.schema)."""
