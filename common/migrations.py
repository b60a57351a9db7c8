"""Alembic migrations, run at start-up. Each domain keeps its own script folder and version
table, so domains stay independent and are upgraded in the order the caller gives."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection

from sluice.common.db import Database


def upgrade(db: Database, script_location: Path, version_table: str) -> None:
    """Bring one domain's schema to its newest revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # A data migration may rightly take longer than any one API statement.
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        cfg.attributes["connection"] = conn
        cfg.attributes["version_table"] = version_table
        command.upgrade(cfg, "head")


def run_env() -> None:
    """The body of every domain's alembic env.py: migrate over the connection we were given."""
    config = context.config
    conn: Connection = config.attributes["connection"]
    context.configure(
        connection=conn,
        version_table=config.attributes["version_table"],
        render_as_batch=conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
