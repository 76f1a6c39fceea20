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
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from ..errors import ConfigurationError, PaymuxError
from . import schema

T = TypeVar("T")
log = logging.getLogger("paymux.ledger")

_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_WRITE = "paymux_write"

MIGRATIONS: dict[int, Callable[[Connection], None]] = {}
"""``MIGRATIONS[n]`` upgrades a database from schema version ``n`` to ``n + 1``."""


class LedgerError(PaymuxError):
    """The ledger's database refused or failed an operation."""


class ConcurrentUpdate(LedgerError):
    """A charge row changed under an update that should have held its lock (a bug, not a race)."""


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

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def describe(self) -> str:
        """The URL without its password (safe for logs and reprs)."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
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
        with self.engine.connect() as conn:
            value = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
            ).scalar_one()
        return int(value)

    # -- transactions ----------------------------------------------------------------------

    def write(self, work: Callable[[Connection], T], *, attempts: int = 8) -> T:
        """Run ``work`` in one write transaction, retrying on deadlock or serialization failure.

        ``work`` must be safe to run again from the start (it only touches the database).
        """
        delay = 0.01
        for attempt in range(1, attempts + 1):
            try:
                with self._maybe_serial(), self.engine.connect() as raw:
                    conn = raw.execution_options(**{_WRITE: True})
                    with conn.begin():
                        return work(conn)
            except DBAPIError as error:
                if attempt == attempts or not self._retryable(error):
                    raise
                log.debug("ledger transaction retried after %s", type(error.orig).__name__)
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, work: Callable[[Connection], T]) -> T:
        with self._maybe_serial(), self.engine.connect() as conn, conn.begin():
            return work(conn)

    def _maybe_serial(self) -> AbstractContextManager[Any]:
        return self._serial if self._serial is not None else contextlib.nullcontext()

    def _retryable(self, error: DBAPIError) -> bool:
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate in _RETRY_SQLSTATES:
            return True
        # SQLite's busy timeout already waited; a few more rounds beat failing a webhook.
        return isinstance(error, OperationalError) and "database is locked" in str(error.orig)

    def advisory_lock(self, conn: Connection, key: str) -> None:
        """Serialize transactions about ``key`` (PostgreSQL; SQLite is already serial)."""
        if self.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


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
        return create_engine(parsed, echo=echo, pool_pre_ping=True)
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
