"""Database access: engine set-up per backend, schema creation/versioning, write transactions.

Concurrency model:

* **SQLite**: WAL journal (readers never block the writer), a busy timeout, and every write
  transaction opened with ``BEGIN IMMEDIATE`` so read-modify-write sequences of several processes
  are serialized by SQLite's write lock instead of failing on lock upgrade.
* **PostgreSQL** (psycopg 3): READ COMMITTED with ``SELECT ... FOR UPDATE`` on the charge row,
  plus a transaction-scoped advisory lock on ``(provider, charge id)`` for events that arrive
  before their charge is known. Deadlocks and serialization failures are retried.

On both, every change of a charge row also compares and bumps its ``version`` column, so an
update that did not hold the lock it believes it holds fails loudly instead of losing an update.

Speed (PostgreSQL): a webhook is one transaction of a few statements, so what costs is round trips
and SQLAlchemy's own work per statement. Pooled connections are not pinged on checkout (a ping is
a round trip per transaction); a connection found dead is replaced and the transaction run again,
as long as its COMMIT was not sent. The hot statements are :class:`Statement` objects: built once,
run on psycopg's cursor (see there).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.pool import StaticPool

from ..errors import ConfigurationError, LedgerError
from . import schema

T = TypeVar("T")
log = logging.getLogger("paymux.ledger")

_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_WRITE = "paymux_write"
_CURSOR = "paymux_cursor"
_IDLE_KEPT = 5  # SQLAlchemy's default pool size: more would only pin connections nobody uses

MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: schema.upgrade_from_1}
"""``MIGRATIONS[n]`` upgrades a database from schema version ``n`` to ``n + 1``."""


def database_error(error: SQLAlchemyError, where: str, dialect: str = "") -> LedgerError:
    """A raw driver error as a :class:`LedgerError` saying what to do. Callers catch
    ``PaymuxError``; SQLAlchemy's classes differ between backends and its text can quote values."""
    cause = getattr(error, "orig", None) or error
    # The driver's first line says what failed (no parameters; the URL is shown without password).
    detail = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
    if isinstance(error, OperationalError):
        advice = "the database cannot be reached or opened: " + (
            "check that the file's directory exists and is writable"
            if dialect == "sqlite"
            else "check the URL, that the server runs and that it accepts this user"
        )
    elif isinstance(error, IntegrityError):
        advice = "the database refused a write that breaks one of its rules (a duplicate id?)"
    elif isinstance(error, DataError):
        advice = "the database refused a value paymux should have refused first: please report it"
    else:
        advice = "the database failed the operation; retry, and report it if it persists"
    return LedgerError(f"ledger database {where}: {advice} ({type(cause).__name__}: {detail})")


class ConcurrentUpdate(LedgerError):
    """A charge row changed under an update that should have held its lock (a bug, not a race)."""


class Rollback(Exception):
    """Raised by a transaction's work to undo everything it wrote and still answer ``value``
    from :meth:`Store.write` (e.g. an event found to be a duplicate only at its last insert)."""

    def __init__(self, value: Any) -> None:
        super().__init__("transaction rolled back on purpose")
        self.value = value


class Statement:
    """A Core statement for the hot paths, built once per dialect.

    On PostgreSQL it runs on psycopg's own cursor with its SQL compiled once: on a local server,
    SQLAlchemy's work per execution (cache key, execution context, result rows) costs more than
    the round trip itself, and psycopg prepares a statement on the server once it has run a few
    times. Rows come back as named tuples (``row.status``, like SQLAlchemy's rows). Other
    dialects run the same statement through SQLAlchemy, whose type handling SQLite needs
    (timestamps are text there). ``build(dialect_name)`` makes the statement, with
    ``bindparam`` placeholders for every value.
    """

    def __init__(self, build: Callable[[str], Executable]) -> None:
        self._build = build
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, conn: Connection) -> _Compiled:
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            statement = self._build(name)
            compiled = statement.compile(conn)  # type: ignore[attr-defined]
            # Literals in the statement (a status, a 0) are parameters too, with their values.
            fixed = {key: value for key, value in compiled.params.items() if value is not None}
            found = self._compiled[name] = _Compiled(statement, str(compiled), fixed)
        return found

    def first(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The first row, or None. The statement must return rows (a SELECT, or RETURNING)."""
        compiled = self._for(conn)
        if conn.dialect.name != "postgresql":
            return conn.execute(compiled.statement, params).first()
        if compiled.fixed:
            params = {**compiled.fixed, **params}
        driver = conn.connection.driver_connection
        psycopg = _psycopg()
        try:
            # One cursor per connection, kept with it: making one per statement costs CPU too.
            cursor = conn.info.get(_CURSOR)
            if cursor is None or cursor.connection is not driver:
                cursor = conn.info[_CURSOR] = driver.cursor()  # type: ignore[union-attr]
            cursor.execute(compiled.sql, params)
            values = cursor.fetchone()
            if values is None:
                return None
            if compiled.row is None:
                compiled.row = namedtuple("Row", [c.name for c in cursor.description])  # type: ignore[misc]
            return compiled.row._make(values)
        except psycopg.Error as error:
            # As SQLAlchemy would raise it, so Store.write retries deadlocks and lost connections.
            lost = bool(driver.broken or driver.closed)  # type: ignore[union-attr]
            if lost:
                conn.invalidate()
            raise DBAPIError.instance(
                compiled.sql, params, error, psycopg.Error, connection_invalidated=lost
            ) from error


@dataclass
class _Compiled:
    statement: Executable
    sql: str
    fixed: dict[str, Any]
    row: Any = None
    """The named tuple for its rows, made from the first answer's column names."""


@functools.cache
def _psycopg() -> Any:
    import psycopg  # only PostgreSQL needs it, and only then is it installed

    return psycopg


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def from_db(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def when(moment: datetime) -> datetime:
    """A NOT NULL timestamp column, back in UTC."""
    return moment.replace(tzinfo=UTC)


class Store:
    """An engine plus the transaction discipline above. Thread-safe; one per process is enough."""

    def __init__(
        self, url: str | Engine, *, busy_timeout: float = 30.0, echo: bool = False
    ) -> None:
        if isinstance(url, Engine):
            self.engine = url
            if url.dialect.name == "sqlite":
                _sqlite_pragmas(url, busy_timeout)
        else:
            self.engine = _engine(url, busy_timeout=busy_timeout, echo=echo)
        self.dialect = self.engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"the ledger supports SQLite and PostgreSQL, not {self.dialect}"
            )
        if self.dialect == "sqlite":
            _sqlite_transactions(self.engine)
        # A single shared connection (in-memory SQLite) cannot isolate concurrent transactions.
        self._serial = threading.RLock() if isinstance(self.engine.pool, StaticPool) else None
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        # PostgreSQL: connections kept open between transactions (see _connection).
        self._idle: list[Connection] | None = [] if self.is_postgres else None
        self._disposed = False

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def describe(self) -> str:
        """The URL without its password (safe for logs and reprs)."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self._disposed = True
        while self._idle:
            self._idle.pop().close()
        self.engine.dispose()

    # -- schema ----------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the tables on first use; refuse a database written by a newer paymux."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if not self._schema_ready:
                self.write(self._create_or_migrate)
                self._schema_ready = True

    def _create_or_migrate(self, conn: Connection) -> None:
        if self.is_postgres:
            # Two instances starting at once must not both run CREATE TABLE.
            conn.execute(text("SELECT pg_advisory_xact_lock(7301482231)"))
        schema.metadata.create_all(conn, checkfirst=True)
        row = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
        ).scalar_one_or_none()
        if row is None:
            conn.execute(
                schema.meta.insert().values(key="schema_version", value=str(schema.SCHEMA_VERSION))
            )
            return
        found = int(row)
        if found > schema.SCHEMA_VERSION:
            raise ConfigurationError(
                f"the ledger database has schema version {found}; this paymux knows up to"
                f" {schema.SCHEMA_VERSION}: upgrade paymux"
            )
        while found < schema.SCHEMA_VERSION:
            log.info("migrating the ledger schema from version %d", found)
            MIGRATIONS[found](conn)
            found += 1
            conn.execute(
                schema.meta.update()
                .where(schema.meta.c.key == "schema_version")
                .values(value=str(found))
            )

    def schema_version(self) -> int:
        self.ensure_schema()
        value = self.read(
            lambda conn: conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
            ).scalar_one()
        )
        return int(value)

    # -- transactions ----------------------------------------------------------------------

    def write(self, work: Callable[[Connection], T], *, attempts: int = 8) -> T:
        """Run ``work`` in one write transaction, retrying on deadlock or serialization failure.

        ``work`` must be safe to run again from the start (it only touches the database).
        """
        delay = 0.01
        for attempt in range(1, attempts + 1):
            committing = False
            try:
                with self._maybe_serial(), self._connection(write=True) as conn, conn.begin():
                    result = work(conn)
                    committing = True
                return result
            except Rollback as rollback:
                return rollback.value  # type: ignore[no-any-return]
            except DBAPIError as error:
                # A connection that died before COMMIT was sent: the server rolled the work back,
                # so it can run again. After COMMIT was sent, nobody knows whether it happened.
                lost = error.connection_invalidated and not committing
                if attempt == attempts or not (lost or self._retryable(error)):
                    raise database_error(error, self.describe(), self.dialect) from error
                log.debug("ledger transaction retried after %s", type(error.orig).__name__)
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except SQLAlchemyError as error:
                raise database_error(error, self.describe(), self.dialect) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, work: Callable[[Connection], T]) -> T:
        for attempt in (1, 2):
            try:
                with self._maybe_serial(), self._connection(write=False) as conn, conn.begin():
                    return work(conn)
            except DBAPIError as error:
                if attempt == 1 and error.connection_invalidated:
                    continue  # a pooled connection that died meanwhile; reading again is safe
                raise database_error(error, self.describe(), self.dialect) from error
            except SQLAlchemyError as error:
                raise database_error(error, self.describe(), self.dialect) from error
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _connection(self, *, write: bool) -> Iterator[Connection]:
        """A connection for one transaction.

        On PostgreSQL the store keeps the connections it opened between transactions: checking
        one out of SQLAlchemy's pool and back in costs more CPU than a webhook's statements. A
        connection that failed (invalidated) or is still in a transaction is not kept.
        """
        if self._idle is None:
            with self.engine.connect() as raw:
                # SQLite: the begin hook opens write transactions with BEGIN IMMEDIATE.
                yield raw.execution_options(**{_WRITE: write})
            return
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self.engine.connect()
        try:
            yield conn
        finally:
            if (
                self._disposed
                or conn.invalidated
                or conn.in_transaction()
                or len(self._idle) >= _IDLE_KEPT
            ):
                conn.close()
            else:
                self._idle.append(conn)

    def _maybe_serial(self) -> AbstractContextManager[Any]:
        return self._serial if self._serial is not None else contextlib.nullcontext()

    def _retryable(self, error: DBAPIError) -> bool:
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate in _RETRY_SQLSTATES:
            return True
        # SQLite's busy timeout already waited; a few more rounds beat failing a webhook.
        return isinstance(error, OperationalError) and "database is locked" in str(error.orig)

    def advisory_lock(self, conn: Connection, key: str) -> bool:
        """Serialize transactions about ``key`` (PostgreSQL; SQLite is already serial).
        True when a lock was taken (so what was read before it may have changed)."""
        if self.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})
        return self.is_postgres


def _engine(url: str, *, busy_timeout: float, echo: bool) -> Engine:
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigurationError(
            "the ledger URL is not a database URL such as sqlite:///paymux.db"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"timeout": busy_timeout}}
        if parsed.database in (None, "", ":memory:"):
            kwargs = {"connect_args": {"check_same_thread": False}, "poolclass": StaticPool}
        elif "\x00" in parsed.database or not parsed.database.isprintable():
            # A NUL, a lone surrogate or a control character: no usable file has that name.
            raise ConfigurationError("the ledger URL's file name has unusable characters")
        elif not Path(parsed.database).parent.is_dir():
            # SQLite would only say "unable to open database file", at the first operation.
            raise ConfigurationError(
                f"the ledger URL points into {Path(parsed.database).parent}, which is not a"
                " directory: create it or fix the URL"
            )
        engine = create_engine(parsed, echo=echo, **kwargs)
        _sqlite_pragmas(engine, busy_timeout)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() not in ("psycopg", "psycopg_async"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "PostgreSQL needs psycopg 3: pip install 'paymux[postgres]'"
            ) from None
        # No pool_pre_ping: Store.write replaces a dead connection and runs the work again.
        return create_engine(parsed, echo=echo)
    raise ConfigurationError(
        f"the ledger supports sqlite:// and postgresql:// URLs, not {backend}://"
    )


def _sqlite_pragmas(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own implicit BEGIN would start transactions as DEFERRED; we emit our own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()


def _sqlite_transactions(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: two writers that both read first and then
        # try to upgrade would otherwise get SQLITE_BUSY without waiting.
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
