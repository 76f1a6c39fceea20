"""What the ledger answers with, beyond the core's ``Charge`` and ``Refund``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..models import Charge, WebhookEvent
from ..money import Money
from .state_machine import CreateState, FlagKind, RefundRowStatus


@dataclass(frozen=True)
class Flag:
    """Something the ledger refused to apply silently and wants a human to look at.

    ``kind`` is ``mismatch`` (amount or currency differ from the charge), ``over_refund``
    (refunds beyond the charge), ``conflict`` (a report contradicts a final outcome),
    ``refund_mismatch`` (a refund event in another currency or for an unknown amount) or
    ``unattributed_refund`` (the provider reports a refund, or a refunded total, that names none
    of the ledger's refunds while a held one could be it: nothing is credited on a guess) or
    ``late_success`` (a charge given up with ``Ledger.cancel_charge`` was paid after all).
    """

    kind: FlagKind
    detail: str
    provider: str
    reference: str | None
    event_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class EventRecord:
    """One report the ledger received: a webhook, a poll, the create answer or a refund."""

    provider: str
    event_id: str
    type: str
    source: str
    outcome: str
    status_after: str | None
    received_at: datetime


@dataclass(frozen=True)
class RefundRecord:
    reference: str | None
    provider_id: str | None
    amount: Money
    status: RefundRowStatus
    reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Entry:
    """Everything the ledger holds about one charge (``paymux ledger show``)."""

    reference: str
    provider: str
    provider_id: str | None
    charge: Charge | None
    """None until the provider has accepted the charge (see ``create_state``)."""
    amount: Money
    refunded: Money
    status: str
    create_state: CreateState
    create_error: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    checked_at: datetime | None
    flags: tuple[Flag, ...] = ()
    refunds: tuple[RefundRecord, ...] = ()
    events: tuple[EventRecord, ...] = ()
    abandoned_at: datetime | None = None
    """When ``Ledger.cancel_charge`` gave the charge up locally (its provider has no cancel)."""


@dataclass(frozen=True)
class WebhookResult:
    """What ``handle_webhook`` did with one verified event."""

    event: WebhookEvent
    charge: Charge | None
    """The charge after the event, applied or not (None for an event about a charge the ledger
    does not know yet: it is kept and applied when the charge appears)."""
    changed: bool
    duplicate: bool
    """The event id was seen before: nothing was done."""
    verdict: str
    """``applied`` | ``same`` | ``stale`` | ``conflict`` | ``mismatch`` | ``over_refund`` |
    ``duplicate`` | ``orphan``."""
    flags: tuple[Flag, ...] = ()


@dataclass
class ReconcileReport:
    """The outcome of one ``reconcile`` run."""

    checked: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    """Stale by ``older_than`` but younger than the provider's own reconcile time."""
    flagged: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    """reference -> what went wrong (already redacted by the gateway)."""
    transitions: list[tuple[str, str, str]] = field(default_factory=list)
    """(reference, status before, status after) for each charge that moved."""
