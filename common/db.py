"""Database engines and the one transaction helper every store uses.

SQLite (embedded default) runs in WAL mode and takes its write lock at BEGIN (BEGIN IMMEDIATE),
so two writers queue instead of failing half-way; PostgreSQL is used as it is. Both paths run
the same store code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError

from sluice.common.errors import (
    AlreadyExists,
    ConcurrentModification,
    InternalError,
    OperationTimeout,
    SluiceError,
)

_WRITE = "sluice_write"
# How long one statement may run before the call fails with OperationTimeoutException.
DEFAULT_STATEMENT_TIMEOUT = 30.0
# A pooled PostgreSQL connection idle this long is pinged before use.
PING_AFTER_IDLE_S = 1.0
_LAST_USED = "sluice_last_used"
# PostgreSQL SQLSTATEs: a statement or lock wait past its deadline, and two writers colliding.
_TIMED_OUT = frozenset({"57014", "55P03"})  # query_canceled, lock_not_available
_COLLIDED = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected

# Work to do inside every write transaction of the current call, just before it commits: the
# audit trail writes the record of a mutating call there, so no change exists without its
# record. Call-scoped (a ContextVar), set with before_commit().
_BEFORE_COMMIT: ContextVar[Callable[[Connection], None] | None] = ContextVar(
    "sluice_before_commit", default=None
)


@contextmanager
def before_commit(hook: Callable[[Connection], None]) -> Iterator[None]:
    """Run hook(connection) inside each write transaction committed in this context."""
    token = _BEFORE_COMMIT.set(hook)
    try:
        yield
    finally:
        _BEFORE_COMMIT.reset(token)


def normalize_url(url: str) -> str:
    """Accept the URLs users write (postgresql://, postgres://) and pick the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'sluice.db'}"


class Database:
    """Owns an engine; hands out read and write units of work."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        echo: bool = False,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
    ) -> None:
        """Opens (lazily) the database at `url`.

        Args:
            url: A SQLAlchemy URL (sqlite:///..., postgresql://...).
            pool_size: Connections kept open on PostgreSQL.
            echo: Log every statement.
            statement_timeout: Seconds one statement (on SQLite: one wait for the write lock)
                may take; past it the call fails with OperationTimeout.
        """
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        self.statement_timeout = statement_timeout
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": statement_timeout}
        else:
            # Pinged on checkout only after PING_AFTER_IDLE_S idle (see _configure_postgresql),
            # not on every checkout as pool_pre_ping would: that is one more round trip a call.
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, statement_timeout)
        else:
            _configure_postgresql(self.engine, statement_timeout)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any error.

        A unique-constraint violation becomes AlreadyExists; stores raise more specific
        errors themselves where they know better.
        """
        with self.engine.connect().execution_options(**{_WRITE: True}) as conn:
            try:
                with conn.begin():
                    yield conn
                    hook = _BEFORE_COMMIT.get()
                    if hook is not None:
                        hook(conn)
            except IntegrityError as exc:
                if _is_unique_violation(exc):
                    raise AlreadyExists("the resource already exists") from None
                raise InternalError("the database refused the change") from exc
            except OperationalError as exc:
                raise self._operational_error(exc) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            try:
                with conn.begin():
                    yield conn
            except OperationalError as exc:
                raise self._operational_error(exc) from exc

    def _operational_error(self, exc: OperationalError) -> SluiceError:
        """The domain error a failed statement stands for."""
        state = getattr(exc.orig, "sqlstate", None)
        if state in _TIMED_OUT or "database is locked" in str(exc.orig):
            return OperationTimeout(
                f"the catalog database did not answer within {self.statement_timeout:g} s"
            )
        if state in _COLLIDED:
            return ConcurrentModification(
                "another call changed the same resources at the same time; retry"
            )
        return InternalError("the database is unavailable or busy")

    def dispose(self) -> None:
        self.engine.dispose()


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23505":
        return True
    return "UNIQUE constraint failed" in str(orig)


def _configure_postgresql(engine: Engine, statement_timeout: float) -> None:
    milliseconds = max(1, round(statement_timeout * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Session-wide, so every statement of every call has the deadline; migrations lift it.
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET statement_timeout = {milliseconds}")
        dbapi_conn.commit()
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # A connection idle for a while may have been closed by the server (a restart, an idle
        # timeout): ping it first, and have the pool replace it if the ping fails. One in
        # steady use is not pinged, saving a round trip a call.
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:  # any failure: the connection is unusable
            raise DisconnectionError(f"stale connection: {exc}") from exc

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()


def _configure_sqlite(engine: Engine, statement_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself, so writers can take the lock early.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={max(1, round(statement_timeout * 1000))}")
        # LIKE is case-sensitive on PostgreSQL and in Glue; make SQLite agree.
        cur.execute("PRAGMA case_sensitive_like=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT rows (all with the same keys) into table: on PostgreSQL as one COPY (an
    executemany costs a parse, bind and result per row: several times slower for hundreds of
    rows), elsewhere as an executemany. Values go through the columns' types as in an INSERT;
    a table whose missing columns have Python-side defaults is inserted as an executemany
    (COPY would skip them). Constraint violations raise IntegrityError in both."""
    if not rows:
        return
    names = list(rows[0])
    if conn.dialect.name != "postgresql" or any(
        column.default is not None and column.name not in rows[0] for column in table.columns
    ):
        conn.execute(insert(table), list(rows))
        return
    dialect = conn.dialect
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    target = dialect.identifier_preparer.format_table(table)
    bound = list(zip(names, processors, strict=True))
    statement = f"COPY {target} ({columns}) FROM STDIN"
    raw = conn.connection.driver_connection
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([_bound(process, row[name]) for name, process in bound])
    except dbapi_error as exc:
        # As SQLAlchemy wraps the driver's errors of its own statements (IntegrityError,
        # OperationalError, ...), for the transaction helper to turn them into Glue's.
        raise DBAPIError.instance(statement, None, exc, dbapi_error) from exc


def _bound(process: Callable[[Any], Any] | None, value: Any) -> Any:
    return value if process is None or value is None else process(value)
