"""Opening the ledger for a command: never create a database or a schema from the command line.

A cron job's ``reconcile --db`` with a typo used to create an empty database and exit 0 forever;
``ledger show`` wrote the schema into whatever PostgreSQL database it was pointed at.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..cli_support import NoDatabase
from ..errors import ConfigurationError
from . import schema
from .store import Store


def existing_store(url: str) -> Store:
    """A :class:`Store` on a database that already holds a paymux ledger; ``NoDatabase`` else."""
    try:
        database = make_url(url).database
    except ArgumentError:
        raise ConfigurationError("--db is not a database URL such as sqlite:///paymux.db") from None
    if url.startswith("sqlite"):
        if database in (None, "", ":memory:"):
            raise NoDatabase("--db: an in-memory SQLite database holds no ledger; give a file")
        if not Path(str(database)).is_file():
            raise NoDatabase(
                f"--db: no ledger database at {database}: check the path (the CLI never"
                " creates one; your application's Ledger does)"
            )
    store = Store(url)
    try:
        found = store.read(lambda conn: inspect(conn).has_table(schema.meta.name))
    except BaseException:
        store.dispose()
        raise
    if not found:
        described = store.describe()
        store.dispose()
        raise NoDatabase(
            f"--db: {described} holds no paymux ledger (no {schema.meta.name} table): check"
            " --db; the CLI never writes the schema"
        )
    return store
