"""What Omise offers through paymux, as data (seed 004: Opn's KakaoPay page)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from functools import cache
from typing import Any

from paymux import AmountRange, Capability, RefundSupport

KAKAOPAY = "kakaopay"

# Omise sells KakaoPay to merchants in these countries, each settling in its own currency.
KAKAOPAY_CURRENCY_BY_COUNTRY: dict[str, str] = {"SG": "SGD", "TH": "THB"}


@cache
def kakaopay_limits() -> tuple[AmountRange, ...]:
    """Built on first use: the first ``AmountRange`` builds its schema and loads the ISO 4217
    table, which would otherwise be most of the cost of importing this plugin."""
    return (
        AmountRange(currency="SGD", minimum=100, maximum=2_000_000),
        AmountRange(currency="THB", minimum=2_000, maximum=15_000_000),
    )


def __getattr__(name: str) -> Any:
    if name == "KAKAOPAY_LIMITS":  # the constant this module used to define
        return kakaopay_limits()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PLATFORM_TYPES = ("WEB", "IOS", "ANDROID")

# "KakaoPay payments can be refunded until 00:15 (GMT+8) of the next day" (seed 004).
REFUND_WINDOW_ZONE = timezone(timedelta(hours=8), "GMT+8")
REFUND_WINDOW_CLOSES = time(0, 15)

# Source types whose refunds close with the same next-day window.
REFUND_WINDOW_METHODS = frozenset({KAKAOPAY})


def capabilities(provider: str) -> list[Capability]:
    return [
        Capability(
            provider=provider,
            method=KAKAOPAY,
            countries=tuple(KAKAOPAY_CURRENCY_BY_COUNTRY),
            amounts=kakaopay_limits(),
            refunds=RefundSupport.PARTIAL,
            next_actions=("redirect_to_url",),
            provider_method=KAKAOPAY,
            # POST /charges/{id}/expire stops an unpaid app-redirect/QR charge (omise.md);
            # GET /charges, GET /charges/{id}/refunds and /refunds/{id} read (charges-api).
            operations=("cancel_charge", "list_charges", "list_refunds", "retrieve_refund"),
            notes=(
                "app_redirect: the authorize URL opens the KakaoPay app on mobile and shows Opn's"
                " QR page on desktop; refunds until 00:15 GMT+8 the day after payment"
            ),
        )
    ]


def refund_deadline(method: str | None, paid_at: datetime | None) -> datetime | None:
    """The last moment Omise refunds a payment of ``method`` made at ``paid_at``, if limited."""
    if method not in REFUND_WINDOW_METHODS or paid_at is None:
        return None
    local_day = paid_at.astimezone(REFUND_WINDOW_ZONE).date()
    return datetime.combine(local_day + timedelta(days=1), REFUND_WINDOW_CLOSES, REFUND_WINDOW_ZONE)
