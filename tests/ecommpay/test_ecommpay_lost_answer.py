"""One outcome per situation for a create whose answer is lost (issue 13 §2), sync and async.

The runner retries the sale (its payment_id makes a repeat harmless); the Gate answers the retry
with 3041 "payment id already exists". That is this call's own first attempt, so:

* the Gate shows the payment with the request's amount: that charge is the answer;
* the Gate cannot show it yet: ``TransportError(request_sent=True)``, "it may exist: look it up";
* the Gate shows a payment of another amount: ``DuplicateRequest``, the reference was used for a
  different request.

Never ``DuplicateRequest`` for a call that met its own attempt.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from ecommpay_support import PROJECT_ID, SECRET_KEY, charge_request

from paymux import AsyncGateway, Charge, ChargeStatus, Gateway, Money
from paymux.errors import DuplicateRequest, PaymuxError, TransportError
from paymux.runner import RetryPolicy
from paymux_ecommpay.signing import sign

FAST = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0)
EXISTS = {"status": "error", "code": "3041", "message": "Payment ID already exists"}
NOT_FOUND = {
    "payment": {"status": "error"},
    "errors": [{"code": "3061", "message": "Transaction not found"}],
}


def _status(amount: int) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "project_id": PROJECT_ID,
        "payment": {
            "id": "test_payment",
            "type": "purchase",
            "status": "awaiting customer",
            "method": "kakaopay",
            "sum": {"amount": amount, "currency": "KRW"},
        },
        "operations": [
            {
                "id": 1,
                "request_id": "req-1",
                "type": "sale",
                "status": "awaiting customer action",
                "date": "2020-12-10T10:44:49+0000",
                "code": "0",
                "message": "",
                "sum_initial": {"amount": amount, "currency": "KRW"},
            }
        ],
    }
    answer["signature"] = sign(answer, SECRET_KEY)
    return answer


def _gate(status_answer: dict[str, Any], *, first: str = "lost") -> Any:
    """The sale's first answer is lost after sending (or refused as a duplicate at once)."""
    sales: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sale"):
            sales.append(1)
            if len(sales) == 1 and first == "lost":
                raise httpx.ReadTimeout("the answer never came", request=request)
            return httpx.Response(400, json=EXISTS)
        assert request.url.path == "/v2/payment/status"
        return httpx.Response(200, json=status_answer)

    return handle, sales


def _create(kind: str, handler: Any) -> Any:
    settings = {"ecommpay": {"project_id": PROJECT_ID, "secret_key": SECRET_KEY}}
    request = charge_request()
    if kind == "sync":
        client = httpx.Client(transport=httpx.MockTransport(handler))
        with Gateway(providers=settings, http_client=client, retry=FAST) as gw:
            return gw.create_charge(request, provider="ecommpay")

    async def go() -> Any:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncGateway(providers=settings, http_client=client, retry=FAST) as gw:
            return await gw.create_charge(request, provider="ecommpay")

    return asyncio.run(go())


GATEWAYS = pytest.mark.parametrize("kind", ["sync", "async"])


@GATEWAYS
def test_a_retry_that_meets_its_own_first_attempt_returns_that_charge(kind: str) -> None:
    handler, sales = _gate(_status(1000))
    charge = _create(kind, handler)
    assert len(sales) == 2
    assert (charge.id, charge.amount, charge.status) == (
        "test_payment",
        Money(1000, "KRW"),
        ChargeStatus.PENDING,
    )


@GATEWAYS
def test_a_retry_that_cannot_see_its_own_attempt_yet_says_it_may_exist(kind: str) -> None:
    handler, _ = _gate(NOT_FOUND)
    with pytest.raises(TransportError) as info:
        _create(kind, handler)
    assert info.value.request_sent is True
    assert not isinstance(info.value, DuplicateRequest)
    assert "look it up" in str(info.value)


@GATEWAYS
def test_a_reference_held_by_a_different_request_is_a_duplicate(kind: str) -> None:
    handler, _ = _gate(_status(5000))
    with pytest.raises(DuplicateRequest, match="another request"):
        _create(kind, handler)


@GATEWAYS
def test_a_first_attempt_refused_as_a_duplicate_and_unreadable_stays_a_duplicate(
    kind: str,
) -> None:
    # No earlier attempt of this call reached the Gate: the reference was there before it.
    handler, sales = _gate(NOT_FOUND, first="duplicate")
    with pytest.raises(DuplicateRequest):
        _create(kind, handler)
    assert len(sales) == 1


REFUND_EXISTS = {"status": "error", "code": "3230", "message": "merchant_refund_id exists"}


def _refund_gate(*, first: str) -> Any:
    """The refund's first answer is lost after sending (or refused as a duplicate at once)."""
    sent: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/refund")
        sent.append(1)
        if first == "lost" and len(sent) == 1:
            raise httpx.ReadTimeout("the answer never came", request=request)
        return httpx.Response(400, json=REFUND_EXISTS)

    return handle


def _refund(kind: str, handler: Any) -> Any:
    settings = {"ecommpay": {"project_id": PROJECT_ID, "secret_key": SECRET_KEY}}
    paid = Charge(
        provider="ecommpay",
        id="test_payment",
        reference="test_payment",
        amount=Money(1000, "KRW"),
        method="kakaopay",
        status=ChargeStatus.SUCCEEDED,
    )
    amount = Money(400, "KRW")
    try:
        if kind == "sync":
            client = httpx.Client(transport=httpx.MockTransport(handler))
            with Gateway(providers=settings, http_client=client, retry=FAST) as gw:
                return gw.refund(paid, amount, reference="rf-1")

        async def go() -> Any:
            client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
            async with AsyncGateway(providers=settings, http_client=client, retry=FAST) as gw:
                return await gw.refund(paid, amount, reference="rf-1")

        return asyncio.run(go())
    except PaymuxError as error:
        return error


@GATEWAYS
def test_a_refund_retry_that_meets_its_own_attempt_says_it_may_exist(kind: str) -> None:
    outcome = _refund(kind, _refund_gate(first="lost"))
    assert isinstance(outcome, TransportError), repr(outcome)
    assert outcome.request_sent is True


@GATEWAYS
def test_a_refund_reference_held_before_the_call_is_a_duplicate(kind: str) -> None:
    outcome = _refund(kind, _refund_gate(first="duplicate"))
    assert isinstance(outcome, DuplicateRequest), repr(outcome)
