"""How many SQL statements one webhook costs the ledger, on SQLite and PostgreSQL.

On PostgreSQL every statement is a round trip to the server, and round trips are most of what an
event costs (docs/performance.md), so a change that adds one fails here, by count, not by time.
If a change removes one, lower the number.

Counted: every statement the driver is asked to run (on PostgreSQL psycopg's ``Cursor.execute``,
which SQLAlchemy's statements and the ledger's own hot statements both go through; on SQLite
SQLAlchemy's cursor events, where SQLite's ``BEGIN IMMEDIATE`` is left out). Not counted: the
implicit ``BEGIN`` psycopg sends before the first statement, and ``COMMIT``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ledger_support import charge_request
from ledgerpay import LedgerPayApi, gateway
from sqlalchemy import event

from paymux import Ledger, WebhookEvent

Counter = Callable[[], int]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _count_statements(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    sent: list[str] = []
    if ledger.store.is_postgres:
        import psycopg

        execute = psycopg.Cursor.execute

        def counting(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(str(query))
            return execute(cursor, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    else:

        def on_execute(*args: Any) -> None:
            statement = str(args[2])
            if not statement.startswith("BEGIN"):
                sent.append(statement)

        event.listen(ledger.store.engine, "before_cursor_execute", on_execute)

    def since() -> int:
        count = len(sent)
        sent.clear()
        return count

    yield since


@pytest.fixture
def setup(
    backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Ledger, LedgerPayApi, Counter]]:
    api = LedgerPayApi()
    with Ledger(gateway(api), url=backend_url) as ledger:
        ledger.entry("warm-up")  # schema created and checked once, before counting
        yield ledger, api, next(_count_statements(ledger, monkeypatch))


def _events(ledger: Ledger, api: LedgerPayApi, since: int) -> list[WebhookEvent]:
    return [
        ledger.gateway.parse_webhook("ledgerpay", c.body, c.headers) for c in api.outbox[since:]
    ]


def test_a_charge_event_costs_two_statements_on_postgresql(
    setup: tuple[Ledger, LedgerPayApi, Counter],
) -> None:
    ledger, api, counted = setup
    charge = ledger.create_charge(charge_request())
    seen = len(api.outbox)
    api.set_state(charge.id, "paid")
    (paid,) = _events(ledger, api, seen)
    counted()
    result = ledger.apply_event(paid)
    assert result.changed and result.verdict == "applied"
    # The charge row locked and read; then the event row inserted (that insert is the dedupe)
    # and, only if it was new, the charge updated, returning the new row: one statement on
    # PostgreSQL (WITH ... INSERT), two on SQLite. No advisory lock, schema check or re-read.
    assert counted() == (2 if ledger.store.is_postgres else 3)


def test_a_refund_event_costs_three_statements_on_postgresql(
    setup: tuple[Ledger, LedgerPayApi, Counter],
) -> None:
    ledger, api, counted = setup
    charge = ledger.create_charge(charge_request())
    api.set_state(charge.id, "paid")
    ledger.refresh("order-1")
    seen = len(api.outbox)
    api.refund(charge.id, 1_000)
    refund_event = next(e for e in _events(ledger, api, seen) if e.refund is not None)
    counted()
    assert ledger.apply_event(refund_event).changed
    # Lock; the refund row looked up together with the settled total and, on PostgreSQL, inserted
    # in the same statement (SQLite's WITH cannot insert); the event row and the charge's update
    # (one statement on PostgreSQL, two on SQLite).
    assert counted() == (3 if ledger.store.is_postgres else 5)
    assert ledger.get("order-1").refunded_amount.amount == 1_000  # type: ignore[union-attr]


def test_a_duplicate_is_found_by_the_insert_and_changes_nothing(
    setup: tuple[Ledger, LedgerPayApi, Counter],
) -> None:
    ledger, api, counted = setup
    charge = ledger.create_charge(charge_request())
    seen = len(api.outbox)
    api.set_state(charge.id, "paid")
    (paid,) = _events(ledger, api, seen)
    ledger.apply_event(paid)
    before = ledger.entry("order-1")
    assert before is not None
    counted()
    again = ledger.apply_event(paid)
    # Lock, the event insert that finds the id taken, the look-up of what the first delivery
    # recorded; then everything is rolled back.
    assert counted() == 3
    assert again.duplicate and not again.changed and again.verdict == "duplicate"
    assert again.charge is not None and again.charge.status == before.status
    after = ledger.entry("order-1")
    assert after is not None
    assert (after.version, after.updated_at, len(after.events)) == (
        before.version,
        before.updated_at,
        len(before.events),
    )


def test_a_duplicate_that_would_update_its_charge_changes_nothing(
    setup: tuple[Ledger, LedgerPayApi, Counter],
) -> None:
    ledger, api, _ = setup
    seen = len(api.outbox)
    ledger.create_charge(charge_request())
    (action,) = _events(ledger, api, seen)  # requires action: the snapshot is taken again
    created = ledger.entry("order-1")
    first = ledger.apply_event(action)
    assert not first.duplicate
    before = ledger.entry("order-1")
    assert created is not None and before is not None
    assert before.version == created.version + 1  # the row was updated with the event row
    again = ledger.apply_event(action)
    assert again.duplicate and not again.changed
    after = ledger.entry("order-1")
    assert after is not None
    assert (after.version, after.updated_at, len(after.events)) == (
        before.version,
        before.updated_at,
        len(before.events),
    )
