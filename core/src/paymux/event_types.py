"""What a webhook event reports, in one vocabulary for every provider.

A provider's own event words do not line up: Omise's ``charge.complete`` is sent for a paid and
for a declined charge alike, ECommPay names operations and their states. paymux therefore names an
event after what it *reports*: the state the charge (or the refund) is in according to the event.
The provider's own word stays in ``WebhookEvent.provider_data``.
"""

from __future__ import annotations

from enum import StrEnum

from .status import ChargeStatus, RefundStatus


class EventType(StrEnum):
    """``charge.<status>`` / ``refund.<status>``: the event reports that state, nothing more.

    A refund event is typed by the refund even when it also carries the charge. ``other`` is an
    event about nothing paymux models (an Omise customer or transfer event): it carries neither a
    charge nor a refund, and it never means that money moved.
    """

    CHARGE_PENDING = "charge.pending"
    CHARGE_REQUIRES_ACTION = "charge.requires_action"
    CHARGE_SUCCEEDED = "charge.succeeded"
    CHARGE_FAILED = "charge.failed"
    CHARGE_EXPIRED = "charge.expired"
    CHARGE_CANCELED = "charge.canceled"
    CHARGE_PARTIALLY_REFUNDED = "charge.partially_refunded"
    CHARGE_REFUNDED = "charge.refunded"
    REFUND_PENDING = "refund.pending"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    OTHER = "other"

    @classmethod
    def reporting(
        cls, charge: ChargeStatus | None = None, refund: RefundStatus | None = None
    ) -> EventType:
        """The one type for an event carrying a charge and/or a refund in these states."""
        if refund is not None:
            return _BY_REFUND[refund]
        if charge is not None:
            return _BY_CHARGE[charge]
        return cls.OTHER


_BY_CHARGE = {status: EventType(f"charge.{status.value}") for status in ChargeStatus}
_BY_REFUND = {status: EventType(f"refund.{status.value}") for status in RefundStatus}
