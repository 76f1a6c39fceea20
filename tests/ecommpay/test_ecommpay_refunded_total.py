"""``Charge.refunded_amount`` is the cumulative refunded total on ECommPay too (issue 13 §2).

A sale callback for a partially refunded payment states what is left (``payment.sum``) and what
the sale took (``operation.sum_initial``): the charge reports the sale's amount and their
difference, never a zero next to "partially refunded", and refuses a callback stating neither."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ecommpay_support import load, make_provider, signed_callback

from paymux import ChargeStatus, EventType, Money
from paymux.errors import WebhookParseError
from paymux.testing import no_network, run_flow

SALE = next(c for c in load("seed_callbacks.json")["cases"] if c["name"] == "001_sale_success")


def _parse(body: dict[str, Any]) -> Any:
    provider = make_provider(confirm_callbacks=False, project_id=int(body["project_id"]))
    raw = signed_callback(body)
    return run_flow(provider.parse_webhook(raw, {"content-type": "application/json"}), no_network)


def _partially_refunded(left: int, paid: int) -> dict[str, Any]:
    body = copy.deepcopy(SALE["body"])
    currency = body["payment"]["sum"]["currency"]
    body["payment"].update(status="partially refunded", sum={"amount": left, "currency": currency})
    body["operation"]["sum_initial"] = {"amount": paid, "currency": currency}
    return body


def test_a_partially_refunded_sale_callback_states_the_cumulative_total() -> None:
    event = _parse(_partially_refunded(left=600, paid=1000))
    assert event.type is EventType.CHARGE_PARTIALLY_REFUNDED
    assert event.charge.status is ChargeStatus.PARTIALLY_REFUNDED
    assert event.charge.amount == Money(1000, "KRW")
    assert event.charge.refunded_amount == Money(400, "KRW")
    assert event.charge.refundable_amount == Money(600, "KRW")


@pytest.mark.parametrize(("left", "paid"), [(1000, 1000), (1200, 1000)])
def test_a_partially_refunded_sale_callback_without_a_refund_in_its_sums_is_refused(
    left: int, paid: int
) -> None:
    with pytest.raises(WebhookParseError, match="original amount"):
        _parse(_partially_refunded(left=left, paid=paid))
