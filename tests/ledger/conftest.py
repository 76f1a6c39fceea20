from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ledger_support import Clock
from ledgerpay import LedgerPayApi, gateway

from paymux import Gateway, Ledger

POSTGRES_ENV = "PAYMUX_TEST_POSTGRES_URL"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api() -> LedgerPayApi:
    return LedgerPayApi()


@pytest.fixture
def gw(api: LedgerPayApi) -> Iterator[Gateway]:
    with gateway(api) as g:
        yield g


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def ledger(gw: Gateway, db_url: str, clock: Clock) -> Iterator[Ledger]:
    with Ledger(gw, url=db_url, clock=clock) as led:
        yield led


def _admin_url(url: str) -> Any:
    from sqlalchemy.engine import make_url

    return make_url(url)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the server in PAYMUX_TEST_POSTGRES_URL, dropped afterwards.

    Unset: skipped on a developer machine, a failure in CI (where .ci/run provides the server).
    """
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set in CI; .ci/run should start PostgreSQL")
        pytest.skip(f"{POSTGRES_ENV} is not set (source .ci/postgres.sh to get a server)")
    import sqlalchemy as sa

    url = _admin_url(base)
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
