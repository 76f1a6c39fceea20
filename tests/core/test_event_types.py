"""WebhookEvent.type: one value per situation, derived from what the event carries (issue 13 §2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux import (
    Charge,
    ChargeStatus,
    EventType,
    Money,
    Refund,
    RefundStatus,
    WebhookEvent,
)
from paymux.errors import InvalidRequest

PAID = {EventType.CHARGE_SUCCEEDED, EventType.CHARGE_PARTIALLY_REFUNDED, EventType.CHARGE_REFUNDED}


def _charge(status: ChargeStatus) -> Charge:
    return Charge(provider="p", id="ch_1", amount=Money(1000, "KRW"), status=status)


def _refund(status: RefundStatus) -> Refund:
    return Refund(
        provider="p", id="rf_1", charge_id="ch_1", amount=Money(100, "KRW"), status=status
    )


charges = st.none() | st.sampled_from(ChargeStatus).map(_charge)
refunds = st.none() | st.sampled_from(RefundStatus).map(_refund)


@given(charge=charges, refund=refunds)
def test_the_type_is_what_the_event_carries(charge: Charge | None, refund: Refund | None) -> None:
    event = WebhookEvent(provider="p", id="e", charge=charge, refund=refund)
    if refund is not None:
        assert event.type == f"refund.{refund.status}"
    elif charge is not None:
        assert event.type == f"charge.{charge.status}"
    else:
        assert event.type is EventType.OTHER
    # Only a paid charge, and no refund, makes a "money came in" type.
    assert (event.type in PAID) == (refund is None and charge is not None and charge.status.is_paid)


@given(charge=charges, refund=refunds, claimed=st.sampled_from(EventType))
def test_a_type_that_disagrees_with_the_event_is_refused(
    charge: Charge | None, refund: Refund | None, claimed: EventType
) -> None:
    reported = EventType.reporting(
        charge.status if charge else None, refund.status if refund else None
    )
    if claimed is reported:
        assert WebhookEvent(provider="p", id="e", type=claimed, charge=charge, refund=refund)
        return
    with pytest.raises(InvalidRequest, match="disagrees"):
        WebhookEvent(provider="p", id="e", type=claimed, charge=charge, refund=refund)


def test_every_status_has_its_type_and_old_string_comparisons_hold() -> None:
    assert {EventType.reporting(charge=s) for s in ChargeStatus} | {
        EventType.reporting(refund=s) for s in RefundStatus
    } == set(EventType) - {EventType.OTHER}
    # A StrEnum: code comparing with "charge.succeeded" keeps working.
    assert EventType.CHARGE_SUCCEEDED == "charge.succeeded"
    assert WebhookEvent(
        provider="p", id="e", type="charge.failed", charge=_charge(ChargeStatus.FAILED)
    )
