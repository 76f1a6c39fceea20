"""Which of the ledger's refunds a provider's answer speaks about: by refund id or reference only.

A provider's refunded *total* never says which refund went through. Crediting held refunds from
it, oldest first, lost money: a refund that never reached the provider was marked succeeded
because another one had. So a poll is read refund by refund (``Charge.refunds``); what cannot be
attributed that way is flagged and stays held, and a held refund the provider's complete list
does not contain is released as failed once it has been held for the ledger's
``refund_release_after``.

Pure functions over plain rows: the transaction code in ``polls`` carries the plan out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..models import Refund
from ..status import RefundStatus
from .state_machine import HELD_REFUND_STATUSES, UNSENT_OR_UNANSWERED


@dataclass(frozen=True)
class RefundRow:
    """What attribution needs of one ``paymux_refunds`` row."""

    id: int
    reference: str | None
    provider_id: str | None
    amount: int
    status: str
    updated_at: datetime


@dataclass
class Attribution:
    reports: list[Refund] = field(default_factory=list)
    """Provider refunds to record: each names a row of ours by id or reference, or none of
    ours can be it (a refund made elsewhere, e.g. in the provider's dashboard)."""
    release: list[int] = field(default_factory=list)
    """Held rows the provider's complete list does not hold, held long enough: failed."""
    unattributed: list[str] = field(default_factory=list)
    """Why a provider refund or total could not be attributed (one flag each)."""


def _claimant(rows: Sequence[RefundRow], refund: Refund) -> RefundRow | None:
    by_id = next((r for r in rows if r.provider_id == refund.id), None)
    if by_id is not None:
        return by_id
    if refund.reference is not None:
        return next((r for r in rows if r.reference == refund.reference), None)
    return None


def _could_be(row: RefundRow, refund: Refund) -> bool:
    """Whether an anonymous provider refund might be this row (never proof that it is)."""
    return (
        row.status in UNSENT_OR_UNANSWERED
        and row.provider_id is None
        and row.amount == refund.amount.amount
        and (refund.reference is None or refund.reference == row.reference)
    )


def attribute(
    rows: Sequence[RefundRow],
    listed: Sequence[Refund] | None,
    *,
    provider_refunded: int,
    now: datetime,
    release_after: timedelta,
    confirmed: int | None = None,
    asking: int | None = None,
) -> Attribution:
    """Plan what a poll's refund information does to the ledger's refund rows of one charge.

    ``listed`` is the provider's complete refund list (``Charge.refunds``), or None when the
    answer gave only ``provider_refunded``, the provider's total. ``confirmed`` is a row the
    provider has just said it holds under the row's reference (ECommPay's 3230 "such
    merchant_refund_id already exists"); ``asking`` is a row about to be sent again with its
    reference, which will settle it either way, so it raises no flag now.
    """
    plan = Attribution()
    held = [r for r in rows if r.status in HELD_REFUND_STATUSES]
    if listed is None:
        attributed = sum(r.amount for r in rows if r.status == RefundStatus.SUCCEEDED.value)
        if provider_refunded > attributed and held:
            plan.unattributed.append(
                f"the provider reports {provider_refunded} refunded without naming the refunds;"
                f" {attributed} is attributed, so {len(held)} held refund(s) stay held"
            )
        return plan
    claimed: set[int] = set()
    unnamed: list[Refund] = []
    for refund in listed:
        row = _claimant(rows, refund)
        if row is None:
            unnamed.append(refund)
        else:
            claimed.add(row.id)
            plan.reports.append(refund)
    sure = next((r for r in rows if r.id == confirmed and r.id not in claimed), None)
    if sure is not None and len(unnamed) == 1 and _could_be(sure, unnamed[0]):
        # The provider holds a refund under this row's reference, and every listed refund but
        # one is another row's: that one is this row's. A deduction from names, not amounts.
        plan.reports.append(unnamed.pop().model_copy(update={"reference": sure.reference}))
        claimed.add(sure.id)
    ambiguous: set[int] = set()
    for refund in unnamed:
        suspects = [r for r in rows if r.id not in claimed and _could_be(r, refund)]
        if not suspects:
            plan.reports.append(refund)
            continue
        # The provider holds a refund with no id or reference of ours: it may be a held refund
        # whose answer was lost. Guessing which (by amount or age) could credit the wrong one,
        # so every candidate stays held until a callback or a retry names it.
        ambiguous.update(r.id for r in suspects)
        if not any(r.id == asking for r in suspects):
            plan.unattributed.append(
                f"provider refund {refund.id} ({refund.amount}, {refund.status.value}) names no"
                f" refund of the ledger; {len(suspects)} held refund(s) could be it"
            )
    for row in held:
        if (
            row.id not in claimed
            and row.id not in ambiguous
            and row.status in UNSENT_OR_UNANSWERED
            # A refund id means the provider acknowledged it: absent from its list is odd, not
            # proof of anything, so such a row waits for a callback or an operator.
            and row.provider_id is None
            and now - row.updated_at >= release_after
        ):
            plan.release.append(row.id)
    return plan
