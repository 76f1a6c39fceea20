"""SQLite and PostgreSQL accept and refuse the same inputs (issue 12, item 3).

SQLite stores a string longer than its column and a NUL inside it; PostgreSQL refuses both. The
ledger checks every value first, so for any text hypothesis draws, the two backends must end the
same way: both store it, or both raise the same typed error.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import charge_request
from ledgerpay import LedgerPayApi, gateway
from postgres_db import fresh_database
from property_profiles import fast

from paymux import EventType, Ledger, Money, WebhookEvent
from paymux.errors import PaymuxError

texts = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(codec="ascii"), min_size=60, max_size=300),
    st.sampled_from(["x" * 64, "x" * 65, "x" * 128, "x" * 129, "r" * 255, "r" * 256, "a\x00b"]),
)


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def ledgers(
    postgres_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Ledger, Ledger]]:
    """One ledger per backend, each holding a paid charge ``order-1`` large enough to refund
    one won per example for as long as hypothesis likes."""
    sqlite = f"sqlite:///{Path(tmp_path_factory.mktemp('agree')) / 'ledger.db'}"
    made: list[Ledger] = []
    try:
        for url in (sqlite, postgres_database):
            api = LedgerPayApi()
            led = Ledger(gateway(api), url=url)
            made.append(led)
            charge = led.create_charge(charge_request("order-1", amount=10**9))
            api.set_state(charge.id, "paid")
            led.handle_webhook("ledgerpay", api.outbox[-1].body, api.outbox[-1].headers)
        yield made[0], made[1]
    finally:
        for led in made:
            led.gateway.close()
            led.close()


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except PaymuxError as error:
        return f"{type(error).__name__}:{getattr(error, 'field', None)}"
    return "stored"


AGREE = settings(
    fast(),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@AGREE
@given(reason=texts, reference=texts)
def test_refund_text_ends_the_same_on_both_backends(
    ledgers: tuple[Ledger, Ledger], reason: str, reference: str
) -> None:
    # The reference is made unique per example: a repeat would be an (idempotent) second call.
    unique = f"{reference}{uuid.uuid4().hex[:8]}" if reference else reference
    outcomes = {
        led.store.dialect: _outcome(
            lambda led=led: led.refund("order-1", Money(1, "KRW"), reason, reference=unique)
        )
        for led in ledgers
    }
    assert len(set(outcomes.values())) == 1, outcomes


@AGREE
@given(event_id=texts, event_type=st.sampled_from(list(EventType)))
def test_event_ids_end_the_same_on_both_backends(
    ledgers: tuple[Ledger, Ledger], event_id: str, event_type: EventType
) -> None:
    # The id is the provider's text (any text reaches the column); the type is always one of
    # paymux's EventType values, so that is all the column can be given.
    event = WebhookEvent.model_construct(provider="ledgerpay", id=event_id, type=event_type)
    outcomes = {
        led.store.dialect: _outcome(lambda led=led: led.apply_event(event)) for led in ledgers
    }
    assert len(set(outcomes.values())) == 1, outcomes


@AGREE
@given(reference=texts)
def test_lookups_end_the_same_on_both_backends(
    ledgers: tuple[Ledger, Ledger], reference: str
) -> None:
    outcomes = {
        led.store.dialect: _outcome(
            lambda led=led: (led.get(reference), led.entry(reference), led.flags(reference))
        )
        + _outcome(lambda led=led: [c.reference for c in led.charges(reference_prefix=reference)])
        + _outcome(lambda led=led: led.refunds(reference, provider=reference))
        + _outcome(lambda led=led: led.charges(cursor=reference))
        for led in ledgers
    }
    assert len(set(outcomes.values())) == 1, outcomes
