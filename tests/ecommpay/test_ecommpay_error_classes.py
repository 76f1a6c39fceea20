"""ECommPay answers mapped to error classes, so that nobody above the plugin reads HTTP numbers:
"transaction not found" (3061 with HTTP 200 as recorded, or 404 as the emulator answers) is
NotFound; 429 is RateLimited; validation refusals say ``nothing_done``; a repeated payment_id
is reported as the payment it names when the Gate lets it be read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ecommpay_support import charge_request, json_response, make_provider

from paymux.errors import DuplicateRequest, NotFound, ProviderError, RateLimited
from paymux.provider import ChargeLookup
from paymux.testing import run_flow

NOT_FOUND = {
    "payment": {"status": "error"},
    "errors": [{"code": "3061", "message": "Transaction not found"}],
}


@pytest.mark.parametrize("status", [200, 404])
def test_transaction_not_found_is_not_found_whatever_the_http_status(status: int) -> None:
    flow = make_provider().retrieve_charge(ChargeLookup(reference="order-1"))
    with pytest.raises(NotFound) as caught:
        run_flow(flow, lambda request: json_response(status, NOT_FOUND))
    assert caught.value.code == "3061"
    assert caught.value.nothing_done
    # The Gate may not list a new payment yet; the plugin's unique payment_id is what makes a
    # resend safe, not this answer.
    assert not caught.value.conclusive
    assert make_provider().unique_references


def test_a_rate_limit_is_rate_limited_and_nothing_was_done() -> None:
    flow = make_provider().create_charge(charge_request())
    with pytest.raises(RateLimited) as caught:
        run_flow(flow, lambda request: json_response(429, {"status": "error", "message": "slow"}))
    assert caught.value.nothing_done


@pytest.mark.parametrize(
    ("code", "nothing_done"), [("2004", True), ("702", True), ("3060", False), ("9999999", False)]
)
def test_only_known_validation_refusals_say_nothing_was_done(code: str, nothing_done: bool) -> None:
    flow = make_provider().create_charge(charge_request())
    answer = {"status": "error", "code": code, "message": "refused"}
    with pytest.raises(ProviderError) as caught:
        run_flow(flow, lambda request: json_response(400, answer))
    assert caught.value.nothing_done is nothing_done


def test_a_repeated_payment_id_that_cannot_be_read_yet_stays_a_duplicate() -> None:
    answers: list[Any] = [
        json_response(400, {"status": "error", "code": "3041", "message": "exists"}),
        json_response(200, NOT_FOUND),
    ]
    sent: list[str] = []

    def gate(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        response: httpx.Response = answers.pop(0)
        return response

    with pytest.raises(DuplicateRequest):
        run_flow(make_provider().create_charge(charge_request()), gate)
    assert sent == ["/v2/payment/wallet/kakaopay/sale", "/v2/payment/status"]
