"""Revisions of the catalog schema, oldest first."""
