"""The emulators' books in one neutral shape, for the campaign to hold the Ledger against.

What the provider really did is read from each emulator's own records, never from what paymux
was told: a charge the Ledger lost, a refund it invented or counted twice shows up as a difference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from campaign_wire import Write

from paymux import ChargeStatus
from paymux.sandbox import Sandbox

S = ChargeStatus

ECOMMPAY_REFUND = {"success": "succeeded", "processing": "pending", "decline": "failed"}
OMISE_REFUND = {"closed": "succeeded", "pending": "pending", "failed": "failed", "voided": "failed"}
ECOMMPAY_PAID = ("success", "partially refunded", "refunded")
ECOMMPAY_OPEN = {
    "processing": S.PENDING,
    "awaiting customer action": S.REQUIRES_ACTION,
    "awaiting redirect result": S.REQUIRES_ACTION,
    "awaiting clarification": S.REQUIRES_ACTION,
    "decline": S.FAILED,
}
OMISE_OTHER = {
    "pending": S.PENDING,
    "failed": S.FAILED,
    "expired": S.EXPIRED,
    "reversed": S.CANCELED,
}


@dataclass(frozen=True)
class BookRefund:
    reference: str
    """The merchant's refund reference (ECommPay ``merchant_refund_id``, Omise metadata)."""
    id: str
    amount: int
    status: str
    """``succeeded`` | ``pending`` | ``failed``, or the provider's word if it is none of those."""


@dataclass(frozen=True)
class BookCharge:
    provider: str
    id: str
    reference: str
    amount: int
    currency: str
    raw_status: str
    refunds: tuple[BookRefund, ...]

    @property
    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds if r.status == "succeeded")

    @property
    def truth(self) -> ChargeStatus | None:
        """The neutral status the provider's state means; None when the campaign has no
        reading for it (the audit counts that as a failure, never as a skip)."""
        paid = (self.provider == "ecommpay" and self.raw_status in ECOMMPAY_PAID) or (
            self.provider == "omise" and self.raw_status == "successful"
        )
        if paid:
            if self.refunded == 0:
                return S.SUCCEEDED
            return S.REFUNDED if self.refunded >= self.amount else S.PARTIALLY_REFUNDED
        table = ECOMMPAY_OPEN if self.provider == "ecommpay" else OMISE_OTHER
        return table.get(self.raw_status)


def _field(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def _ecommpay_payments(emulator: Any) -> Iterable[Any]:
    books = emulator.books() if callable(getattr(emulator, "books", None)) else emulator.payments
    return list(books.values()) if isinstance(books, dict) else list(books)


def _ecommpay_refunds(payment: Any) -> tuple[BookRefund, ...]:
    refunds = _field(payment, "refunds")
    if refunds is None:  # an emulator without refund records: only totals can be compared
        return ()
    return tuple(
        BookRefund(
            reference=str(_field(r, "merchant_refund_id") or ""),
            id=str(_field(r, "request_id") or ""),
            amount=int(_field(r, "amount")),
            status=ECOMMPAY_REFUND.get(str(_field(r, "status")), str(_field(r, "status"))),
        )
        for r in refunds
    )


def _omise_refunds(charge: dict[str, Any]) -> tuple[BookRefund, ...]:
    return tuple(
        BookRefund(
            reference=str((r.get("metadata") or {}).get("paymux_reference") or ""),
            id=str(r["id"]),
            amount=int(r["amount"]),
            status=OMISE_REFUND.get(str(r.get("status")), str(r.get("status"))),
        )
        for r in charge["refunds"]["data"]
    )


def read_books(sandbox: Sandbox) -> dict[str, list[BookCharge]]:
    """Every charge each emulator holds, by the merchant's reference (more than one: a double
    charge)."""
    found: dict[str, list[BookCharge]] = {}
    ecommpay: Any = sandbox.emulators["ecommpay"]
    with ecommpay.lock:
        for payment in _ecommpay_payments(ecommpay):
            reference = str(_field(payment, "id"))
            found.setdefault(reference, []).append(
                BookCharge(
                    provider="ecommpay",
                    id=reference,
                    reference=reference,
                    amount=int(_field(payment, "amount")),
                    currency=str(_field(payment, "currency")),
                    raw_status=str(_field(payment, "status")),
                    refunds=_ecommpay_refunds(payment),
                )
            )
    omise: Any = sandbox.emulators["omise"]
    with omise.lock:
        for charge in list(omise.charges.values()):
            reference = str((charge.get("metadata") or {}).get("paymux_reference") or "")
            found.setdefault(reference, []).append(
                BookCharge(
                    provider="omise",
                    id=str(charge["id"]),
                    reference=reference,
                    amount=int(charge["amount"]),
                    currency=str(charge["currency"]),
                    raw_status=str(charge["status"]),
                    refunds=_omise_refunds(charge),
                )
            )
    return found


class BooksProbe:
    """Counts what the books hold for one write's key (see ``campaign_wire``)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.ecommpay: Any = sandbox.emulators["ecommpay"]
        self.omise: Any = sandbox.emulators["omise"]

    def __call__(self, write: Write) -> int:
        if write.endpoint.startswith("omise"):
            with self.omise.lock:
                return self._omise(write)
        with self.ecommpay.lock:
            return self._ecommpay(write)

    def _omise(self, write: Write) -> int:
        if write.endpoint == "omise source":
            return len(self.omise.sources)
        charges = list(self.omise.charges.values())
        if write.endpoint == "omise charge":
            return sum(
                1 for c in charges if (c.get("metadata") or {}).get("paymux_reference") == write.key
            )
        return sum(
            1
            for c in charges
            for r in c["refunds"]["data"]
            if (r.get("metadata") or {}).get("paymux_reference") == write.key
        )

    def _ecommpay(self, write: Write) -> int:
        payment_id, _, refund_reference = write.key.partition("/")
        payment = self.ecommpay.payments.get(payment_id)
        if payment is None:
            return 0
        if write.endpoint == "ecommpay refund":
            return sum(1 for r in _ecommpay_refunds(payment) if r.reference == refund_reference)
        if write.endpoint == "ecommpay clarification":
            return int(_field(payment, "status") != "awaiting clarification")
        return 1
