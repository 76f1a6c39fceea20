"""Helpers shared by the ledger's tests (importable from worker processes too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paymux import ChargeRequest, Customer, Money, ReturnUrls


class Clock:
    """A settable clock: reconcile decisions depend on time, tests must not wait for it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def charge_request(
    reference: str = "order-1", amount: int = 10_000, currency: str = "KRW"
) -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=Money(amount, currency),
        method="qr",
        country="KR",
        customer=Customer(id="customer-1", ip_address="192.0.2.10"),
    )


def emulator_request(provider: str, reference: str, amount: int) -> ChargeRequest:
    """A KakaoPay charge for either real plugin's emulator: KRW in Korea, SGD in Singapore."""
    country, currency = ("KR", "KRW") if provider == "ecommpay" else ("SG", "SGD")
    return ChargeRequest(
        reference=reference,
        amount=Money(amount, currency),
        method="kakaopay",
        country=country,
        customer=Customer(id="customer-1", ip_address="192.0.2.10"),
        return_urls=ReturnUrls(
            success=f"https://shop.example/{reference}",
            decline=f"https://shop.example/{reference}/declined",
        ),
    )
