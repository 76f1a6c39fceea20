"""A fresh PostgreSQL database per test, on the server in ``PAYMUX_TEST_POSTGRES_URL``.

Shared by the ledger's tests and the fault campaign (several checkout instances on one database).
Unset: skipped on a developer machine, a failure in CI (where .ci/run provides the server).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_ENV = "PAYMUX_TEST_POSTGRES_URL"


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set in CI; .ci/run should start PostgreSQL")
        pytest.skip(f"{POSTGRES_ENV} is not set (source .ci/postgres.sh to get a server)")
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"paymux_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
