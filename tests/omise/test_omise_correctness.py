"""Issue 14 item 2: unsigned non-charge webhooks confirmed only by the event Omise holds, refunds
that heed Omise's ``refundable`` flags, voided charges fully refunded, and one meaning for an
expired payment (no network: each flow is answered by hand)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux import ChargeStatus, FailureReason, Money
from paymux.errors import PaymuxError, RefundNotAllowed, WebhookVerificationError
from paymux.testing import no_network, run_flow
from paymux_omise.responses import parse_charge

CUSTOMER_EVENT = "event_customer_create"


def _answer(status: int, body: Any) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return handler


@pytest.mark.parametrize("status", [401, 403, 429, 500, 502, 503])
def test_unsigned_event_is_refused_when_omise_cannot_confirm_it(kit: Any, status: int) -> None:
    error = {"object": "error", "code": "service_unavailable", "message": "try later"}
    flow = kit.provider().parse_webhook(kit.body(CUSTOMER_EVENT), {})
    with pytest.raises(WebhookVerificationError):
        run_flow(flow, _answer(status, error))


def test_unsigned_event_is_refused_on_an_answer_that_is_not_json(kit: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>proxy</html>")

    with pytest.raises(WebhookVerificationError):
        run_flow(kit.provider().parse_webhook(kit.body(CUSTOMER_EVENT), {}), handler)


def test_unsigned_event_reports_the_event_omise_holds_not_the_posted_one(kit: Any) -> None:
    posted = kit.load(CUSTOMER_EVENT)
    held = {
        **posted,
        "key": "customer.update",
        "data": {"object": "customer", "id": "cust_test_other", "livemode": False},
        "created_at": "2026-03-10T04:00:00Z",
    }
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json=held)

    event = run_flow(kit.provider().parse_webhook(json.dumps(posted).encode(), {}), handler)
    assert asked == [f"GET /events/{posted['id']}"]
    # About nothing paymux models: "other", never a payment outcome.
    assert (event.type, event.verified_by) == ("other", "refetch")
    assert event.provider_data == {"event": "customer.update"}
    assert event.raw is not None
    assert event.raw["data"]["id"] == "cust_test_other"
    assert event.occurred_at is not None
    assert event.occurred_at.hour == 4


def test_unsigned_event_answered_with_another_id_is_refused(kit: Any) -> None:
    other = {**kit.load(CUSTOMER_EVENT), "id": "evnt_test_someoneelse"}
    with pytest.raises(WebhookVerificationError, match="evnt_test_someoneelse"):
        run_flow(kit.provider().parse_webhook(kit.body(CUSTOMER_EVENT), {}), _answer(200, other))


def test_unsigned_event_that_omise_holds_as_a_charge_event_reads_the_charge(kit: Any) -> None:
    # A body posing as a customer event to dodge the charge check: the event Omise holds under
    # that id is about a charge, so the charge is read too and its state is what counts.
    posted = kit.load(CUSTOMER_EVENT)
    charge = kit.load("charge_kakaopay_pending")
    held = {**posted, "key": "charge.complete", "data": {**charge, "status": "successful"}}
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json=held if request.url.path.startswith("/events") else charge)

    event = run_flow(kit.provider().parse_webhook(kit.body(CUSTOMER_EVENT), {}), handler)
    assert asked == [f"/events/{posted['id']}", f"/charges/{charge['id']}"]
    # Omise says "charge.complete", the charge it holds is still open: the type is what was read.
    assert event.type == "charge.requires_action"
    assert event.provider_data == {"event": "charge.complete"}
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.REQUIRES_ACTION


def _paid(kit: Any, **changes: Any) -> Any:
    return parse_charge({**kit.load("charge_kakaopay_successful"), **changes}, "omise")


def test_refund_refused_before_the_network_when_omise_says_not_refundable(kit: Any) -> None:
    # Inside paymux's own deadline, but Omise has closed the charge to refunds: Omise wins.
    charge = _paid(kit, refundable=False, partially_refundable=False)
    with pytest.raises(RefundNotAllowed, match="not refundable"):
        run_flow(
            kit.provider().refund(charge, Money(50000, "SGD"), reason=None, reference="r-1"),
            no_network,
        )


def test_partial_refund_refused_when_only_full_refunds_are_allowed(kit: Any) -> None:
    charge = _paid(kit, refundable=True, partially_refundable=False)
    with pytest.raises(RefundNotAllowed, match="only in full"):
        run_flow(
            kit.provider().refund(charge, Money(50000, "SGD"), reason=None, reference="r-1"),
            no_network,
        )
    refund = kit.load("refund_closed")
    done = run_flow(
        kit.provider().refund(charge, Money(150000, "SGD"), reason=None, reference="r-2"),
        _answer(200, {**refund, "amount": 150000, "charge": charge.id}),
    )
    assert done.amount == Money(150000, "SGD")


def test_refund_goes_out_when_the_flags_allow_it(kit: Any) -> None:
    charge = _paid(kit)
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json={**kit.load("refund_closed"), "charge": charge.id})

    run_flow(
        kit.provider().refund(charge, Money(50000, "SGD"), reason=None, reference="r"), handler
    )
    assert sent == [f"POST /charges/{charge.id}/refunds"]


def test_a_voided_charge_is_refunded_in_full_and_nothing_is_left(kit: Any) -> None:
    charge = _paid(kit, voided=True, refunded_amount=0, refundable=False)
    assert charge.status is ChargeStatus.REFUNDED
    assert charge.refunded_amount == charge.amount
    assert charge.refundable_amount == Money(0, "SGD")
    with pytest.raises(RefundNotAllowed):
        run_flow(
            kit.provider().refund(charge, Money(100, "SGD"), reason=None, reference="r"),
            no_network,
        )


def test_voided_on_an_unpaid_charge_does_not_make_it_paid(kit: Any) -> None:
    charge = parse_charge({**kit.load("charge_kakaopay_pending"), "voided": True}, "omise")
    assert not charge.status.is_paid
    assert charge.refunded_amount == Money(0, "SGD")


def test_an_expired_payment_has_one_meaning_however_omise_words_it(kit: Any) -> None:
    failed = kit.load_charge("charge_kakaopay_failed_payment_expired")
    expired = kit.load_charge("charge_kakaopay_expired")
    for charge in (failed, expired):
        assert charge.status is ChargeStatus.EXPIRED
        assert charge.failure is not None
        assert charge.failure.reason is FailureReason.EXPIRED
    assert failed.failure is not None
    assert failed.failure.code == "payment_expired"
    assert failed.provider_status == "failed"


def test_insufficient_fund_keeps_omises_words_for_balance_or_limit(kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_failed_insufficient_fund")
    assert charge.status is ChargeStatus.FAILED
    assert charge.failure is not None
    assert charge.failure.reason is FailureReason.INSUFFICIENT_FUNDS
    assert charge.failure.code == "insufficient_fund"
    assert charge.failure.message


@pytest.mark.parametrize("status", [401, 429, 500, 503])
def test_unsigned_charge_event_is_not_accepted_when_the_charge_cannot_be_read(
    kit: Any, status: int
) -> None:
    error = {"object": "error", "code": "backend_error", "message": "later"}
    with pytest.raises(PaymuxError):
        run_flow(
            kit.provider().parse_webhook(kit.body("event_charge_complete_successful"), {}),
            _answer(status, error),
        )


_FLAG = st.sampled_from([True, False, None])


@given(refundable=_FLAG, partially=_FLAG, amount=st.integers(min_value=1, max_value=150000))
def test_a_refund_is_sent_only_when_omises_flags_allow_it(
    kit: Any, refundable: bool | None, partially: bool | None, amount: int
) -> None:
    changes = {"refundable": refundable, "partially_refundable": partially}
    payload = {k: v for k, v in kit.load("charge_kakaopay_successful").items() if k not in changes}
    charge = parse_charge(
        {**payload, **{k: v for k, v in changes.items() if v is not None}}, "omise"
    )
    allowed = refundable is not False and (partially is not False or amount == 150000)
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        refund = {**kit.load("refund_closed"), "amount": amount, "charge": charge.id}
        return httpx.Response(200, json=refund)

    flow = kit.provider().refund(charge, Money(amount, "SGD"), reason=None, reference="r")
    if allowed:
        assert run_flow(flow, handler).amount == Money(amount, "SGD")
        assert sent == [f"/charges/{charge.id}/refunds"]
    else:
        with pytest.raises(RefundNotAllowed):
            run_flow(flow, handler)
        assert sent == []
