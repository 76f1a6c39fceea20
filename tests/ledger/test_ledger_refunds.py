"""refund: reserved under the charge's lock first, so concurrent refunds never over-refund."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from ledger_support import charge_request
from ledgerpay import LedgerPayApi, gateway

from paymux import Charge, ChargeStatus, Gateway, Ledger, Money, RefundStatus
from paymux.errors import DuplicateRequest, RefundNotAllowed, TransportError


def _paid(
    ledger: Ledger, api: LedgerPayApi, amount: int = 10_000, reference: str = "order-1"
) -> Charge:
    charge = ledger.create_charge(charge_request(reference=reference, amount=amount))
    api.set_state(charge.id, "paid")
    ledger.handle_webhook("ledgerpay", api.outbox[-1].body, api.outbox[-1].headers)
    return charge


def test_partial_then_full_refund(ledger: Ledger, api: LedgerPayApi) -> None:
    _paid(ledger, api)
    first = ledger.refund("order-1", Money(3_000, "KRW"), reason="one item back")
    assert first.status is RefundStatus.SUCCEEDED
    charge = ledger.get("order-1")
    assert charge is not None and charge.status is ChargeStatus.PARTIALLY_REFUNDED
    rest = ledger.refund(charge)  # None: whatever is left
    assert rest.amount == Money(7_000, "KRW")
    charge = ledger.get("order-1")
    assert charge is not None
    assert (charge.status, charge.refunded_amount) == (ChargeStatus.REFUNDED, Money(10_000, "KRW"))
    with pytest.raises(RefundNotAllowed):
        ledger.refund("order-1", Money(1, "KRW"))


def test_an_unpaid_charge_cannot_be_refunded(ledger: Ledger, api: LedgerPayApi) -> None:
    ledger.create_charge(charge_request())
    with pytest.raises(RefundNotAllowed, match="requires_action"):
        ledger.refund("order-1", Money(100, "KRW"))
    assert api.count("POST /charges/ch_1/refunds") == 0


def test_concurrent_refunds_never_add_up_to_more_than_the_charge(
    gw: Gateway, db_url: str, api: LedgerPayApi
) -> None:
    gate = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    with Ledger(gw, url=db_url) as setup:
        _paid(setup, api)

    def attempt() -> None:
        with Ledger(gw, url=db_url) as instance:
            gate.wait(30)
            try:
                instance.refund("order-1", Money(6_000, "KRW"))
                result = "refunded"
            except RefundNotAllowed:
                result = "refused"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["refunded", "refused", "refused", "refused"]
    assert api.count("POST /charges/ch_1/refunds") == 1
    assert api.charges["ch_1"]["refunded"] == 6_000


def test_an_amount_in_flight_is_held_while_the_outcome_is_unknown(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    _paid(ledger, api)

    processed: list[httpx.Request] = []

    def lose_answer(request: httpx.Request) -> httpx.Response | None:
        # The first attempt is processed; it and every safe retry lose their answer.
        if not processed:
            processed.append(request)
            api.process(request)
        raise httpx.ReadTimeout("answer lost", request=request)

    api.fault = lose_answer
    with pytest.raises(TransportError):
        ledger.refund("order-1", Money(8_000, "KRW"), reference="refund-a")
    api.fault = None
    # The provider did refund; until that is known, 8,000 stays spoken for.
    with pytest.raises(RefundNotAllowed, match="in flight"):
        ledger.refund("order-1", Money(5_000, "KRW"))
    # Retrying with the same reference gives the provider's refund, not a second one.
    again = ledger.refund("order-1", Money(8_000, "KRW"), reference="refund-a")
    assert again.status is RefundStatus.SUCCEEDED
    assert len(api.refunds) == 1
    assert ledger.get("order-1").refunded_amount == Money(8_000, "KRW")  # type: ignore[union-attr]
    assert ledger.refund("order-1", Money(8_000, "KRW"), reference="refund-a") == again


def test_a_refund_reference_reused_for_another_amount_is_a_duplicate_request(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    _paid(ledger, api)
    first = ledger.refund("order-1", Money(3_000, "KRW"), reference="refund-a")
    before = ledger.entry("order-1")
    with pytest.raises(DuplicateRequest, match="held by another request") as caught:
        ledger.refund("order-1", Money(4_000, "KRW"), reference="refund-a")
    assert (caught.value.code, caught.value.provider) == ("reference_reused", "ledgerpay")
    assert "3,000 KRW vs 4,000 KRW" in caught.value.message  # what differs
    assert len(api.refunds) == 1
    assert ledger.entry("order-1") == before  # a refused request changes nothing
    # The same refund asked again is the idempotent replay.
    assert ledger.refund("order-1", Money(3_000, "KRW"), reference="refund-a") == first


def test_a_refund_that_never_left_frees_its_amount(ledger: Ledger, api: LedgerPayApi) -> None:
    _paid(ledger, api)

    def refuse(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ConnectError("refused", request=request)

    api.fault = refuse
    with pytest.raises(TransportError):
        ledger.refund("order-1", Money(10_000, "KRW"))
    api.fault = None
    assert ledger.refund("order-1", Money(10_000, "KRW")).amount == Money(10_000, "KRW")


def test_refunds_made_at_the_provider_arrive_by_webhook(ledger: Ledger, api: LedgerPayApi) -> None:
    charge = _paid(ledger, api)
    api.refund(charge.id, 4_000)
    api.refund(charge.id, 1_000)
    for callback in api.outbox:
        ledger.handle_webhook("ledgerpay", callback.body, callback.headers)
    entry = ledger.entry("order-1")
    assert entry is not None
    assert entry.refunded == Money(5_000, "KRW")
    assert sorted(r.amount.amount for r in entry.refunds) == [1_000, 4_000]
    with pytest.raises(RefundNotAllowed):
        ledger.refund("order-1", Money(5_001, "KRW"))


def test_a_refund_webhook_that_overtakes_the_refund_answer_is_counted_once(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    _paid(ledger, api)

    def deliver_callbacks_first(request: httpx.Request) -> httpx.Response | None:
        api.fault = None
        answer = api.process(request)
        for callback in api.outbox:
            ledger.handle_webhook("ledgerpay", callback.body, callback.headers)
        return answer

    api.fault = deliver_callbacks_first
    ledger.refund("order-1", Money(2_000, "KRW"))
    entry = ledger.entry("order-1")
    assert entry is not None
    assert entry.refunded == Money(2_000, "KRW")
    assert [(r.amount.amount, r.status) for r in entry.refunds] == [(2_000, "succeeded")]


# -- refund references are unique across all charges (issue 12 item 3) -------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, db_url: str) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return db_url


def test_the_default_reference_steps_over_a_reference_the_caller_took(
    any_db: str, api: LedgerPayApi
) -> None:
    with Ledger(gateway(api), url=any_db) as ledger:
        _paid(ledger, api)
        ledger.refund("order-1", Money(1_000, "KRW"), reference="order-1-r2")
        second = ledger.refund("order-1", Money(1_000, "KRW"))
        # Another charge's default references may also have been taken by a caller.
        _paid(ledger, api, reference="order-2")
        ledger.refund("order-2", Money(1_000, "KRW"), reference="order-1-r4")
        third = ledger.refund("order-1", Money(1_000, "KRW"))
        entry = ledger.entry("order-1")
    assert (second.reference, third.reference) == ("order-1-r3", "order-1-r5")
    assert entry is not None
    assert [r.reference for r in entry.refunds] == ["order-1-r2", "order-1-r3", "order-1-r5"]
    assert entry.refunded == Money(3_000, "KRW")


def test_a_reference_used_on_another_charge_is_a_duplicate_request(
    any_db: str, api: LedgerPayApi
) -> None:
    with Ledger(gateway(api), url=any_db) as ledger:
        _paid(ledger, api)
        _paid(ledger, api, reference="order-2")
        ledger.refund("order-1", Money(1_000, "KRW"), reference="shared-ref")
        sent = api.count("POST /charges/ch_2/refunds")
        with pytest.raises(DuplicateRequest, match="held by another request") as caught:
            ledger.refund("order-2", Money(1_000, "KRW"), reference="shared-ref")
        assert (caught.value.code, caught.value.provider) == ("reference_reused", "ledgerpay")
        assert "order-1" in caught.value.message  # names the charge whose refund holds it
        assert api.count("POST /charges/ch_2/refunds") == sent  # refused before the network
        # The same reference on the same charge is still the idempotent replay.
        again = ledger.refund("order-1", Money(1_000, "KRW"), reference="shared-ref")
        entry = ledger.entry("order-2")
    assert again.reference == "shared-ref"
    assert entry is not None and entry.refunds == ()


def _race(url: str, api: LedgerPayApi, charges: tuple[str, str], reference: str) -> list[str]:
    gate = threading.Barrier(len(charges))
    outcomes: list[str] = []

    def attempt(charge: str) -> None:
        with Ledger(gateway(api), url=url) as instance:
            gate.wait(30)
            try:
                instance.refund(charge, Money(100, "KRW"), reference=reference)
            except DuplicateRequest as error:
                outcomes.append(f"refused:{error.code}")
            else:
                outcomes.append("refunded")

    threads = [threading.Thread(target=attempt, args=(charge,)) for charge in charges]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return sorted(outcomes)


def test_racing_refunds_of_two_charges_under_one_reference(any_db: str, api: LedgerPayApi) -> None:
    """Each charge has its own lock, so both may pass the reference check before either
    commits; the unique index then refuses one, and that one gets the typed error too."""
    with Ledger(gateway(api), url=any_db) as setup:
        for n in range(1, 7):
            _paid(setup, api, reference=f"order-{n}")
    for round_ in range(3):
        pair = (f"order-{2 * round_ + 1}", f"order-{2 * round_ + 2}")
        assert _race(any_db, api, pair, f"race-{round_}") == [
            "refunded",
            "refused:reference_reused",
        ]


@pytest.mark.postgres
def test_a_reference_taken_by_an_uncommitted_refund_is_a_duplicate_request(
    postgres_url: str, api: LedgerPayApi
) -> None:
    """The check cannot see another transaction's uncommitted row: the insert waits on the
    unique index, then fails, inside a savepoint, into the same typed error (no IntegrityError,
    and the transaction stays usable)."""
    from paymux.ledger import reservations

    with Ledger(gateway(api), url=postgres_url) as ledger:
        _paid(ledger, api)
        _paid(ledger, api, reference="order-2")
        store = ledger.store
        holding, release = threading.Event(), threading.Event()

        def first(conn: Any) -> None:
            reservations.reserve_refund(
                conn, ledger._ctx(), "order-1", Money(100, "KRW"), None, "shared"
            )
            holding.set()
            release.wait(30)

        thread = threading.Thread(target=store.write, args=(first,))
        thread.start()
        assert holding.wait(30)
        threading.Timer(0.3, release.set).start()  # commits while the second insert waits
        with pytest.raises(DuplicateRequest) as caught:
            store.write(
                lambda conn: reservations.reserve_refund(
                    conn, ledger._ctx(), "order-2", Money(100, "KRW"), None, "shared"
                )
            )
        thread.join(30)
        assert caught.value.code == "reference_reused"
        assert "order-1" in caught.value.message  # the holder, read after the refused insert
        entry = ledger.entry("order-2")
        assert entry is not None and entry.refunds == ()
