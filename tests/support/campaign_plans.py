"""What each checkout of the fault campaign does: the charge, the customer's action, the merchant's
refund asks (amounts the merchant chose, several per charge)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from campaign_audit import Ask

from paymux import ChargeRequest, Customer, Money, ReturnUrls

# (provider the router picks, method, country, currency, amount range, partial refunds, clarify)
KINDS = [
    ("ecommpay", "kakaopay", "KR", "KRW", (1_000, 60_000), True, False),
    ("ecommpay", "payco", "KR", "KRW", (1_000, 60_000), True, False),
    ("ecommpay", "card", "KE", "KES", (100_000, 400_000), False, False),
    # No phone or e-mail: the Gate asks for them (clarification) before the customer can pay.
    ("ecommpay", "card", "KE", "KES", (100_000, 400_000), False, True),
    ("omise", "kakaopay", "SG", "SGD", (100, 6_000), True, False),
    # The browser made the source first (Omise.js), the charge uses it.
    ("omise", "kakaopay", "SG", "SGD", (100, 6_000), True, True),
]
ACTIONS = ["pay"] * 8 + ["decline", "abandon"]


@dataclass(frozen=True)
class Checkout:
    provider: str
    request: ChargeRequest
    action: str
    """What the customer does: ``pay``, ``decline`` or ``abandon``."""
    refunds: tuple[Ask, ...]
    """The merchant's refund asks once the charge is paid, in order (may be empty)."""
    clarify: bool = False
    """ECommPay: the customer's phone and e-mail are missing; Omise: the source comes first."""


def refund_amounts(rng: random.Random, amount: int, partial: bool) -> list[int]:
    """Between one and four refunds of random amounts that sum to at most ``amount`` (all of it
    about a third of the time); a provider without partial refunds gets one full refund."""
    if not partial or amount < 5:
        return [amount]
    count = rng.choice([1, 2, 2, 3, 3, 4])
    cuts = sorted(rng.sample(range(1, amount), count))
    parts = [b - a for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]
    if rng.random() < 0.35:
        parts[-1] += amount - cuts[-1]
    return parts


def plan_checkouts(count: int, run: str, rng: random.Random) -> list[Checkout]:
    plans = []
    for index in range(count):
        provider, method, country, currency, (low, high), partial, clarify = KINDS[
            index % len(KINDS)
        ]
        reference = f"camp-{run}-{index:05d}"
        amount = rng.randint(low, high)
        customer = (
            Customer(id=f"cust-{index}", ip_address="192.0.2.50")
            if clarify
            else Customer(
                id=f"cust-{index}",
                ip_address="192.0.2.50",
                phone="+254700000002",
                email="buyer@example.com",
            )
        )
        request = ChargeRequest(
            reference=reference,
            amount=Money(amount, currency),
            method=method,
            country=country,
            customer=customer,
            return_urls=ReturnUrls(
                success=f"https://shop.example/{reference}",
                decline=f"https://shop.example/{reference}/declined",
            ),
        )
        action = rng.choice(ACTIONS)
        asks: tuple[Ask, ...] = ()
        if action == "pay" and rng.random() < 0.75:
            parts = refund_amounts(rng, amount, partial)
            if partial and rng.random() < 0.15:
                # More than is left: the Ledger must refuse it and never send it.
                parts.append(amount - sum(parts) + 1)
            asks = tuple(Ask(reference, f"{reference}-rf{n}", part) for n, part in enumerate(parts))
        plans.append(Checkout(provider, request, action, asks, clarify))
    return plans


def plan_kills(count: int, run: str, rng: random.Random) -> list[Checkout]:
    """Checkouts for killed workers, alternating Omise and ECommPay: paid, with one partial refund
    (used when the kill falls on the refund)."""
    plans = []
    for index in range(count):
        provider, method, country, currency, (low, high), _, _ = KINDS[0 if index % 2 else 4]
        reference = f"kill-{run}-{index:03d}"
        amount = rng.randint(max(low, 200), high)
        request = ChargeRequest(
            reference=reference,
            amount=Money(amount, currency),
            method=method,
            country=country,
            customer=Customer(id=f"kill-{index}", ip_address="192.0.2.51"),
            return_urls=ReturnUrls(
                success=f"https://shop.example/{reference}",
                decline=f"https://shop.example/{reference}/declined",
            ),
        )
        ask = Ask(reference, f"{reference}-rf0", rng.randint(1, amount - 1))
        plans.append(Checkout(provider, request, "pay", (ask,)))
    return plans
