"""paymux provider for ECommPay Gate: KakaoPay (QR), Payco and card-partner (redirect)."""

from __future__ import annotations

from .provider import EcommpayProvider
from .responses import CODE_REASONS, OPERATION_STATUSES, PAYMENT_STATUSES
from .settings import EcommpaySettings
from .signing import sign, string_to_sign, verify

__all__ = [
    "CODE_REASONS",
    "OPERATION_STATUSES",
    "PAYMENT_STATUSES",
    "EcommpayProvider",
    "EcommpaySettings",
    "sign",
    "string_to_sign",
    "verify",
]
