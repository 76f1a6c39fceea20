"""handle_webhook: verify, dedupe, apply; forged input changes nothing; mismatches are flagged."""

from __future__ import annotations

import json
import threading

import pytest
from ledger_support import charge_request
from ledgerpay import SIGNATURE_HEADER, LedgerPayApi, sign
from sqlalchemy import create_engine, text

from paymux import Charge, ChargeStatus, Ledger, Money, WebhookEvent
from paymux.errors import WebhookParseError, WebhookVerificationError


def _dump(db_url: str) -> list[tuple[object, ...]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows: list[tuple[object, ...]] = []
            for table in ("paymux_charges", "paymux_refunds", "paymux_events", "paymux_flags"):
                rows += [(table, *r) for r in conn.execute(text(f"SELECT * FROM {table}"))]
            return rows
    finally:
        engine.dispose()


def _paid(ledger: Ledger, api: LedgerPayApi) -> Charge:
    charge = ledger.create_charge(charge_request())
    api.set_state(charge.id, "paid")
    return charge


def test_a_webhook_moves_the_charge_and_says_so(ledger: Ledger, api: LedgerPayApi) -> None:
    _paid(ledger, api)
    callback = api.outbox[-1]
    result = ledger.handle_webhook("ledgerpay", callback.body, callback.headers)
    assert result.changed and not result.duplicate
    assert result.charge is not None and result.charge.status is ChargeStatus.SUCCEEDED
    assert result.charge.next_action is None
    assert ledger.get("order-1") == result.charge


def test_a_duplicate_is_a_no_op(ledger: Ledger, api: LedgerPayApi, db_url: str) -> None:
    _paid(ledger, api)
    callback = api.outbox[-1]
    ledger.handle_webhook("ledgerpay", callback.body, callback.headers)
    before = _dump(db_url)
    again = ledger.handle_webhook("ledgerpay", callback.body, callback.headers)
    assert again.duplicate and not again.changed
    assert again.charge is not None and again.charge.status is ChargeStatus.SUCCEEDED
    assert _dump(db_url) == before


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda body, headers: (body.replace(b'"paid"', b'"failed"'), headers), id="body-changed"
        ),
        pytest.param(lambda body, headers: (body, {}), id="no-signature"),
        pytest.param(
            lambda body, headers: (body, {SIGNATURE_HEADER: sign(body, "guessed")}), id="wrong-key"
        ),
    ],
)
def test_a_forged_webhook_raises_and_changes_nothing(
    ledger: Ledger, api: LedgerPayApi, db_url: str, tamper: object
) -> None:
    _paid(ledger, api)
    callback = api.outbox[-1]
    before = _dump(db_url)
    body, headers = tamper(callback.body, callback.headers)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError):
        ledger.handle_webhook("ledgerpay", body, headers)
    assert _dump(db_url) == before


def test_a_malformed_but_signed_webhook_raises_and_changes_nothing(
    ledger: Ledger, api: LedgerPayApi, db_url: str
) -> None:
    ledger.create_charge(charge_request())
    before = _dump(db_url)
    body = b'{"id": "evt_x", "type": "charge.updated"}'
    with pytest.raises(WebhookParseError):
        ledger.handle_webhook("ledgerpay", body, {SIGNATURE_HEADER: sign(body)})
    assert _dump(db_url) == before


def test_out_of_order_delivery_converges(ledger: Ledger, api: LedgerPayApi) -> None:
    charge = _paid(ledger, api)
    api.refund(charge.id, 2_500)
    for callback in reversed(api.outbox):
        ledger.handle_webhook("ledgerpay", callback.body, callback.headers)
    final = ledger.get("order-1")
    assert final is not None
    assert (final.status, final.refunded_amount) == (
        ChargeStatus.PARTIALLY_REFUNDED,
        Money(2_500, "KRW"),
    )


def _signed(event: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {SIGNATURE_HEADER: sign(body)}


def test_an_amount_mismatch_is_flagged_not_applied(ledger: Ledger, api: LedgerPayApi) -> None:
    charge = ledger.create_charge(charge_request(amount=10_000))
    data = dict(api.charges[charge.id], state="paid", amount=100)
    result = ledger.handle_webhook(
        "ledgerpay", *_signed({"id": "evt_m", "type": "charge.updated", "data": data})
    )
    assert result.verdict == "mismatch" and not result.changed
    assert result.charge is not None and result.charge.status is ChargeStatus.REQUIRES_ACTION
    assert [f.kind for f in result.flags] == ["mismatch"]
    assert [f.kind for f in ledger.flags("order-1")] == ["mismatch"]
    assert ledger.entry("order-1").events[-1].outcome == "flagged"  # type: ignore[union-attr]


def test_a_currency_mismatch_is_flagged_not_applied(ledger: Ledger, api: LedgerPayApi) -> None:
    charge = ledger.create_charge(charge_request(amount=10_000))
    data = dict(api.charges[charge.id], state="paid", currency="USD")
    result = ledger.handle_webhook(
        "ledgerpay", *_signed({"id": "evt_c", "type": "charge.updated", "data": data})
    )
    assert result.verdict == "mismatch"
    assert ledger.get("order-1").status is ChargeStatus.REQUIRES_ACTION  # type: ignore[union-attr]


def test_a_contradiction_of_a_final_state_is_flagged(ledger: Ledger, api: LedgerPayApi) -> None:
    charge = ledger.create_charge(charge_request())
    api.set_state(charge.id, "expired")
    api.set_state(charge.id, "paid")  # a late payment after expiry: money taken, charge "expired"
    results = [ledger.handle_webhook("ledgerpay", c.body, c.headers) for c in api.outbox]
    assert ledger.get("order-1").status is ChargeStatus.EXPIRED  # type: ignore[union-attr]
    assert results[-1].verdict == "conflict"
    assert [f.kind for f in ledger.flags()] == ["conflict"]


def test_a_charge_created_elsewhere_is_adopted_from_its_webhook(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    data = {
        "id": "ch_9",
        "ref": "dashboard-7",
        "amount": 500,
        "currency": "KRW",
        "state": "paid",
        "refunded": 0,
    }
    result = ledger.handle_webhook(
        "ledgerpay", *_signed({"id": "evt_a", "type": "charge.updated", "data": data})
    )
    assert result.changed
    assert ledger.get("dashboard-7").status is ChargeStatus.SUCCEEDED  # type: ignore[union-attr]


def test_the_result_does_not_leak_the_raw_payload_into_reprs(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    _paid(ledger, api)
    callback = api.outbox[-1]
    result = ledger.handle_webhook("ledgerpay", callback.body, callback.headers)
    assert "lp_secret" not in repr(result)
    assert "lp_secret" not in repr(ledger)


def test_wait_returns_once_the_callback_lands(ledger: Ledger, api: LedgerPayApi) -> None:
    charge = ledger.create_charge(charge_request())
    started = threading.Event()
    box: dict[str, Charge | None] = {}

    def waiter() -> None:
        started.set()
        box["charge"] = ledger.wait("order-1", until=ChargeStatus.SUCCEEDED, timeout=30)

    thread = threading.Thread(target=waiter)
    thread.start()
    assert started.wait(30)
    api.set_state(charge.id, "paid")
    ledger.handle_webhook("ledgerpay", api.outbox[-1].body, api.outbox[-1].headers)
    thread.join(30)
    assert box["charge"] is not None and box["charge"].status is ChargeStatus.SUCCEEDED


def test_wait_gives_back_the_current_charge_on_timeout(ledger: Ledger) -> None:
    ledger.create_charge(charge_request())
    charge = ledger.wait("order-1", timeout=0.05)  # until: any final state
    assert charge is not None and charge.status is ChargeStatus.REQUIRES_ACTION
    assert ledger.wait("no-such-order", timeout=0.01) is None


async def test_async_wait_sees_a_change_made_by_another_instance(
    ledger: Ledger, api: LedgerPayApi, db_url: str
) -> None:
    import asyncio

    from ledgerpay import async_gateway

    from paymux.ledger import AsyncLedger

    charge = ledger.create_charge(charge_request())
    async with (
        async_gateway(api) as agw,
        AsyncLedger(agw, url=db_url) as other,
    ):
        waiting = asyncio.create_task(
            other.wait("order-1", until={ChargeStatus.SUCCEEDED}, timeout=30)
        )
        await asyncio.sleep(0)
        api.set_state(charge.id, "paid")
        callback = api.outbox[-1]
        applied = await other.handle_webhook("ledgerpay", callback.body, callback.headers)
        assert applied.changed
        done = await waiting
    assert done is not None and done.status is ChargeStatus.SUCCEEDED


def test_apply_event_takes_an_event_parsed_elsewhere(ledger: Ledger) -> None:
    ledger.create_charge(charge_request())
    charge = ledger.get("order-1")
    assert charge is not None
    failed = charge.model_copy(update={"status": ChargeStatus.FAILED})
    result = ledger.apply_event(WebhookEvent(provider="ledgerpay", id="evt_f", charge=failed))
    assert (
        result.changed and result.charge is not None and result.charge.status is ChargeStatus.FAILED
    )
