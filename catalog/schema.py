"""The catalog's database schema: brought to its newest revision at start-up."""

from __future__ import annotations

from pathlib import Path

from sluice.common import migrations
from sluice.common.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_catalog"


def upgrade_schema(db: Database) -> None:
    """Creates or upgrades the catalog tables; does nothing when they are current."""
    migrations.upgrade(db, MIGRATIONS, VERSION_TABLE)
