"""Refunds through the gateway, replayed from cassettes/omise/test_omise_refunds/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from paymux import Gateway, Money, Refund, RefundStatus
from paymux.errors import ProviderError, RefundNotAllowed, TransportError


@pytest.mark.vcr
def test_partial_refund(gateway: Gateway, kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_successful")
    refund = gateway.refund(charge, Money(50000, "SGD"), reference="order-345678-r1")
    assert (refund.status, refund.amount, refund.charge_id) == (
        RefundStatus.SUCCEEDED,
        Money(50000, "SGD"),
        "chrg_test_paymuxpaid",
    )
    assert refund.reference == "order-345678-r1"


@pytest.mark.vcr
def test_full_refund_processed_as_void(gateway: Gateway, kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_successful")
    refund = gateway.refund(charge, reference="order-345678-r2")
    assert refund.amount == Money(150000, "SGD")
    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.provider_status == "closed (voided)"


@pytest.mark.vcr
def test_refund_refused_by_omise(gateway: Gateway, kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_successful")
    with pytest.raises(ProviderError) as caught:
        gateway.refund(charge, Money(50000, "SGD"), reference="order-345678-r1")
    assert (caught.value.code, caught.value.http_status) == ("failed_refund", 400)


def test_refund_after_the_deadline_is_refused_before_sending(make_gateway: Any, kit: Any) -> None:
    # No cassette: with --block-network and record mode none, any request would fail the test.
    gateway = make_gateway(clock=lambda: datetime(2026, 3, 10, 16, 15, 1, tzinfo=UTC))
    charge = kit.load_charge("charge_kakaopay_successful")
    with pytest.raises(RefundNotAllowed, match="00:15 GMT\\+8"):
        gateway.refund(charge, Money(50000, "SGD"))


def test_a_sixteenth_refund_is_refused_before_sending(make_gateway: Any, kit: Any) -> None:
    """Omise takes at most 15 refunds a charge (docs.omise.co/refunding-charges): with 15 known,
    the next one never leaves (no cassette: any request would fail the test)."""
    gateway = make_gateway(clock=lambda: datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    charge = kit.load_charge("charge_kakaopay_successful")
    refund = Refund(
        provider=charge.provider,
        id="rfnd_test_small",
        charge_id=charge.id,
        amount=Money(100, "SGD"),
        status=RefundStatus.SUCCEEDED,
    )
    fifteen = charge.model_copy(
        update={"refunds": (refund,) * 15, "refunded_amount": Money(1_500, "SGD")}
    )
    with pytest.raises(RefundNotAllowed, match="at most 15 refunds"):
        gateway.refund(fifteen, Money(100, "SGD"))
    fourteen = charge.model_copy(
        update={"refunds": (refund,) * 14, "refunded_amount": Money(1_400, "SGD")}
    )
    with pytest.raises(TransportError):  # allowed locally: it reaches the (blocked) network
        gateway.refund(fourteen, Money(100, "SGD"))
