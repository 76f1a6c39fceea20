"""Merging one provider report about a charge (or its refunded total) into the charge's row,
through the state machine; what a merge did is an :class:`Applied`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    bindparam,
    func,
    select,
)

from ..models import Charge
from ..status import RefundStatus
from .records import Flag
from .row_writes import WriteContext, bump, dump, flag_charge
from .rows import REFUND, state_of
from .state_machine import FlagKind, Outcome, State, Verdict, apply, refund_state
from .store import Statement

log = logging.getLogger("paymux.ledger")


@dataclass
class Applied:
    row: Row[Any]
    changed: bool
    verdict: Verdict
    flags: list[Flag]
    pending: dict[str, Any] | None = None
    """Values for the charge row not written yet (``defer``): the caller writes them together
    with the event row."""


def report_charge(
    conn: Connection,
    ctx: WriteContext,
    row: Row[Any],
    charge: Charge,
    *,
    event_id: str | None,
    defer: bool = False,
) -> Applied:
    """Merge one provider report about ``row``'s charge. ``row`` is locked by the caller.
    ``defer``: leave the row's update to the caller (``Applied.pending``)."""
    if row.provider_id is not None and row.provider_id != charge.id:
        detail = f"report about provider charge {charge.id}, the ledger holds {row.provider_id}"
        conflict = flag_charge(conn, ctx, row, FlagKind.CONFLICT, detail, event_id=event_id)
        return Applied(row, False, Verdict.CONFLICT, conflict)
    assert charge.refunded_amount is not None
    incoming = State(
        charge.status,
        charge.amount.amount,
        charge.amount.currency,
        charge.refunded_amount.amount
        if charge.refunded_amount.currency == charge.amount.currency
        else 0,
    )
    outcome: Outcome = apply(state_of(row), incoming)
    flags = _flag_refusal(conn, ctx, row, outcome, event_id)
    if outcome.changed and outcome.state.status.is_paid and row.abandoned_at is not None:
        # The merchant gave this charge up (Ledger.cancel_charge, no provider cancel) and may
        # have sold the goods another way: the payment is kept, and a human must know.
        detail = f"paid ({outcome.state.status.value}) after it was abandoned"
        flags += flag_charge(conn, ctx, row, FlagKind.LATE_SUCCESS, detail, event_id=event_id)
    values: dict[str, Any] = {}
    if row.provider_id is None:
        values["provider_id"] = charge.id
    take_snapshot = (
        outcome.changed
        or row.snapshot is None
        or (outcome.verdict is Verdict.SAME and not outcome.state.status.is_final)
    )
    if take_snapshot and not outcome.verdict.flagged:
        values["snapshot"] = dump(charge)
    if outcome.changed:
        values["status"] = outcome.state.status.value
        values["refunded"] = outcome.state.refunded
    if outcome.changed:
        log.info("ledger %s: %s -> %s", row.reference, row.status, outcome.state.status.value)
    if values and defer:
        return Applied(row, outcome.changed, outcome.verdict, flags, pending=values)
    if values:
        row = bump(conn, ctx, row, **values)
    return Applied(row, outcome.changed, outcome.verdict, flags)


def _flag_refusal(
    conn: Connection, ctx: WriteContext, row: Row[Any], outcome: Outcome, event_id: str | None
) -> list[Flag]:
    """The flag for a report the state machine refused to apply silently (its verdict names the
    kind), or none."""
    if not outcome.verdict.flagged:
        return []
    kind = FlagKind(outcome.verdict.value)
    return flag_charge(conn, ctx, row, kind, outcome.detail, event_id=event_id)


_REFUND_TOTAL = Statement(
    lambda _dialect: select(func.coalesce(func.sum(REFUND.amount), 0).label("total")).where(
        REFUND.charge_reference == bindparam("w_reference"),
        REFUND.status == RefundStatus.SUCCEEDED.value,
    )
)


def _refund_total(conn: Connection, reference: str) -> int:
    return int(_REFUND_TOTAL.first(conn, {"w_reference": reference}).total)


def settle_refunds(
    conn: Connection,
    ctx: WriteContext,
    row: Row[Any],
    *,
    event_id: str | None,
    stated: int = 0,
    defer: bool = False,
    succeeded_total: int | None = None,
) -> Applied:
    """Fold the successful refund rows, and a cumulative refunded amount the provider
    ``stated``, into the charge state (the larger wins, as with every report). ``defer``: leave
    the row's update to the caller (``Applied.pending``). ``succeeded_total``: the rows' sum,
    when the caller already knows it in this transaction (under the charge's lock)."""
    if succeeded_total is None:
        succeeded_total = _refund_total(conn, row.reference)
    total = max(succeeded_total, stated)
    if total == 0:
        return Applied(row, False, Verdict.SAME, [])
    current = state_of(row)
    outcome = apply(current, refund_state(current, total))
    flags = _flag_refusal(conn, ctx, row, outcome, event_id)
    if outcome.changed:
        values = {"status": outcome.state.status.value, "refunded": outcome.state.refunded}
        if defer:
            return Applied(row, True, outcome.verdict, flags, pending=values)
        row = bump(conn, ctx, row, **values)
    return Applied(row, outcome.changed, outcome.verdict, flags)
