"""Final callbacks are confirmed through the Gate's signed status answer (issue 11.1).

The status request is checked with ECommPay's official Python SDK (``payment_page_sdk``), not
with paymux's own signer.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from ecommpay_support import SECRET_KEY, load, make_provider, signed_callback
from payment_page_sdk.signature_handler import SignatureHandler

from paymux import ChargeStatus, RefundStatus, WebhookEvent
from paymux.errors import WebhookVerificationError
from paymux.testing import no_network, run_flow
from paymux_ecommpay import sign
from paymux_ecommpay.webhooks_confirmation import CallbackNotConfirmed

CASES = {c["name"]: c for c in load("seed_callbacks.json")["cases"]}
PROJECT = 1234


def _body(name: str) -> dict[str, Any]:
    return copy.deepcopy(CASES[name]["body"])


class Gate:
    """Answers /v2/payment/status like the Gate would, and remembers what it was asked."""

    def __init__(self, answer: Callable[[], httpx.Response]) -> None:
        self.answer = answer
        self.asked: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/v2/payment/status"
        body = json.loads(request.content)
        signature = body["general"].pop("signature")
        # The official SDK, not paymux, says whether the request is signed right.
        assert SignatureHandler(SECRET_KEY).check(body, signature)
        self.asked.append(body)
        return self.answer()


def status(
    payment_status: str,
    operations: list[dict[str, Any]],
    *,
    remaining: int = 1000,
    signed: bool = True,
    payment_id: str = "ABC123",
) -> Callable[[], httpx.Response]:
    answer: dict[str, Any] = {
        "project_id": PROJECT,
        "payment": {
            "id": payment_id,
            "type": "purchase",
            "status": payment_status,
            "method": "kakaopay",
            "sum": {"amount": remaining, "currency": "KRW"},
        },
        "operations": operations,
        "errors": [],
    }
    if signed:
        answer["signature"] = sign(answer, SECRET_KEY)
    return lambda: httpx.Response(200, json=answer)


def sale(status_word: str, amount: int = 1000, code: str = "0") -> dict[str, Any]:
    return {
        "id": 123,
        "request_id": "46d13cf06a05f023ab53dd2d3d5c266a310001",
        "type": "sale",
        "status": status_word,
        "date": "2020-12-10T10:44:49+0000",
        "code": code,
        "message": "",
        "sum_initial": {"amount": amount, "currency": "KRW"},
    }


def refund_op(status_word: str, amount: int, request_id: str) -> dict[str, Any]:
    return {
        "id": 12345,
        "request_id": request_id,
        "type": "refund",
        "status": status_word,
        "date": "2020-12-15T11:15:58+0000",
        "code": "0" if status_word == "success" else "20000",
        "message": "",
        "sum_initial": {"amount": amount, "currency": "KRW"},
    }


def parse(body: dict[str, Any], gate: Callable[[httpx.Request], httpx.Response]) -> WebhookEvent:
    provider = make_provider(project_id=PROJECT)
    return run_flow(provider.parse_webhook(signed_callback(body), {}), gate)


def test_a_confirmed_success_is_reported_with_the_gates_numbers() -> None:
    gate = Gate(status("success", [sale("success")]))
    event = parse(_body("001_sale_success"), gate)
    assert gate.asked == [{"general": {"project_id": PROJECT, "payment_id": "ABC123"}}]
    assert event.charge is not None and event.charge.status is ChargeStatus.SUCCEEDED
    assert event.id == "123:success"
    assert event.verified_by == "signature+refetch"


def test_a_forged_success_for_an_unpaid_order_is_refused() -> None:
    gate = Gate(status("awaiting customer action", [sale("awaiting customer action", code="9999")]))
    with pytest.raises(CallbackNotConfirmed, match="still"):
        parse(_body("001_sale_success"), gate)
    assert len(gate.asked) == 1


def test_a_success_for_a_payment_the_gate_does_not_know_is_refused() -> None:
    # The "adopt an order that was never created" attack ends at the Gate's "not found".
    answer = {"payment": {"status": "error"}, "errors": [{"code": "3061", "message": "Not found"}]}
    gate = Gate(lambda: httpx.Response(404, json=answer))
    with pytest.raises(WebhookVerificationError, match="does not confirm"):
        parse(_body("001_sale_success"), gate)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(status("success", [sale("success")], signed=False), id="unsigned"),
        pytest.param(
            lambda: httpx.Response(
                200,
                json={**json.loads(status("success", [sale("success")])().content), "x": "1"},
            ),
            id="badly-signed",
        ),
        pytest.param(lambda: httpx.Response(500, text="oops"), id="gate-error"),
        pytest.param(lambda: httpx.Response(200, text="not json"), id="not-json"),
        pytest.param(
            status("success", [sale("success")], payment_id="OTHER"), id="another-payment"
        ),
    ],
)
def test_no_trustworthy_answer_means_refused_so_the_gate_retries(
    answer: Callable[[], httpx.Response],
) -> None:
    with pytest.raises(CallbackNotConfirmed):
        parse(_body("001_sale_success"), Gate(answer))


def test_a_final_gate_answer_that_disagrees_is_reported_under_its_own_id() -> None:
    gate = Gate(status("decline", [sale("decline", code="20000")]))
    event = parse(_body("001_sale_success"), gate)
    assert event.charge is not None and event.charge.status is ChargeStatus.FAILED
    assert event.type == "charge.failed"
    # Never the id of the success callback it was not: that one cannot be shadowed.
    assert event.id != "123:success" and "gate" in event.id


def test_an_amount_the_gate_does_not_confirm_is_reported_as_the_gate_has_it() -> None:
    gate = Gate(status("success", [sale("success", amount=10)], remaining=10))
    event = parse(_body("001_sale_success"), gate)
    assert event.charge is not None and event.charge.amount.amount == 10
    assert event.id != "123:success"


def test_a_success_refunded_since_is_confirmed() -> None:
    ops = [sale("success"), refund_op("success", 300, "r-1")]
    event = parse(_body("001_sale_success"), Gate(status("partially refunded", ops, remaining=700)))
    assert event.id == "123:success"
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.PARTIALLY_REFUNDED
    assert event.charge.refundable_amount.amount == 700


def test_a_decline_is_confirmed_too() -> None:
    gate = Gate(status("decline", [sale("decline", code="20000")]))
    event = parse(_body("001_sale_decline"), gate)
    assert event.charge is not None and event.charge.status is ChargeStatus.FAILED
    assert event.id == f"{_body('001_sale_decline')['operation']['id']}:decline"


def test_a_refund_is_confirmed_from_the_gates_list_of_operations() -> None:
    body = _body("001_refund_success")
    rid = body["operation"]["request_id"]
    ops = [sale("success"), refund_op("success", 1000, rid)]
    event = parse(body, Gate(status("refunded", ops, remaining=0)))
    assert event.refund is not None and event.refund.status is RefundStatus.SUCCEEDED
    assert event.refund.id == rid and event.refund.amount.amount == 1000
    assert event.charge is not None and event.charge.status is ChargeStatus.REFUNDED
    assert event.charge.amount.amount == 1000  # the sale's amount, as the Gate states it
    assert event.remaining_amount is not None and event.remaining_amount.amount == 0


@pytest.mark.parametrize(
    ("ops", "match"),
    [
        pytest.param([sale("success")], "lists no refund", id="unknown-refund"),
        pytest.param(
            [sale("success"), refund_op("processing", 1000, "REQ")], "still", id="still-pending"
        ),
    ],
)
def test_a_refund_the_gate_does_not_confirm_is_refused(
    ops: list[dict[str, Any]], match: str
) -> None:
    body = _body("001_refund_success")
    for op in ops:
        if op["request_id"] == "REQ":
            op["request_id"] = body["operation"]["request_id"]
    with pytest.raises(CallbackNotConfirmed, match=match):
        parse(body, Gate(status("success", ops)))


@pytest.mark.parametrize(
    "name", ["002_redirect_data", "001_display_data_text", "003_clarification"]
)
def test_intermediate_callbacks_are_not_confirmed(name: str) -> None:
    body = _body(name)
    provider = make_provider(project_id=int(body["project_id"]))
    event = run_flow(provider.parse_webhook(signed_callback(body), {}), no_network)
    assert event.charge is not None and not event.charge.status.is_final
    assert event.verified_by == "signature"


def test_confirmation_can_be_turned_off() -> None:
    provider = make_provider(project_id=PROJECT, confirm_callbacks=False)
    body = signed_callback(_body("001_sale_success"))
    event = run_flow(provider.parse_webhook(body, {}), no_network)
    assert event.charge is not None and event.charge.status is ChargeStatus.SUCCEEDED
    assert event.verified_by == "signature"


# -- against the emulator: a Gate that signs with the official SDK -------------------------------


def test_the_emulators_final_callbacks_are_confirmed_and_a_forged_one_is_not() -> None:
    from paymux import ChargeRequest, Customer, Gateway, Money, ReturnUrls
    from paymux.sandbox import Sandbox
    from paymux_ecommpay.emulator import SECRET_KEY as EMULATOR_KEY
    from paymux_ecommpay.emulator import EcommpayEmulator

    with (
        Sandbox(emulators={"ecommpay": EcommpayEmulator}) as sandbox,
        Gateway(providers=sandbox.provider_settings()) as gw,
    ):
        reference = "confirm-emulator-1"
        gw.create_charge(
            ChargeRequest(
                reference=reference,
                amount=Money(12_000, "KRW"),
                method="kakaopay",
                country="KR",
                customer=Customer(id="cust-kr", ip_address="192.0.2.10"),
                return_urls=ReturnUrls(
                    success="https://shop.example/ok", decline="https://shop.example/no"
                ),
            )
        )

        def callbacks(count: int) -> list[bytes]:
            import time

            deadline = time.monotonic() + 10
            while True:
                found = [
                    c.body
                    for c in sandbox.hub.inbox("ecommpay")
                    if json.loads(c.body).get("payment", {}).get("id") == reference
                ]
                if len(found) >= count or time.monotonic() > deadline:
                    assert len(found) >= count
                    return found

        intermediate = gw.parse_webhook("ecommpay", callbacks(1)[0], {})
        assert intermediate.verified_by == "signature"  # nothing to confirm yet
        # A forged success (signed with the key, as a leaked key or a signing flaw would allow)
        # for the still unpaid payment: the Gate has it open, so it is refused.
        forged = json.loads(callbacks(1)[0])
        forged.pop("signature")
        forged.pop("display_data", None)
        forged["payment"]["status"] = forged["operation"]["status"] = "success"
        forged["operation"]["code"] = "0"
        forged["signature"] = sign(forged, EMULATOR_KEY)
        with pytest.raises(CallbackNotConfirmed):
            gw.parse_webhook("ecommpay", json.dumps(forged).encode(), {})
        sandbox.hub.act("ecommpay", reference, "pay")
        final = gw.parse_webhook("ecommpay", callbacks(2)[1], {})
        assert final.verified_by == "signature+refetch"
        assert final.charge is not None and final.charge.status is ChargeStatus.SUCCEEDED
        assert final.charge.amount == Money(12_000, "KRW")
