"""The shared status and failure vocabularies every provider maps onto."""

from __future__ import annotations

from enum import StrEnum


class ChargeStatus(StrEnum):
    """Where a charge stands. Accepted-but-unpaid is ``pending``, never ``succeeded``."""

    PENDING = "pending"
    """The provider accepted the request; nothing is known yet about the customer's action."""
    REQUIRES_ACTION = "requires_action"
    """The customer must act: see ``Charge.next_action``."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"

    @property
    def is_final(self) -> bool:
        """No customer or provider action can move the charge back to an open state."""
        return self not in _OPEN

    @property
    def is_paid(self) -> bool:
        """Money was taken (possibly refunded since, in part or in full)."""
        return self in _PAID


_OPEN = frozenset({ChargeStatus.PENDING, ChargeStatus.REQUIRES_ACTION})
_PAID = frozenset({ChargeStatus.SUCCEEDED, ChargeStatus.PARTIALLY_REFUNDED, ChargeStatus.REFUNDED})


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self is not RefundStatus.PENDING


class FailureReason(StrEnum):
    """Why a charge or refund did not go through, in provider-neutral terms."""

    DECLINED = "declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    REJECTED = "rejected"
    EXPIRED = "expired"
    INVALID_ACCOUNT = "invalid_account"
    PROCESSING_ERROR = "processing_error"
    CANCELED = "canceled"
    FRAUD_SUSPECTED = "fraud_suspected"
    LIMIT_EXCEEDED = "limit_exceeded"
    AUTHENTICATION_FAILED = "authentication_failed"
    UNKNOWN = "unknown"


class RefundSupport(StrEnum):
    NONE = "none"
    FULL = "full"
    PARTIAL = "partial"
