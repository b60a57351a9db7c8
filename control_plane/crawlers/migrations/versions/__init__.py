"""Revisions of the crawlers schema."""
