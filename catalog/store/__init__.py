"""Catalog storage: the CatalogStore interface and its one SQL implementation."""

from catalog.store.base import CatalogStore

__all__ = ["CatalogStore"]
