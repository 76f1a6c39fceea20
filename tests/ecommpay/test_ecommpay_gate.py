"""The Gate over HTTP, replayed from cassettes (``cassettes/ecommpay/test_ecommpay_gate/``).

Re-record with ``make record PROVIDER=ecommpay`` and a test project's ECOMMPAY_PROJECT_ID /
ECOMMPAY_SECRET_KEY; refunds, status and clarification then need ECOMMPAY_PAID_PAYMENT_ID (a paid
test payment) and ECOMMPAY_CLARIFY_PAYMENT_ID (one waiting for clarification).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from ecommpay_support import (
    PROJECT_ID,
    RECORDING,
    SECRET_KEY,
    charge_request,
    resign_for_replay,
)

from paymux import Charge, ChargeStatus, Customer, Gateway, Money, ProvideInformation
from paymux.errors import AuthenticationError, NotFound

# A live Gate refuses a payment id it has seen; recording uses fresh ones.
REFERENCE = f"paymux-{uuid.uuid4().hex[:12]}" if RECORDING else "test_payment"
PAID = os.environ.get("ECOMMPAY_PAID_PAYMENT_ID", "test_payment")
CLARIFY = os.environ.get("ECOMMPAY_CLARIFY_PAYMENT_ID", "TEST_184")


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    shared = vcr_config["before_record_response"]
    return {**vcr_config, "before_record_response": lambda r: resign_for_replay(shared(r))}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with Gateway(
        providers={"ecommpay": {"project_id": PROJECT_ID, "secret_key": SECRET_KEY}}
    ) as gw:
        yield gw


def paid_charge(method: str, amount: Money, payment_id: str = PAID) -> Charge:
    return Charge(
        provider="ecommpay",
        id=payment_id,
        reference=payment_id,
        amount=amount,
        method=method,
        status=ChargeStatus.SUCCEEDED,
    )


@pytest.mark.vcr
def test_kakaopay_sale_is_accepted_as_pending(gateway: Gateway) -> None:
    charge = gateway.create_charge(charge_request("kakaopay", reference=REFERENCE))
    assert charge.provider == "ecommpay"
    assert charge.status is ChargeStatus.PENDING
    assert charge.next_action is None
    assert charge.provider_data["request_id"]


@pytest.mark.vcr
def test_payco_sale_is_accepted_as_pending(gateway: Gateway) -> None:
    charge = gateway.create_charge(charge_request("payco", reference=REFERENCE))
    assert charge.status is ChargeStatus.PENDING
    assert charge.method == "payco"


@pytest.mark.vcr
def test_card_partner_sale_is_accepted_as_pending(gateway: Gateway) -> None:
    request = charge_request(
        "card",
        reference=REFERENCE if RECORDING else "TEST_184",
        customer=Customer(
            id="123", ip_address="1.2.3.4", phone="123456789", email="customer@example.com"
        ),
        return_urls=None,
    )
    charge = gateway.create_charge(request)
    assert charge.status is ChargeStatus.PENDING
    assert charge.amount == Money(1000, "KES")


@pytest.mark.vcr
def test_repeated_sale_is_refused_with_3041(gateway: Gateway, vcr: Any) -> None:
    request = charge_request("kakaopay", reference=REFERENCE)
    if RECORDING:
        gateway.create_charge(request)
    # One reference is one attempt: the Gate refuses the repeat (3041, no second payment) and
    # paymux answers with the payment the Gate holds under that payment id.
    charge = gateway.create_charge(request)
    assert charge.id == REFERENCE
    assert [r.path for r in vcr.requests] == [
        "/v2/payment/wallet/kakaopay/sale",
        "/v2/payment/status",
    ]


@pytest.mark.vcr
def test_wrong_secret_key_is_an_authentication_error() -> None:
    settings = {"project_id": PROJECT_ID, "secret_key": "not-the-project-key"}
    with (
        Gateway(providers={"ecommpay": settings}) as gw,
        pytest.raises(AuthenticationError) as info,
    ):
        gw.create_charge(charge_request("kakaopay", reference=REFERENCE))
    assert info.value.code == "3261"
    assert "not-the-project-key" not in str(info.value)


@pytest.mark.vcr
def test_partial_wallet_refund_is_accepted(gateway: Gateway) -> None:
    charge = paid_charge("kakaopay", Money(5000, "KRW"))
    refund = gateway.refund(
        charge, Money(1000, "KRW"), reason="test refund", reference=f"{PAID}-r1"
    )
    assert refund.status == "pending"
    assert refund.amount == Money(1000, "KRW")
    assert refund.reference == f"{PAID}-r1"


@pytest.mark.vcr
def test_card_partner_full_refund_is_accepted(gateway: Gateway) -> None:
    payment_id = PAID if RECORDING else "refund_02"
    charge = paid_charge("card", Money(1000, "KES"), payment_id)
    refund = gateway.refund(charge, reference=f"{payment_id}-r1")
    assert refund.status == "pending"
    assert refund.amount == Money(1000, "KES")


@pytest.mark.vcr
def test_status_of_a_paid_payment(gateway: Gateway) -> None:
    charge = gateway.retrieve_charge("ecommpay", PAID)
    assert charge.status is ChargeStatus.SUCCEEDED
    assert charge.id == PAID


@pytest.mark.vcr
def test_status_of_an_unknown_payment(gateway: Gateway) -> None:
    with pytest.raises(NotFound) as info:  # 3061, though the recorded answer is HTTP 200
        gateway.retrieve_charge("ecommpay", "no_such_payment")
    assert info.value.code == "3061"


@pytest.mark.vcr
def test_clarification_is_accepted(gateway: Gateway) -> None:
    charge = Charge(
        provider="ecommpay",
        id=CLARIFY,
        reference=CLARIFY,
        amount=Money(1000, "KES"),
        method="card",
        status=ChargeStatus.REQUIRES_ACTION,
        next_action=ProvideInformation(
            fields=({"name": "customer.phone"}, {"name": "customer.email"})
        ),  # type: ignore[arg-type]
    )
    after = gateway.clarify(
        charge, {"customer.phone": "254712375678", "customer.email": "example@example.com"}
    )
    assert after.status is ChargeStatus.PENDING
    assert after.next_action is None


def test_recorded_answers_are_re_signed_with_the_replay_key() -> None:
    from ecommpay_support import REPLAY_SECRET_KEY

    from paymux_ecommpay import sign, verify

    answer = {"payment": {"id": "p", "status": "success"}}
    answer["signature"] = sign(answer, "the-real-project-key")
    recorded = {"body": {"string": json.dumps(answer).encode()}, "status": {"code": 200}}
    stored = json.loads(resign_for_replay(recorded)["body"]["string"])
    assert stored["signature"] != answer["signature"]
    assert verify(stored, REPLAY_SECRET_KEY)


def test_callback_through_the_gateway(gateway: Gateway) -> None:
    from ecommpay_support import load, signed_callback

    case = next(c for c in load("seed_callbacks.json")["cases"] if c["name"] == "002_redirect_data")
    body = {**case["body"], "project_id": PROJECT_ID}
    event = gateway.parse_webhook("ecommpay", body=signed_callback(body), headers={})
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.REQUIRES_ACTION
    assert event.charge.next_action is not None
    assert "<form" in event.charge.next_action.html()  # type: ignore[union-attr]


@pytest.mark.vcr
async def test_async_gateway_runs_the_same_flow() -> None:
    from paymux import AsyncGateway

    settings = {"project_id": PROJECT_ID, "secret_key": SECRET_KEY}
    async with AsyncGateway(providers={"ecommpay": settings}) as gw:
        charge = await gw.create_charge(charge_request("kakaopay", reference=REFERENCE))
    assert charge.status is ChargeStatus.PENDING
    assert charge.provider_data["request_id"]
