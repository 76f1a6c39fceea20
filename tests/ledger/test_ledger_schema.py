"""The database: created on first use, versioned, refused when written by a newer paymux."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from paymux import Gateway, Ledger
from paymux.errors import ConfigurationError
from paymux.ledger import SCHEMA_VERSION


def test_tables_and_version_are_created_on_first_use(gw: Gateway, db_url: str) -> None:
    with Ledger(gw, url=db_url) as ledger:
        assert ledger.get("nothing") is None
        assert ledger.schema_version() == SCHEMA_VERSION
    engine = create_engine(db_url)
    with engine.connect() as conn:
        tables = {
            r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        }
        journal = conn.execute(text("PRAGMA journal_mode")).scalar()
    engine.dispose()
    assert {
        "paymux_meta",
        "paymux_charges",
        "paymux_refunds",
        "paymux_events",
        "paymux_flags",
    } <= tables
    assert journal == "wal"


def test_a_database_from_a_newer_paymux_is_refused(gw: Gateway, db_url: str) -> None:
    with Ledger(gw, url=db_url) as ledger:
        ledger.schema_version()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE paymux_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(SCHEMA_VERSION + 1)},
        )
    engine.dispose()
    with (
        Ledger(gw, url=db_url) as ledger,
        pytest.raises(ConfigurationError, match="upgrade paymux"),
    ):
        ledger.get("order-1")


@pytest.mark.parametrize("url", ["mysql://u:p@localhost/db", "not a url"])
def test_unsupported_urls_are_a_configuration_error(gw: Gateway, url: str) -> None:
    with pytest.raises(ConfigurationError):
        Ledger(gw, url=url)


def test_the_database_password_stays_out_of_reprs(gw: Gateway) -> None:
    ledger = Ledger(gw, url="postgresql+psycopg://shop:hunter2-secret@db.internal/payments")
    assert "hunter2" not in repr(ledger)
    assert "db.internal" in repr(ledger)


def test_ledger_is_importable_from_the_package_root() -> None:
    import paymux
    from paymux.ledger import Ledger as Direct

    assert paymux.Ledger is Direct
