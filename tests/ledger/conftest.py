from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_support import Clock
from ledgerpay import LedgerPayApi, gateway
from postgres_db import fresh_database

from paymux import Gateway, Ledger


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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the server in PAYMUX_TEST_POSTGRES_URL, dropped afterwards."""
    with fresh_database() as url:
        yield url
