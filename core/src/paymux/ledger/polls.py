"""What a look-up at the provider (reconcile, refresh, the look-ups of a cancel or a resent
refund) changes: the charge's state and its held refunds; and which charges reconcile should look
at next.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Row,
    func,
    or_,
    select,
    update,
)

from ..models import Charge
from . import schema
from .events import apply_orphans
from .merge import Applied, report_charge
from .records import Flag
from .refund_reports import report_refund
from .refunds import RefundRow, attribute
from .row_writes import WriteContext, bump, flag_charge, record_event
from .rows import CHARGE, OPEN, REFUND, charge_of, charge_row
from .state_machine import (
    HELD_REFUND_STATUSES,
    UNSENT_OR_UNANSWERED,
    CreateState,
    EventOutcome,
    EventSource,
    FlagKind,
    RefundRowStatus,
    Verdict,
)
from .store import from_db, to_db, when

log = logging.getLogger("paymux.ledger")


class PollResult(NamedTuple):
    """What applying a poll's answer did."""

    charge: Charge | None
    """The charge as the ledger now shows it (None: the ledger has no such charge)."""
    changed: bool
    verdict: str
    """The state machine's verdict on the report (``unknown`` when there was no row)."""
    flags: tuple[Flag, ...]


def apply_poll(
    conn: Connection,
    ctx: WriteContext,
    reference: str,
    charge: Charge,
    *,
    confirmed_refund: int | None = None,
    asking_refund: int | None = None,
) -> PollResult:
    ctx.store.advisory_lock(conn, f"{charge.provider}:{charge.id}")
    row = charge_row(conn, reference, lock=True)
    if row is None:
        return PollResult(None, False, "unknown", ())
    before = row.status
    applied = report_charge(conn, ctx, row, charge, event_id=None)
    row = applied.row
    values: dict[str, Any] = {"checked_at": to_db(ctx.now)}
    if row.create_state != CreateState.CREATED:
        values.update(create_state=CreateState.CREATED, create_lease_until=None, create_error=None)
    bump(conn, ctx, row, **values)
    row = charge_row(conn, reference)
    assert row is not None
    if applied.changed or applied.verdict.flagged:
        record_event(
            conn,
            ctx,
            provider=row.provider,
            event_id=f"poll:{uuid.uuid4().hex}",
            type_=f"poll:{before}->{row.status}",
            source=EventSource.POLL,
            outcome=EventOutcome.FLAGGED if applied.verdict.flagged else EventOutcome.APPLIED,
            reference=reference,
            charge_id=charge.id,
            status_after=row.status,
        )
    row = apply_orphans(conn, ctx, row)
    settled = _settle_held_refunds(
        conn, ctx, row, charge, confirmed=confirmed_refund, asking=asking_refund
    )
    return PollResult(
        charge_of(settled.row),
        applied.changed or settled.changed,
        applied.verdict.value,
        tuple(applied.flags) + tuple(settled.flags),
    )


def _settle_held_refunds(
    conn: Connection,
    ctx: WriteContext,
    row: Row[Any],
    charge: Charge,
    *,
    confirmed: int | None = None,
    asking: int | None = None,
) -> Applied:
    """Read a poll's refunds one by one, matched by refund id or reference (see ``refunds``).

    A refund whose answer was lost and whose webhook never came is held as ``unknown``; only a
    poll can tell whether it went through, and only if the provider names it.
    """
    rows = conn.execute(
        select(schema.refunds).where(REFUND.charge_reference == row.reference).order_by(REFUND.id)
    ).all()
    assert charge.refunded_amount is not None
    plan = attribute(
        [
            RefundRow(r.id, r.reference, r.provider_id, r.amount, r.status, when(r.updated_at))
            for r in rows
        ],
        charge.refunds,
        provider_refunded=charge.refunded_amount.amount,
        now=ctx.now,
        release_after=ctx.refund_release_after,
        confirmed=confirmed,
        asking=asking,
    )
    flags: list[Flag] = []
    for detail in plan.unattributed:
        flags += flag_charge(conn, ctx, row, FlagKind.UNATTRIBUTED_REFUND, detail, event_id=None)
    changed = False
    if plan.release:
        log.warning(
            "ledger %s: %d held refund(s) never reached %s; released as failed",
            row.reference,
            len(plan.release),
            row.provider,
        )
        conn.execute(
            update(schema.refunds)
            .where(REFUND.id.in_(plan.release), REFUND.status.in_(UNSENT_OR_UNANSWERED))
            .values(status=RefundRowStatus.FAILED, updated_at=to_db(ctx.now))
        )
        changed = True
    for refund in plan.reports:
        got = report_refund(conn, ctx, row, refund, event_id=None)
        row, changed, flags = got.row, changed or got.changed, flags + got.flags
    return Applied(row, changed, Verdict.APPLIED if changed else Verdict.SAME, flags)


def mark_checked(
    conn: Connection,
    ctx: WriteContext,
    reference: str,
    *,
    create_state: CreateState | None = None,
    error: str | None = None,
) -> None:
    row = charge_row(conn, reference, lock=True)
    if row is None:
        return
    values: dict[str, Any] = {"checked_at": to_db(ctx.now)}
    if create_state is not None and row.create_state != CreateState.CREATED:
        values.update(create_state=create_state, create_lease_until=None, create_error=error)
    conn.execute(update(schema.charges).where(CHARGE.reference == reference).values(**values))


@dataclass(frozen=True)
class Candidate:
    reference: str
    provider: str
    charge: Charge | None
    created_at: datetime
    create_state: str
    lease_until: datetime | None = None
    """Set while a caller is sending the create: a look-up may adopt, never conclude absence."""


def candidates(
    conn: Connection, ctx: WriteContext, older_than: timedelta, limit: int | None
) -> list[Candidate]:
    cutoff = to_db(ctx.now - older_than)
    last_news = func.coalesce(CHARGE.checked_at, CHARGE.updated_at)
    query = (
        select(schema.charges)
        .where(
            or_(
                CHARGE.status.in_(OPEN),
                # Paid, but a refund is still unsettled (its answer or webhook may be lost).
                CHARGE.reference.in_(
                    select(REFUND.charge_reference).where(
                        REFUND.status.in_(sorted(HELD_REFUND_STATUSES))
                    )
                ),
            ),
            last_news <= cutoff,
            # A create being sent is looked at too: its sender may have died after the provider
            # made the charge, and only a look-up can tell before the lease runs out.
            CHARGE.create_state.in_(
                (CreateState.CREATED, CreateState.UNKNOWN, CreateState.SENDING)
            ),
        )
        .order_by(CHARGE.created_at, CHARGE.reference)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        Candidate(
            r.reference,
            r.provider,
            charge_of(r),
            when(r.created_at),
            r.create_state,
            from_db(r.create_lease_until) if r.create_state == CreateState.SENDING else None,
        )
        for r in conn.execute(query)
    ]
