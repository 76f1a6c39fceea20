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

The other states the ledger keeps in its rows are here too, as enums whose values are what the
database holds (schema v2): a create's progress, a refund row's status, a flag's kind, where an
event row came from and what it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from ..status import ChargeStatus

Status = ChargeStatus

_FAILED_FINALS = frozenset({Status.FAILED, Status.EXPIRED, Status.CANCELED})
_PAID = frozenset({Status.SUCCEEDED, Status.PARTIALLY_REFUNDED, Status.REFUNDED})

TRANSITIONS: Mapping[ChargeStatus, frozenset[ChargeStatus]] = {
    Status.PENDING: frozenset({Status.REQUIRES_ACTION, *_PAID, *_FAILED_FINALS}),
    Status.REQUIRES_ACTION: frozenset({*_PAID, *_FAILED_FINALS}),
    # Paid states move only as the refunded amount grows (see REFUND_GROWS).
    Status.SUCCEEDED: frozenset({Status.PARTIALLY_REFUNDED, Status.REFUNDED}),
    Status.PARTIALLY_REFUNDED: frozenset({Status.PARTIALLY_REFUNDED, Status.REFUNDED}),
    Status.REFUNDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.EXPIRED: frozenset(),
    Status.CANCELED: frozenset(),
}
"""Allowed ``from -> to`` moves. Anything else is stale (ignored) or a conflict (flagged)."""

REFUND_GROWS: frozenset[tuple[ChargeStatus, ChargeStatus]] = frozenset(
    {
        (Status.SUCCEEDED, Status.PARTIALLY_REFUNDED),
        (Status.SUCCEEDED, Status.REFUNDED),
        (Status.PARTIALLY_REFUNDED, Status.PARTIALLY_REFUNDED),
        (Status.PARTIALLY_REFUNDED, Status.REFUNDED),
    }
)
"""Moves allowed only when the refunded amount strictly grows."""

CONFLICTS: frozenset[tuple[ChargeStatus, ChargeStatus]] = frozenset(
    {(a, b) for a in _FAILED_FINALS for b in _PAID}
    | {(a, b) for a in _PAID for b in _FAILED_FINALS}
)
"""Reports that contradict a final outcome: money taken vs not taken. Flagged, never applied."""

RANK: Mapping[ChargeStatus, int] = {
    Status.PENDING: 0,
    Status.REQUIRES_ACTION: 1,
    Status.FAILED: 2,
    Status.EXPIRED: 2,
    Status.CANCELED: 2,
    Status.SUCCEEDED: 2,
    Status.PARTIALLY_REFUNDED: 3,
    Status.REFUNDED: 4,
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
    refunded = state.amount if state.status is Status.REFUNDED else state.refunded
    if refunded >= state.amount and state.amount > 0 and refunded > 0:
        status = Status.REFUNDED
    elif refunded > 0 and state.status is Status.SUCCEEDED:
        status = Status.PARTIALLY_REFUNDED
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
        Status.PARTIALLY_REFUNDED if refunded_total else Status.SUCCEEDED,
        current.amount,
        current.currency,
        refunded_total,
    )


# -- the states of the ledger's rows ----------------------------------------------------------


class CreateState(StrEnum):
    """Where a charge's create stands at the provider (``paymux_charges.create_state``)."""

    NEW = "new"
    """Nothing exists at the provider: the create may be sent."""
    SENDING = "sending"
    """A caller is sending it now, under a lease (``create_lease_until``)."""
    CREATED = "created"
    """The provider has the charge and the ledger knows its id."""
    UNKNOWN = "unknown"
    """The request may have arrived: it is looked up by reference before anything is resent."""
    REJECTED = "rejected"
    """The provider refused it and made nothing: it may be sent again."""


class RefundRowStatus(StrEnum):
    """A refund row's status (``paymux_refunds.status``): the provider's three, and two of the
    ledger's own for a refund whose answer it has not (yet) had."""

    RESERVED = "reserved"
    """Its amount is held while the provider is asked."""
    UNKNOWN = "unknown"
    """Sent, but the answer was lost: the provider may have refunded."""
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


HELD_REFUND_STATUSES = frozenset(
    {RefundRowStatus.RESERVED, RefundRowStatus.UNKNOWN, RefundRowStatus.PENDING}
)
"""Refund rows whose amount is spoken for: they may still succeed."""
UNSENT_OR_UNANSWERED = frozenset({RefundRowStatus.RESERVED, RefundRowStatus.UNKNOWN})
"""Held rows the provider never confirmed having: the only ones a poll may release."""


class FlagKind(StrEnum):
    """Why the ledger flagged a report for a human (``paymux_flags.kind``)."""

    CONFLICT = Verdict.CONFLICT.value
    MISMATCH = Verdict.MISMATCH.value
    OVER_REFUND = Verdict.OVER_REFUND.value
    REFUND_MISMATCH = "refund_mismatch"
    """A refund report in another currency or amount than the ledger's, or a remaining amount
    larger than the charge."""
    LATE_SUCCESS = "late_success"
    """A charge the merchant abandoned (``Ledger.cancel_charge``) was paid after all."""
    UNATTRIBUTED_REFUND = "unattributed_refund"
    """The provider's refunds cannot be matched to the ledger's by id or reference."""


class EventSource(StrEnum):
    """What told the ledger (``paymux_events.source``)."""

    WEBHOOK = "webhook"
    POLL = "poll"
    CREATE = "create"


class EventOutcome(StrEnum):
    """What a webhook or poll did to its charge (``paymux_events.outcome``); a create's answer
    stores its verdict instead when it changed nothing."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    FLAGGED = "flagged"
    ORPHAN = "orphan"
    """For a charge the ledger does not know yet: applied when it learns the charge's id."""
