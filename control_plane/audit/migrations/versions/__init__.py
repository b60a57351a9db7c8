"""Revisions of the audit schema."""
