"""The ECommPay emulator's books (payments, refunds) and its knobs (how the platform behaves).

Tests and the fault campaign compare the Ledger with :meth:`EcommpayEmulator.books`, a frozen
snapshot, and steer the platform per payment or per refund with :class:`Knobs`.
"""

from __future__ import annotations

import base64
import io
import random
import textwrap
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

QrForm = Literal["text", "png", "png-wrapped"]
"""``text``: the string to encode (seed 001); ``png``: a base64 PNG of it (seed 000);
``png-wrapped``: the same PNG as MIME base64, wrapped at 76 columns and without ``=`` padding."""

QR_FORMS: tuple[QrForm, ...] = ("text", "png", "png-wrapped")


@dataclass(frozen=True)
class Knobs:
    """How the emulated platform treats a payment and its refunds. Defaults: a well-behaved one."""

    qr: QrForm = "text"
    """How the KakaoPay QR code is sent in ``display_data``."""
    qr_empty_first: bool = False
    """Send an intermediate callback with an empty QR (``"data": ""``) before the real one."""
    refund_decline: float = 0.0
    """Chance (0..1) that the platform declines a refund (code 20000), after accepting it."""
    refund_delay: float = 0.0
    """Seconds between accepting a refund and completing it (callback and status change)."""
    refund_hold: bool = False
    """Refunds stay ``processing`` until :meth:`EcommpayEmulator.settle_refunds` is called."""

    def __post_init__(self) -> None:
        if self.qr not in QR_FORMS:
            raise ValueError(f"qr must be one of {', '.join(QR_FORMS)}, not {self.qr!r}")
        if not 0.0 <= self.refund_decline <= 1.0:
            raise ValueError("refund_decline is a probability between 0 and 1")
        if self.refund_delay < 0:
            raise ValueError("refund_delay cannot be negative")

    def with_overrides(self, overrides: dict[str, Any]) -> Knobs:
        return replace(self, **overrides) if overrides else self


KNOB_NAMES = frozenset(f.name for f in fields(Knobs))


def check_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = set(overrides) - KNOB_NAMES
    if unknown:
        raise ValueError(f"unknown knob(s): {', '.join(sorted(unknown))}")
    Knobs().with_overrides(overrides)  # validates the values
    return dict(overrides)


class Dice:
    """Seeded chances, so a campaign's run can be repeated."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)  # a reproducible simulation, not security

    def roll(self, probability: float) -> bool:
        return probability >= 1.0 or (probability > 0 and self._random.random() < probability)


@dataclass
class RefundRecord:
    request_id: str
    merchant_refund_id: str
    amount: int
    operation: dict[str, Any]
    status: str = "processing"
    """``processing`` until the platform settles it, then ``success`` or ``decline``."""
    declines: bool = False
    """Decided when the refund is accepted (from the knobs then in force)."""


@dataclass
class PaymentRecord:
    id: str
    path: str
    method: str
    amount: int
    currency: str
    customer: dict[str, Any]
    description: str
    callback_url: str
    return_url: dict[str, str]
    request_id: str
    """The sale operation's request id: the sync answer's and every sale callback's."""
    operation: dict[str, Any] = field(default_factory=dict)
    """The sale operation, updated in place: one id and one request id from start to end."""
    status: str = "processing"
    refunds: list[RefundRecord] = field(default_factory=list)
    customer_step: dict[str, Any] = field(default_factory=dict)
    """The intermediate callback's display_data / redirect_data / clarification_fields."""
    via_payment_page: bool = False

    @property
    def refunded(self) -> int:
        """What the platform has refunded (completed refunds only)."""
        return sum(r.amount for r in self.refunds if r.status == "success")

    @property
    def reserved(self) -> int:
        """Refunded plus refunds still in flight: what can no longer be asked for."""
        return sum(r.amount for r in self.refunds if r.status in ("success", "processing"))

    @property
    def refund_ids(self) -> set[str]:
        return {r.merchant_refund_id for r in self.refunds if r.merchant_refund_id}

    @property
    def operations(self) -> list[dict[str, Any]]:
        return [self.operation, *(r.operation for r in self.refunds)]


@dataclass(frozen=True)
class BookedRefund:
    request_id: str
    merchant_refund_id: str
    amount: int
    status: str


@dataclass(frozen=True)
class BookedPayment:
    id: str
    method: str
    amount: int
    currency: str
    status: str
    refunded: int
    refunds: tuple[BookedRefund, ...]


def booked(payment: PaymentRecord) -> BookedPayment:
    return BookedPayment(
        id=payment.id,
        method=payment.method,
        amount=payment.amount,
        currency=payment.currency,
        status=payment.status,
        refunded=payment.refunded,
        refunds=tuple(
            BookedRefund(r.request_id, r.merchant_refund_id, r.amount, r.status)
            for r in payment.refunds
        ),
    )


def qr_data(text: str, form: QrForm) -> str:
    """The ``display_data`` value for a QR code that encodes ``text``."""
    if form == "text":
        return text
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind="png", scale=4)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    if form == "png":
        return encoded
    return "\n".join(textwrap.wrap(encoded.rstrip("="), 76))
