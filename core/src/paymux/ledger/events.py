"""A verified webhook event in one transaction: find (or adopt) its charge, lock it, merge,
record and dedupe; events for a charge the ledger does not know yet wait as orphans. Locks are
taken in the ledger's one lock order (see ``row_writes``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    select,
    update,
)

from ..models import Charge, WebhookEvent
from ..status import ChargeStatus
from . import schema
from .merge import Applied, report_charge
from .records import WebhookResult
from .refund_reports import report_refund
from .row_writes import (
    WriteContext,
    bump_recording,
    dump,
    event_values,
    insert_ignore,
    record_event,
)
from .rows import EVENT, as_stored, charge_of, charge_row, charge_row_by_id, merged
from .state_machine import CreateState, EventOutcome, EventSource, Verdict
from .store import Rollback, to_db

log = logging.getLogger("paymux.ledger")


def _apply_event_to(
    conn: Connection, ctx: WriteContext, row: Row[Any], event: WebhookEvent, *, defer: bool = False
) -> Applied:
    """Apply ``event`` to the locked ``row``. ``defer``: a charge-only event's update of the row
    is left to the caller (``Applied.pending``)."""
    changed, flags = False, []
    verdict = Verdict.SAME
    pending = None
    if event.charge is not None:
        got = report_charge(
            conn, ctx, row, event.charge, event_id=event.id, defer=defer and event.refund is None
        )
        row, changed, verdict, flags = got.row, got.changed, got.verdict, got.flags
        pending = got.pending
    if event.refund is not None:
        got = report_refund(
            conn,
            ctx,
            row,
            event.refund,
            event_id=event.id,
            remaining=event.remaining_amount,
            defer=defer,
        )
        pending = got.pending
        row, flags = got.row, flags + got.flags
        if got.changed or got.verdict.flagged or event.charge is None:
            verdict = got.verdict if not changed else verdict
        changed = changed or got.changed
    return Applied(row, changed, verdict, flags, pending)


def _event_charge_id(event: WebhookEvent) -> str | None:
    if event.charge is not None:
        return event.charge.id
    return event.refund.charge_id if event.refund is not None else None


def handle_event(conn: Connection, ctx: WriteContext, event: WebhookEvent) -> WebhookResult:
    """Find (or adopt) the charge and lock it, apply, record, dedupe. One transaction.

    The event row's insert is the dedupe: it comes last, and when it finds the event id taken,
    everything this transaction wrote is rolled back (:class:`Rollback`) and the answer is
    "duplicate". Two deliveries of one event at once both queue on the charge's lock; the second
    finds the first's row. (Checking first would cost a round trip on every event.)
    """
    charge_id = _event_charge_id(event)
    # The usual case, a charge whose id is known: its row lock serializes everything about it.
    row = charge_row_by_id(conn, event.provider, charge_id, lock=True) if charge_id else None
    # A charge learns its id under this lock (create, poll, here): once it is ours, nobody is
    # between "id unknown" and "id stored", so look again before concluding "unknown".
    if (
        row is None
        and charge_id is not None
        and ctx.store.advisory_lock(conn, f"{event.provider}:{charge_id}")
    ):
        row = charge_row_by_id(conn, event.provider, charge_id, lock=True)
    before = row
    reference = event.charge.reference if event.charge is not None else None
    by_reference = None
    if row is None and reference:
        by_reference = charge_row(conn, reference, lock=True)
        if by_reference is not None and by_reference.provider == event.provider:
            row = before = by_reference
    if row is None and event.charge is not None and reference and by_reference is None:
        row = _adopt(conn, ctx, event.charge)
        if row.provider != event.provider:
            row = None
    if row is None:
        recorded = record_event(
            conn,
            ctx,
            provider=event.provider,
            event_id=event.id,
            type_=event.type,
            source=EventSource.WEBHOOK,
            outcome=EventOutcome.ORPHAN,
            reference=None,
            charge_id=charge_id,
            status_after=None,
            payload=dump(event),
        )
        if not recorded:
            raise Rollback(_duplicate(conn, event, before))
        log.info(
            "ledger: %s event %s is for an unknown charge; kept for later", event.provider, event.id
        )
        return WebhookResult(event, None, False, False, "orphan")
    learns_id = row.provider_id is None
    applied = _apply_event_to(conn, ctx, row, event, defer=True)
    outcome = (
        EventOutcome.FLAGGED
        if applied.verdict.flagged
        else (EventOutcome.APPLIED if applied.changed else EventOutcome.UNCHANGED)
    )
    pending = applied.pending or {}
    event_row = event_values(
        ctx,
        provider=event.provider,
        event_id=event.id,
        type_=event.type,
        source=EventSource.WEBHOOK,
        outcome=outcome,
        reference=row.reference,
        charge_id=charge_id,
        status_after=pending.get("status", applied.row.status),
    )
    if pending:
        bumped = bump_recording(conn, ctx, applied.row, pending, event_row)
        if bumped is None:
            raise Rollback(_duplicate(conn, event, before))
        applied = replace(applied, row=bumped, pending=None)
    elif not insert_ignore(conn, ctx.store, schema.events, event_row):
        raise Rollback(_duplicate(conn, event, before))
    final_row = apply_orphans(conn, ctx, applied.row) if learns_id else applied.row
    written = pending.get("snapshot")
    charge: Charge | None
    if event.charge is not None and written is not None and final_row.snapshot == written:
        charge = merged(as_stored(event.charge), final_row)  # the snapshot is dump(event.charge)
    else:
        charge = charge_of(final_row)
    return WebhookResult(
        event,
        charge,
        applied.changed or final_row.version != applied.row.version,
        False,
        "applied" if applied.changed else applied.verdict.value,
        tuple(applied.flags),
    )


def _duplicate(conn: Connection, event: WebhookEvent, before: Row[Any] | None) -> WebhookResult:
    """The answer to an event seen before, with the charge as it was before this transaction
    (``before``: locked, unchanged until the rollback) or as the first delivery recorded it."""
    seen = conn.execute(
        select(EVENT.charge_reference).where(
            EVENT.provider == event.provider, EVENT.event_id == event.id
        )
    ).first()
    existing = before
    recorded_for = seen.charge_reference if seen is not None else None
    if recorded_for is not None and (before is None or before.reference != recorded_for):
        existing = charge_row(conn, recorded_for)
    return WebhookResult(event, charge_of(existing) if existing else None, False, True, "duplicate")


def _adopt(conn: Connection, ctx: WriteContext, charge: Charge) -> Row[Any]:
    """Start tracking a charge created outside this ledger (the provider told us about it)."""
    assert charge.reference is not None
    # Another instance may adopt the same charge at the same moment: first insert wins.
    insert_ignore(
        conn,
        ctx.store,
        schema.charges,
        {
            # provider_id is set by the report that follows, which also replays orphan events.
            "reference": charge.reference,
            "provider": charge.provider,
            "provider_id": None,
            "method": charge.method,
            "amount": charge.amount.amount,
            "currency": charge.amount.currency,
            "status": ChargeStatus.PENDING.value,
            "refunded": 0,
            "create_state": CreateState.CREATED,
            "snapshot": None,
            "flag_count": 0,
            "version": 1,
            "created_at": to_db(ctx.now),
            "updated_at": to_db(ctx.now),
        },
    )
    row = charge_row(conn, charge.reference, lock=True)
    assert row is not None
    return row


def apply_orphans(conn: Connection, ctx: WriteContext, row: Row[Any]) -> Row[Any]:
    if row.provider_id is None:
        return row
    orphans = conn.execute(
        select(schema.events)
        .where(
            EVENT.provider == row.provider,
            EVENT.charge_id == row.provider_id,
            EVENT.outcome == EventOutcome.ORPHAN,
        )
        .order_by(EVENT.received_at)
    ).all()
    for orphan in orphans:
        event = WebhookEvent.model_validate_json(orphan.payload)
        applied = _apply_event_to(conn, ctx, row, event)
        row = applied.row
        conn.execute(
            update(schema.events)
            .where(EVENT.provider == orphan.provider, EVENT.event_id == orphan.event_id)
            .values(
                charge_reference=row.reference,
                status_after=row.status,
                outcome=EventOutcome.FLAGGED
                if applied.verdict.flagged
                else (EventOutcome.APPLIED if applied.changed else EventOutcome.UNCHANGED),
            )
        )
    return row
