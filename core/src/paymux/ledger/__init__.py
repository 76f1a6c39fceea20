"""The ledger: durable charge state, webhook application, refunds and reconciliation.

Needs the ``ledger`` extra (SQLAlchemy); PostgreSQL also needs ``postgres`` (psycopg 3).
"""

from __future__ import annotations

from ..errors import LedgerError
from .ledger import AsyncLedger, Ledger
from .queries import Page, RefundRow
from .records import Entry, EventRecord, Flag, ReconcileReport, RefundRecord, WebhookResult
from .schema import SCHEMA_VERSION
from .state_machine import (
    TRANSITIONS,
    CreateState,
    FlagKind,
    RefundRowStatus,
    State,
    Verdict,
    apply,
)
from .store import ConcurrentUpdate

__all__ = [
    "SCHEMA_VERSION",
    "TRANSITIONS",
    "AsyncLedger",
    "ConcurrentUpdate",
    "CreateState",
    "Entry",
    "EventRecord",
    "Flag",
    "FlagKind",
    "Ledger",
    "LedgerError",
    "Page",
    "ReconcileReport",
    "RefundRecord",
    "RefundRow",
    "RefundRowStatus",
    "State",
    "Verdict",
    "WebhookResult",
    "apply",
]
