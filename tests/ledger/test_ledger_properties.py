"""The acceptance properties, through the whole Ledger (database included): any delivery of any
flow's events, with duplicates, ends in the in-order state; final states never regress; the
refunded amount never exceeds the charge.

Each property runs fast by default and again, with at least 500 examples, in the slow suite
(``-m slow``; see tests/support/property_profiles.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ledgerpay import SECRET, LedgerPay
from property_profiles import fast, thorough

from paymux import Charge, ChargeStatus, Gateway, Ledger, Money, Refund, RefundStatus, WebhookEvent

S = ChargeStatus
REFERENCE = "order-p"


@contextmanager
def memory_ledger() -> Iterator[Ledger]:
    provider = LedgerPay.configure({"secret": SECRET}, name="ledgerpay")
    with Gateway(providers={"ledgerpay": provider}) as gw, Ledger(gw, url="sqlite://") as ledger:
        yield ledger


def _charge(
    amount: int, status: ChargeStatus, refunded: int = 0, *, currency: str = "KRW"
) -> Charge:
    return Charge(
        provider="ledgerpay",
        id="ch_p",
        reference=REFERENCE,
        amount=Money(amount, currency),
        status=status,
        refunded_amount=Money(refunded, currency),
    )


@st.composite
def flows(draw: st.DrawFn) -> tuple[int, list[WebhookEvent]]:
    """One charge's callbacks in the order the provider sent them: charge updates carrying the
    refunded total, and separate refund events (as Omise and ECommPay both send)."""
    amount = draw(st.integers(1, 1_000_000))
    events: list[WebhookEvent] = []

    def charge_event(status: ChargeStatus, refunded: int = 0) -> None:
        events.append(
            WebhookEvent(
                provider="ledgerpay",
                id=f"evt_{len(events)}",
                charge=_charge(amount, status, refunded),
            )
        )

    charge_event(S.PENDING)
    if draw(st.booleans()):
        charge_event(S.REQUIRES_ACTION)
    end = draw(st.sampled_from([S.SUCCEEDED, S.FAILED, S.EXPIRED, S.CANCELED]))
    charge_event(end)
    if end is S.SUCCEEDED:
        refunded = 0
        for n, part in enumerate(draw(st.lists(st.integers(1, amount), max_size=3))):
            if refunded + part > amount:
                break
            refunded += part
            refund = Refund(
                provider="ledgerpay",
                id=f"rf_{n}",
                charge_id="ch_p",
                amount=Money(part, "KRW"),
                status=RefundStatus.SUCCEEDED,
            )
            events.append(
                WebhookEvent(
                    provider="ledgerpay",
                    id=f"evt_{len(events)}",
                    refund=refund,
                )
            )
            if draw(st.booleans()):  # not every provider sends a charge update per refund
                charge_event(S.REFUNDED if refunded == amount else S.PARTIALLY_REFUNDED, refunded)
    return amount, events


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, list[WebhookEvent], list[WebhookEvent]]:
    amount, events = draw(flows())
    extra = draw(st.lists(st.sampled_from(events), max_size=len(events)))
    return amount, events, draw(st.permutations(events + extra))


def _state(ledger: Ledger) -> tuple[ChargeStatus, int, list[tuple[str, int]]]:
    entry = ledger.entry(REFERENCE)
    assert entry is not None
    return (
        ChargeStatus(entry.status),
        entry.refunded.amount,
        sorted((r.provider_id or "", r.amount.amount) for r in entry.refunds),
    )


def check_any_delivery(case: tuple[int, list[WebhookEvent], list[WebhookEvent]]) -> None:
    amount, events, delivered = case
    with memory_ledger() as in_order:
        for event in events:
            in_order.apply_event(event)
        expected = _state(in_order)
    refunds = sum(e.refund.amount.amount for e in events if e.refund is not None)
    last = next(e.charge for e in reversed(events) if e.charge is not None)
    assert last is not None
    want_status = (
        last.status if not refunds else (S.REFUNDED if refunds == amount else S.PARTIALLY_REFUNDED)
    )
    assert expected[:2] == (want_status, refunds)

    with memory_ledger() as shuffled:
        for event in delivered:
            shuffled.apply_event(event)
        assert _state(shuffled) == expected


@fast()
@given(deliveries())
def test_any_delivery_with_duplicates_ends_in_the_in_order_state(
    case: tuple[int, list[WebhookEvent], list[WebhookEvent]],
) -> None:
    check_any_delivery(case)


@pytest.mark.slow
@thorough()
@given(deliveries())
def test_any_delivery_with_duplicates_ends_in_the_in_order_state_thoroughly(
    case: tuple[int, list[WebhookEvent], list[WebhookEvent]],
) -> None:
    check_any_delivery(case)


hostile = st.one_of(
    st.builds(
        lambda status, refunded, currency, amount_delta: WebhookEvent(
            provider="ledgerpay",
            id="x",
            charge=_charge(
                10_000 + amount_delta,
                status,
                min(refunded, 10_000 + amount_delta),
                currency=currency,
            ),
        ),
        st.sampled_from(list(S)),
        st.integers(0, 20_000),
        st.sampled_from(["KRW", "KRW", "USD"]),
        st.sampled_from([0, 0, 0, 5]),
    ),
    st.builds(
        lambda rid, amount, status: WebhookEvent(
            provider="ledgerpay",
            id="x",
            refund=Refund(
                provider="ledgerpay",
                id=rid,
                charge_id="ch_p",
                amount=Money(amount, "KRW"),
                status=status,
            ),
        ),
        st.sampled_from(["rf_a", "rf_b", "rf_c"]),
        st.integers(1, 8_000),
        st.sampled_from(list(RefundStatus)),
    ),
)


def check_no_regression(events: list[WebhookEvent]) -> None:
    with memory_ledger() as ledger:
        ledger.apply_event(
            WebhookEvent(
                provider="ledgerpay",
                id="evt_start",
                charge=_charge(10_000, S.PENDING),
            )
        )
        before = ledger.get(REFERENCE)
        for n, event in enumerate(events):
            ledger.apply_event(event.model_copy(update={"id": f"evt_{n}"}))
            after = ledger.get(REFERENCE)
            assert before is not None and after is not None
            assert after.amount == Money(10_000, "KRW")
            assert after.refunded_amount is not None and after.refunded_amount.amount <= 10_000
            if before.status.is_final:
                assert after.status.is_final
                assert after.status.is_paid == before.status.is_paid
                assert after.refunded_amount >= before.refunded_amount  # type: ignore[operator]
            before = after


@fast()
@given(st.lists(hostile, min_size=1, max_size=15))
def test_final_states_never_regress_and_refunds_never_exceed_the_charge(
    events: list[WebhookEvent],
) -> None:
    check_no_regression(events)


@pytest.mark.slow
@thorough()
@given(st.lists(hostile, min_size=1, max_size=15))
def test_final_states_never_regress_and_refunds_never_exceed_the_charge_thoroughly(
    events: list[WebhookEvent],
) -> None:
    check_no_regression(events)
