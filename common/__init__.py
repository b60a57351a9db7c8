"""Pieces shared by every Sluice domain: errors, paging tokens, database sessions and migrations."""
