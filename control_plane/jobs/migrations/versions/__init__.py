"""Revisions of the jobs schema."""
