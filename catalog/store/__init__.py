"""Catalog storage: the CatalogStore interface and its one SQL implementation."""

from sluice.catalog.core.store.base import CatalogStore

__all__ = ["CatalogStore"]
