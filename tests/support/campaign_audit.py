"""The campaign's verdict: the Ledger against the emulators' books and the merchant's asks.

Nothing is skipped because the expected state is unknown: a provider state the audit cannot read,
a create or a refund the Ledger still holds as unknown after reconcile, are failures of their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from campaign_books import BookCharge, BookRefund

from paymux import ChargeStatus, Ledger
from paymux.ledger.records import Entry, RefundRecord

HELD = ("reserved", "unknown", "pending")


@dataclass(frozen=True)
class Ask:
    """A refund the merchant asked for: its reference and amount (minor units)."""

    charge: str
    reference: str
    amount: int


@dataclass
class Audit:
    charges: int = 0
    double_charges: list[str] = field(default_factory=list)
    phantom_charges: list[str] = field(default_factory=list)
    lost_charges: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    """A create or refund still unknown/held, or a charge not final, after reconcile."""
    unreadable: list[str] = field(default_factory=list)
    """A provider state the audit has no reading for: never taken as agreement."""
    disagreements: list[str] = field(default_factory=list)
    lost_refunds: list[str] = field(default_factory=list)
    phantom_refunds: list[str] = field(default_factory=list)
    over_refunds_books: list[str] = field(default_factory=list)
    over_refunds_asks: list[str] = field(default_factory=list)
    refunds_per_charge: Counter[int] = field(default_factory=Counter)
    """Charges by the number of refunds the provider completed on them."""
    outcomes: Counter[str] = field(default_factory=Counter)

    def failures(self) -> dict[str, list[str]]:
        return {
            name: value for name, value in vars(self).items() if isinstance(value, list) and value
        }

    def summary(self) -> str:
        return (
            f"{len(self.double_charges)} double charges, {len(self.lost_refunds)} lost refunds,"
            f" {len(self.phantom_refunds)} phantom refunds, {len(self.over_refunds_books)}"
            f" over-refunds against the emulators' books, {len(self.over_refunds_asks)} against the"
            f" merchant's asks, {len(self.lost_charges)} lost and {len(self.phantom_charges)} phantom"
            f" charges, {len(self.unresolved)} unresolved, {len(self.unreadable)} unreadable,"
            f" {len(self.disagreements)} disagreements"
        )


def _match(ledger_refunds: Iterable[RefundRecord], refund: BookRefund) -> RefundRecord | None:
    for record in ledger_refunds:
        if refund.reference and record.reference == refund.reference:
            return record
    return next((r for r in ledger_refunds if r.provider_id and r.provider_id == refund.id), None)


def _refunds(audit: Audit, reference: str, entry: Entry, book: BookCharge, asks: list[Ask]) -> None:
    where = f"{reference} ({book.provider} {book.id})"
    for refund in book.refunds:
        record = _match(entry.refunds, refund)
        if refund.status == "succeeded" and (record is None or record.status != "succeeded"):
            state = record.status if record is not None else "nothing"
            audit.lost_refunds.append(
                f"{where}: the provider refunded {refund.amount} ({refund.reference or refund.id}),"
                f" the ledger has {state}"
            )
        elif refund.status == "pending":
            audit.unresolved.append(
                f"{where}: refund {refund.reference} still pending at the provider"
            )
        elif refund.status not in ("succeeded", "failed"):
            audit.unreadable.append(f"{where}: refund status {refund.status!r}")
    for record in entry.refunds:
        if record.status in HELD:
            audit.unresolved.append(
                f"{where}: the ledger still holds refund {record.reference} as {record.status}"
            )
        if record.status != "succeeded":
            continue
        twin = next(
            (
                r
                for r in book.refunds
                if (record.reference and r.reference == record.reference)
                or (record.provider_id and r.id == record.provider_id)
            ),
            None,
        )
        if twin is None or twin.status != "succeeded":
            audit.phantom_refunds.append(
                f"{where}: the ledger has refund {record.reference} of {record.amount.amount}"
                f" succeeded, the provider {'has nothing' if twin is None else twin.status}"
            )
    if entry.refunded.amount != book.refunded:
        bucket = (
            audit.lost_refunds if entry.refunded.amount < book.refunded else audit.phantom_refunds
        )
        bucket.append(
            f"{where}: the provider refunded {book.refunded} in all, the ledger {entry.refunded.amount}"
        )
    if book.refunded > book.amount or entry.refunded.amount > entry.amount.amount:
        audit.over_refunds_books.append(
            f"{where}: {book.refunded} refunded by the provider, {entry.refunded.amount} by the"
            f" ledger, of a {book.amount} charge"
        )
    asked = {a.reference: a.amount for a in asks}
    seen = Counter(r.reference for r in book.refunds if r.status != "failed")
    told: set[str] = set()
    for refund in book.refunds:
        if refund.status == "failed" or refund.reference in told:
            continue
        told.add(refund.reference)
        if refund.reference not in asked:
            audit.over_refunds_asks.append(
                f"{where}: the provider refunded {refund.amount} under {refund.reference!r},"
                " which the merchant never asked for"
            )
        elif asked[refund.reference] != refund.amount:
            audit.over_refunds_asks.append(
                f"{where}: {refund.reference} refunded {refund.amount}, the merchant asked"
                f" {asked[refund.reference]}"
            )
        elif seen[refund.reference] > 1:
            audit.over_refunds_asks.append(
                f"{where}: {refund.reference} refunded {seen[refund.reference]} times"
            )
    if book.refunded > sum(asked.values()):
        audit.over_refunds_asks.append(
            f"{where}: the provider refunded {book.refunded}, the merchant asked {sum(asked.values())}"
        )
    for record in entry.refunds:
        # A refund first learnt from a webhook may carry no reference; the books' side above
        # already holds every refund the provider made against the asks.
        if record.reference is not None and record.reference not in asked:
            audit.over_refunds_asks.append(
                f"{where}: the ledger holds refund {record.reference}, which the merchant never asked for"
            )
    audit.refunds_per_charge[sum(1 for r in book.refunds if r.status == "succeeded")] += 1


def audit_ledger(
    ledger: Ledger,
    books: Mapping[str, list[BookCharge]],
    references: Iterable[str],
    asks: Mapping[str, list[Ask]],
    refused: Iterable[Ask] = (),
    *,
    foreign: Iterable[str] = (),
) -> Audit:
    """``foreign``: references of charges made outside this Ledger (each must exist once)."""
    audit = Audit()
    outside = set(foreign)
    for reference in outside:
        if len(books.get(reference, [])) != 1:
            audit.double_charges.append(
                f"{reference}: {len(books.get(reference, []))} charges made outside the ledger"
            )
    refused_references = {(a.charge, a.reference) for a in refused}
    for reference, charges in books.items():
        for charge in charges:
            for refund in charge.refunds:
                if (reference, refund.reference) in refused_references:
                    audit.over_refunds_asks.append(
                        f"{reference}: refund {refund.reference} reached the provider"
                        " though the ledger refused it"
                    )
    known = set(references)
    for reference, charges in books.items():
        if reference not in known and reference not in outside:
            audit.phantom_charges.append(
                f"{reference or '(no reference)'}: the provider holds {len(charges)} charge(s)"
                " nobody asked for"
            )
    for reference in sorted(known):
        charges = books.get(reference, [])
        entry = ledger.entry(reference)
        if len(charges) > 1:
            audit.double_charges.append(
                f"{reference}: {', '.join(f'{c.provider} {c.id} {c.raw_status}' for c in charges)}"
            )
        if not charges:
            if entry is not None and entry.charge is not None:
                audit.phantom_charges.append(f"{reference}: the ledger has {entry.provider_id}")
            elif entry is not None and entry.create_state not in ("new", "rejected"):
                audit.unresolved.append(
                    f"{reference}: create {entry.create_state}, the provider has nothing"
                )
            continue
        audit.charges += 1
        # With a double charge, compare with the one the Ledger follows (the other is reported).
        follows = entry.provider_id if entry is not None else None
        book = next((c for c in charges if c.id == follows), charges[0])
        if entry is None or entry.charge is None:
            state = entry.create_state if entry is not None else "no row"
            audit.lost_charges.append(
                f"{reference}: the provider has {book.id}, the ledger {state}"
            )
            continue
        audit.outcomes[entry.status] += 1
        if entry.provider_id not in {c.id for c in charges}:
            audit.disagreements.append(
                f"{reference}: the ledger follows {entry.provider_id}, the provider holds {book.id}"
            )
        truth = book.truth
        if truth is None:
            audit.unreadable.append(f"{reference}: provider state {book.raw_status!r}")
        elif entry.status != truth.value:
            audit.disagreements.append(
                f"{reference}: provider {truth.value} ({book.raw_status}), ledger {entry.status}"
            )
        if not ChargeStatus(entry.status).is_final:
            audit.unresolved.append(f"{reference}: still {entry.status} after reconcile")
        _refunds(audit, reference, entry, book, list(asks.get(reference, [])))
    return audit
