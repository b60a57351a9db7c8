"""The identity domain's schema (principals, tokens, policies): its Alembic migrations, run at
start-up."""

from __future__ import annotations

from pathlib import Path

from sluice.common.db import Database
from sluice.common.migrations import upgrade

VERSION_TABLE = "alembic_version_security"
MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade_schema(db: Database) -> None:
    """Bring the identity tables to the newest revision (idempotent)."""
    upgrade(db, MIGRATIONS, VERSION_TABLE)
