"""The charge state machine, written as data.

A charge's ledger state is its status plus the amount refunded so far. Events (webhooks, polls,
create answers, refunds) each carry what the provider reported; :func:`apply` merges one into the
current state. The merge is a *join*: the result does not depend on the order or the number of
times events arrive, which is what makes out-of-order and duplicated delivery converge:

* open states move forward only (``pending -> requires_action -> final``);
* final states never move, except paid ones, whose refunded amount may only grow and never past
  the charge (``succeeded -> partially_refunded -> refunded``);
* a report whose amount or currency differs from the charge, or that refunds more than was
  charged, or that contradicts a final outcome (paid vs not paid), is not applied: it is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from ..status import ChargeStatus

S = ChargeStatus

_FAILED_FINALS = frozenset({S.FAILED, S.EXPIRED, S.CANCELED})
_PAID = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED})

TRANSITIONS: Mapping[ChargeStatus, frozenset[ChargeStatus]] = {
    S.PENDING: frozenset({S.REQUIRES_ACTION, *_PAID, *_FAILED_FINALS}),
    S.REQUIRES_ACTION: frozenset({*_PAID, *_FAILED_FINALS}),
    # Paid states move only as the refunded amount grows (see REFUND_GROWS).
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELED: frozenset(),
}
"""Allowed ``from -> to`` moves. Anything else is stale (ignored) or a conflict (flagged)."""

REFUND_GROWS: frozenset[tuple[ChargeStatus, ChargeStatus]] = frozenset(
    {
        (S.SUCCEEDED, S.PARTIALLY_REFUNDED),
        (S.SUCCEEDED, S.REFUNDED),
        (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED),
        (S.PARTIALLY_REFUNDED, S.REFUNDED),
    }
)
"""Moves allowed only when the refunded amount strictly grows."""

CONFLICTS: frozenset[tuple[ChargeStatus, ChargeStatus]] = frozenset(
    {(a, b) for a in _FAILED_FINALS for b in _PAID}
    | {(a, b) for a in _PAID for b in _FAILED_FINALS}
)
"""Reports that contradict a final outcome: money taken vs not taken. Flagged, never applied."""

RANK: Mapping[ChargeStatus, int] = {
    S.PENDING: 0,
    S.REQUIRES_ACTION: 1,
    S.FAILED: 2,
    S.EXPIRED: 2,
    S.CANCELED: 2,
    S.SUCCEEDED: 2,
    S.PARTIALLY_REFUNDED: 3,
    S.REFUNDED: 4,
}


class Verdict(StrEnum):
    APPLIED = "applied"
    """The state moved forward."""
    SAME = "same"
    """The report says what the ledger already knows (a duplicate in content)."""
    STALE = "stale"
    """The report is older than the state (arrived out of order): ignored."""
    CONFLICT = "conflict"
    """The report contradicts a final outcome: flagged, not applied."""
    MISMATCH = "mismatch"
    """Amount or currency differ from the charge: flagged, not applied."""
    OVER_REFUND = "over_refund"
    """The refunded amount would exceed the charge: flagged, not applied."""

    @property
    def flagged(self) -> bool:
        return self in (Verdict.CONFLICT, Verdict.MISMATCH, Verdict.OVER_REFUND)


@dataclass(frozen=True)
class State:
    """A charge as the state machine sees it (amounts in minor units)."""

    status: ChargeStatus
    amount: int
    currency: str
    refunded: int = 0


@dataclass(frozen=True)
class Outcome:
    state: State
    verdict: Verdict
    detail: str = ""

    @property
    def changed(self) -> bool:
        return self.verdict is Verdict.APPLIED


def _normalized(state: State) -> State:
    """Paid states are determined by the refunded amount (``refunded`` means all of it)."""
    if state.status not in _PAID:
        return replace(state, refunded=0) if state.refunded else state
    refunded = state.amount if state.status is S.REFUNDED else state.refunded
    if refunded >= state.amount and state.amount > 0 and refunded > 0:
        status = S.REFUNDED
    elif refunded > 0 and state.status is S.SUCCEEDED:
        status = S.PARTIALLY_REFUNDED
    else:
        status = state.status
    return replace(state, status=status, refunded=refunded)


def apply(current: State, incoming: State) -> Outcome:
    """Merge what the provider reported (``incoming``) into ``current``."""
    if (incoming.amount, incoming.currency) != (current.amount, current.currency):
        return Outcome(
            current,
            Verdict.MISMATCH,
            f"reported {incoming.amount} {incoming.currency}, charge is"
            f" {current.amount} {current.currency}",
        )
    if incoming.refunded > current.amount:
        return Outcome(
            current,
            Verdict.OVER_REFUND,
            f"reported {incoming.refunded} refunded of a {current.amount} {current.currency} charge",
        )
    new = _normalized(incoming)
    if new == current:
        return Outcome(current, Verdict.SAME)
    pair = (current.status, new.status)
    if pair in CONFLICTS:
        return Outcome(
            current, Verdict.CONFLICT, f"reported {new.status} for a {current.status} charge"
        )
    if current.status in _PAID and new.status in _PAID:
        # The join: the larger refunded amount wins, wherever it came from.
        merged = _normalized(replace(current, refunded=max(current.refunded, new.refunded)))
        if (current.status, merged.status) in REFUND_GROWS and merged.refunded > current.refunded:
            return Outcome(merged, Verdict.APPLIED)
        return Outcome(current, Verdict.STALE, f"{new.status} ({new.refunded} refunded) is behind")
    if new.status in TRANSITIONS[current.status]:
        return Outcome(new, Verdict.APPLIED)
    return Outcome(current, Verdict.STALE, f"{new.status} cannot follow {current.status}")


def refund_state(current: State, refunded_total: int) -> State:
    """What a set of successful refunds (``refunded_total``) says about the charge."""
    return State(
        S.PARTIALLY_REFUNDED if refunded_total else S.SUCCEEDED,
        current.amount,
        current.currency,
        refunded_total,
    )
