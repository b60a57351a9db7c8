"""Opening the database at start-up: connect, prove it answers, migrate catalog and jobs."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from sluice.catalog.core.schema import upgrade_schema as upgrade_catalog_schema
from sluice.common.db import DEFAULT_STATEMENT_TIMEOUT, Database
from sluice.common.errors import InternalError
from sluice.control_plane.audit.schema import upgrade_schema as upgrade_audit_schema
from sluice.control_plane.crawlers.schema import upgrade_schema as upgrade_crawlers_schema
from sluice.control_plane.errors import StartupError
from sluice.control_plane.jobs.schema import upgrade_schema as upgrade_jobs_schema
from sluice.control_plane.security.schema import upgrade_schema as upgrade_security_schema


def open_database(url: str, *, statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT) -> Database:
    """A Database with every schema (catalog, jobs, security, audit, crawlers) up to date;
    StartupError if that cannot be had."""
    shown = _safe_url(url)
    try:
        db = Database(url, statement_timeout=statement_timeout)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise StartupError(f"database URL {shown} is not usable: {exc}") from None
    try:
        with db.engine.connect():
            pass
    except SQLAlchemyError as exc:
        db.dispose()
        raise StartupError(f"cannot connect to the database {shown}: {_reason(exc)}") from None
    try:
        upgrade_catalog_schema(db)
        upgrade_jobs_schema(db)
        upgrade_security_schema(db)
        upgrade_audit_schema(db)
        upgrade_crawlers_schema(db)
    except (SQLAlchemyError, InternalError) as exc:
        db.dispose()
        raise StartupError(f"cannot migrate the database {shown}: {_reason(exc)}") from None
    return db


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or getattr(exc, "__cause__", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__
