"""Workflows: graphs of triggers and jobs, run as a whole (docs/workflows.md)."""
