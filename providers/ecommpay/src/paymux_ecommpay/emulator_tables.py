"""The ECommPay emulator's tables (methods, limits, codes) and small helpers."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

# The emulator's own reading of the seeds (methods, currencies, limits, refund rules), kept apart
# from the plugin's tables so that a mistake in one shows up as a disagreement with the other.
METHODS: dict[str, dict[str, Any]] = {
    "wallet/kakaopay": {
        "method": "kakaopay",
        "limits": {"KRW": (1, None)},
        "partial_refunds": True,
    },
    "wallet/payco": {"method": "payco", "limits": {"KRW": (1, None)}, "partial_refunds": True},
    "card-partner": {
        "method": "card-partner",
        "limits": {"KES": (1_000, 20_000_000), "USD": (100, 300_000)},
        "partial_refunds": False,
    },
}
# Payment Page ``force_payment_method`` codes (seed 000: kakaopay-wallet).
PAGE_METHODS = {
    "kakaopay-wallet": "wallet/kakaopay",
    "payco-wallet": "wallet/payco",
    "card-partner": "card-partner",
}
# Seed 003: without these the platform asks for them (clarification) before going on.
CARD_PARTNER_CUSTOMER_FIELDS = ("email", "phone")
DECLINE_CODES = {"card-partner": ("10000", "General decline")}
WALLET_DECLINE = ("20000", "General decline")
REFUND_DECLINE = ("20000", "General decline")  # every seed's declined-refund example
TIMEOUT_DECLINE = ("20602", "Time-out")
AWAITING = ("9999", "Awaiting processing")
# Customer-visible values with the signature's own separators in them: paymux's callback parser
# must read them as plain values.
ACCOUNT_HOLDER = "Kim; Lee: VIP"
ACCOUNT_NUMBER = "**** 1234; exp: 12/30"


def obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def new_request_id() -> str:
    return f"{secrets.token_hex(20)}-{secrets.token_hex(20)}-00000001"


def loopback(url: object) -> str | None:
    """``url`` if it points at this machine: the sandbox never sends callbacks anywhere else."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return url
    return None


def limits_error(path: str, amount: int, currency: str) -> tuple[str, str] | None:
    limits = METHODS[path]["limits"].get(currency)
    if limits is None:
        return "310", f"Operation not allowed: {currency} is not enabled"
    low, high = limits
    if amount < low or (high is not None and amount > high):
        return "310", "Operation not allowed: amount outside the method's limits"
    return None
