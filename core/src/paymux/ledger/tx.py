"""The ledger's database transactions. Each function runs inside ``Store.write``/``read``.

Lock order, the same everywhere so transactions cannot deadlock each other: the advisory lock on
``(provider, charge id)`` first (PostgreSQL only), then the charge row (``FOR UPDATE``), then its
refund and event rows.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    Row,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..models import Charge, Refund, WebhookEvent
from ..money import Money
from ..status import ChargeStatus, RefundStatus
from . import schema
from .records import Entry, EventRecord, Flag, RefundRecord, WebhookResult
from .refunds import UNSENT_OR_UNANSWERED, RefundRow, attribute
from .state_machine import Outcome, State, Verdict, apply, refund_state
from .store import ConcurrentUpdate, Rollback, Statement, Store, from_db, to_db, when

log = logging.getLogger("paymux.ledger")

C = schema.charges.c
R = schema.refunds.c
E = schema.events.c
F = schema.flags.c

OPEN = (ChargeStatus.PENDING.value, ChargeStatus.REQUIRES_ACTION.value)
HELD_REFUNDS = ("reserved", "unknown", "pending")
"""Refund rows whose amount is spoken for: they may still succeed."""


@dataclass(frozen=True)
class Ctx:
    store: Store
    now: datetime
    refund_release_after: timedelta = timedelta(minutes=15)
    """How long a refund the provider shows no sign of having stays held before it is failed."""


def dump(model: Charge | Refund | WebhookEvent) -> str:
    """JSON for the database. ``raw`` payloads stay out: they may carry personal data.

    A charge's provider refund list stays out too: the refund rows are the ledger's record, and
    a snapshot's list would go stale beside them (``ledger.get`` answers ``refunds=None``).
    """
    if isinstance(model, WebhookEvent):
        return model.model_dump_json(
            exclude={"raw": True, "charge": {"raw", "refunds"}, "refund": {"raw"}}
        )
    if isinstance(model, Charge):
        return model.model_dump_json(exclude={"raw", "refunds"})
    return model.model_dump_json(exclude={"raw"})


# -- reading ----------------------------------------------------------------------------------


def state_of(row: Row[Any]) -> State:
    return State(ChargeStatus(row.status), row.amount, row.currency, row.refunded)


def charge_of(row: Row[Any]) -> Charge | None:
    """The ledger's view: the provider's last snapshot with the merged status and refunds."""
    if row.snapshot is None:
        return None
    return merged(Charge.model_validate_json(row.snapshot), row)


def as_stored(charge: Charge) -> Charge:
    """``charge`` as its snapshot (``dump``) reads back, without the JSON round trip: parsing
    the snapshot just written cost more CPU than the event's other work in the ledger.
    tests/ledger/test_ledger_snapshot_round_trip.py holds the two equal for any charge."""
    if charge.raw is None and charge.refunds is None:
        return charge
    return charge.model_copy(update={"raw": None, "refunds": None})


def merged(charge: Charge, row: Row[Any]) -> Charge:
    """``charge`` (the row's snapshot, parsed) with the row's status, refunds and metadata."""
    if not charge.metadata and row.charge_metadata:
        # The request's metadata, for a provider that keeps none (ECommPay).
        charge = charge.model_copy(update={"metadata": json.loads(row.charge_metadata)})
    status = ChargeStatus(row.status)
    refunded = charge.refunded_amount
    if (
        charge.status is status
        and refunded is not None
        and (refunded.amount, refunded.currency) == (row.refunded, row.currency)
        and (charge.next_action is None or not status.is_final)
    ):
        return charge  # the usual case: the snapshot was taken with the status it has
    update_: dict[str, Any] = {
        "status": status,
        "refunded_amount": Money(row.refunded, row.currency),
    }
    if status.is_final:
        update_["next_action"] = None
    return charge.model_copy(update=update_)


def _select_charge(*where: ColumnElement[bool], lock: bool) -> Statement:
    def build(_dialect: str) -> Executable:
        query = select(schema.charges).where(*where)
        return query.with_for_update() if lock else query

    return Statement(build)


_CHARGE_BY_REFERENCE = {
    lock: _select_charge(C.reference == bindparam("w_reference"), lock=lock)
    for lock in (False, True)
}
_CHARGE_BY_ID = {
    lock: _select_charge(
        C.provider == bindparam("w_provider"), C.provider_id == bindparam("w_charge_id"), lock=lock
    )
    for lock in (False, True)
}


def charge_row(conn: Connection, reference: str, *, lock: bool = False) -> Row[Any] | None:
    row = _CHARGE_BY_REFERENCE[lock].first(conn, {"w_reference": reference})
    return cast(Row[Any] | None, row)


def charge_row_by_id(
    conn: Connection, provider: str, charge_id: str, *, lock: bool = False
) -> Row[Any] | None:
    row = _CHARGE_BY_ID[lock].first(conn, {"w_provider": provider, "w_charge_id": charge_id})
    return cast(Row[Any] | None, row)


def flags_of(conn: Connection, reference: str | None = None) -> tuple[Flag, ...]:
    query = select(schema.flags).order_by(F.id)
    if reference is not None:
        query = query.where(F.charge_reference == reference)
    return tuple(
        Flag(r.kind, r.detail, r.provider, r.charge_reference, r.event_id, when(r.created_at))
        for r in conn.execute(query)
    )


def entry_of(conn: Connection, reference: str) -> Entry | None:
    row = charge_row(conn, reference)
    if row is None:
        return None
    refunds = tuple(
        RefundRecord(
            r.reference,
            r.provider_id,
            Money(r.amount, r.currency),
            r.status,
            r.reason,
            when(r.created_at),
            when(r.updated_at),
        )
        for r in conn.execute(
            select(schema.refunds).where(R.charge_reference == reference).order_by(R.id)
        )
    )
    events = tuple(
        EventRecord(
            e.provider,
            e.event_id,
            e.type,
            e.source,
            e.outcome,
            e.status_after,
            when(e.received_at),
        )
        for e in conn.execute(
            select(schema.events)
            .where(E.charge_reference == reference)
            .order_by(E.received_at, E.event_id)
        )
    )
    return Entry(
        reference=row.reference,
        provider=row.provider,
        provider_id=row.provider_id,
        charge=charge_of(row),
        amount=Money(row.amount, row.currency),
        refunded=Money(row.refunded, row.currency),
        status=row.status,
        create_state=row.create_state,
        create_error=row.create_error,
        version=row.version,
        created_at=when(row.created_at),
        updated_at=when(row.updated_at),
        checked_at=from_db(row.checked_at),
        abandoned_at=from_db(row.abandoned_at),
        flags=flags_of(conn, reference),
        refunds=refunds,
        events=events,
    )


# -- writing helpers --------------------------------------------------------------------------


_BUMPS: dict[tuple[str, ...], Statement] = {}
_INSERTS: dict[tuple[str, tuple[str, ...]], Statement] = {}
"""Statements by the columns they write, built on first use (a handful of shapes in all)."""


def _bump_statement(names: tuple[str, ...], _dialect: str) -> Executable:
    return (
        update(schema.charges)
        .where(C.reference == bindparam("w_reference"), C.version == bindparam("w_version"))
        .values({name: bindparam(f"v_{name}") for name in ("version", "updated_at", *names)})
        .returning(*schema.charges.c)
    )


def _bump(conn: Connection, ctx: Ctx, row: Row[Any], **values: Any) -> Row[Any]:
    """Update a locked charge row, compare-and-set on its version; the row as it is now."""
    names = tuple(sorted(values))
    statement = _BUMPS.get(names) or _BUMPS.setdefault(
        names, Statement(partial(_bump_statement, names))
    )
    params = {f"v_{name}": value for name, value in values.items()}
    params.update(
        w_reference=row.reference,
        w_version=row.version,
        v_version=row.version + 1,
        v_updated_at=to_db(ctx.now),
    )
    new = statement.first(conn, params)
    if new is None:
        raise ConcurrentUpdate(f"charge {row.reference} changed under a locked update")
    return cast(Row[Any], new)


def _insert_statement(table: Table, names: tuple[str, ...], dialect: str) -> Executable:
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    first_key = next(iter(table.primary_key.columns))
    # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT through SQLAlchemy.
    return (
        dialect_insert(table)
        .values({name: bindparam(f"v_{name}") for name in names})
        .on_conflict_do_nothing()
        .returning(first_key)
    )


def _insert_ignore(conn: Connection, store: Store, table: Table, values: dict[str, Any]) -> bool:
    """INSERT unless the primary key exists; True when a row was inserted."""
    key = (table.name, tuple(values))
    statement = _INSERTS.get(key) or _INSERTS.setdefault(
        key, Statement(partial(_insert_statement, table, key[1]))
    )
    return statement.first(conn, {f"v_{name}": v for name, v in values.items()}) is not None


def _flag(
    conn: Connection,
    ctx: Ctx,
    *,
    provider: str,
    reference: str | None,
    event_id: str | None,
    kind: str,
    detail: str,
) -> Flag | None:
    """Store a flag once per (charge, kind, detail): repeated polls must not pile them up."""
    exists = conn.execute(
        select(F.id).where(
            F.charge_reference == reference
            if reference is not None
            else F.charge_reference.is_(None),
            F.kind == kind,
            F.detail == detail,
        )
    ).first()
    if exists is not None:
        return None
    conn.execute(
        schema.flags.insert().values(
            charge_reference=reference,
            provider=provider,
            event_id=event_id,
            kind=kind,
            detail=detail,
            created_at=to_db(ctx.now),
        )
    )
    if reference is not None:
        conn.execute(
            update(schema.charges)
            .where(C.reference == reference)
            .values(flag_count=C.flag_count + 1)
        )
    log.warning("ledger flag on %s (%s): %s: %s", reference, provider, kind, detail)
    return Flag(kind, detail, provider, reference, event_id, ctx.now)


def _record_event(
    conn: Connection,
    ctx: Ctx,
    *,
    provider: str,
    event_id: str,
    type_: str,
    source: str,
    outcome: str,
    reference: str | None,
    charge_id: str | None,
    status_after: str | None,
    payload: str | None = None,
) -> bool:
    return _insert_ignore(
        conn,
        ctx.store,
        schema.events,
        _event_row(
            ctx,
            provider=provider,
            event_id=event_id,
            type_=type_,
            source=source,
            outcome=outcome,
            reference=reference,
            charge_id=charge_id,
            status_after=status_after,
            payload=payload,
        ),
    )


def _event_row(
    ctx: Ctx,
    *,
    provider: str,
    event_id: str,
    type_: str,
    source: str,
    outcome: str,
    reference: str | None,
    charge_id: str | None,
    status_after: str | None,
    payload: str | None = None,
) -> dict[str, Any]:
    return {
        "provider": provider,
        "event_id": event_id,
        "charge_reference": reference,
        "charge_id": charge_id,
        "type": type_,
        "source": source,
        "outcome": outcome,
        "status_after": status_after,
        "payload": payload,
        "received_at": to_db(ctx.now),
    }


_BUMPS_RECORDING: dict[tuple[tuple[str, ...], tuple[str, ...]], Statement] = {}


def _bump_recording_statement(
    names: tuple[str, ...], event_names: tuple[str, ...], _dialect: str
) -> Executable:
    recorded = (
        postgresql.insert(schema.events)
        .values({name: bindparam(f"e_{name}") for name in event_names})
        .on_conflict_do_nothing()
        .returning(E.event_id)
        .cte("recorded")
    )
    return (
        update(schema.charges)
        .where(
            C.reference == bindparam("w_reference"),
            C.version == bindparam("w_version"),
            select(recorded.c.event_id).exists(),
        )
        .values({name: bindparam(f"v_{name}") for name in ("version", "updated_at", *names)})
        .returning(*schema.charges.c)
    )


def _bump_recording(
    conn: Connection, ctx: Ctx, row: Row[Any], values: dict[str, Any], event: dict[str, Any]
) -> Row[Any] | None:
    """``_record_event`` then ``_bump``, the update only if the event row was new; None when the
    event id was taken (a duplicate). On PostgreSQL one statement (a WITH that inserts), which
    saves a round trip on every event that changes its charge."""
    if not ctx.store.is_postgres:
        if not _insert_ignore(conn, ctx.store, schema.events, event):
            return None
        return _bump(conn, ctx, row, **values)
    key = (tuple(sorted(values)), tuple(event))
    statement = _BUMPS_RECORDING.get(key) or _BUMPS_RECORDING.setdefault(
        key, Statement(partial(_bump_recording_statement, *key))
    )
    params = {f"v_{name}": value for name, value in values.items()}
    params.update({f"e_{name}": value for name, value in event.items()})
    params.update(
        w_reference=row.reference,
        w_version=row.version,
        v_version=row.version + 1,
        v_updated_at=to_db(ctx.now),
    )
    new = statement.first(conn, params)
    if new is not None:
        return cast(Row[Any], new)
    now = charge_row(conn, row.reference)
    if now is None or now.version != row.version:
        raise ConcurrentUpdate(f"charge {row.reference} changed under a locked update")
    return None


@dataclass
class _Applied:
    row: Row[Any]
    changed: bool
    verdict: Verdict
    flags: list[Flag]
    pending: dict[str, Any] | None = None
    """Values for the charge row not written yet (``defer``): the caller writes them together
    with the event row."""


def _report_charge(
    conn: Connection,
    ctx: Ctx,
    row: Row[Any],
    charge: Charge,
    *,
    event_id: str | None,
    defer: bool = False,
) -> _Applied:
    """Merge one provider report about ``row``'s charge. ``row`` is locked by the caller.
    ``defer``: leave the row's update to the caller (``_Applied.pending``)."""
    flags: list[Flag] = []
    if row.provider_id is not None and row.provider_id != charge.id:
        flag = _flag(
            conn,
            ctx,
            provider=row.provider,
            reference=row.reference,
            event_id=event_id,
            kind="conflict",
            detail=f"report about provider charge {charge.id}, the ledger holds {row.provider_id}",
        )
        return _Applied(row, False, Verdict.CONFLICT, [flag] if flag else [])
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
    if outcome.verdict.flagged:
        flag = _flag(
            conn,
            ctx,
            provider=row.provider,
            reference=row.reference,
            event_id=event_id,
            kind=outcome.verdict.value,
            detail=outcome.detail,
        )
        if flag:
            flags.append(flag)
    if outcome.changed and outcome.state.status.is_paid and row.abandoned_at is not None:
        # The merchant gave this charge up (Ledger.cancel_charge, no provider cancel) and may
        # have sold the goods another way: the payment is kept, and a human must know.
        flag = _flag(
            conn,
            ctx,
            provider=row.provider,
            reference=row.reference,
            event_id=event_id,
            kind="late_success",
            detail=f"paid ({outcome.state.status.value}) after it was abandoned",
        )
        if flag:
            flags.append(flag)
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
        return _Applied(row, outcome.changed, outcome.verdict, flags, pending=values)
    if values:
        row = _bump(conn, ctx, row, **values)
    return _Applied(row, outcome.changed, outcome.verdict, flags)


_REFUND_TOTAL = Statement(
    lambda _dialect: select(func.coalesce(func.sum(R.amount), 0).label("total")).where(
        R.charge_reference == bindparam("w_reference"),
        R.status == RefundStatus.SUCCEEDED.value,
    )
)


_REFUND_COLUMNS = (
    "charge_reference",
    "provider",
    "provider_id",
    "reference",
    "amount",
    "currency",
    "status",
    "snapshot",
    "created_at",
    "updated_at",
)


def _refund_of_charge(dialect: str, *, insert_missing: bool = False) -> Executable:
    """The refund a report is about, if the ledger has it, and the charge's succeeded total:
    one round trip where a refund report took two. Always one row (the refund's columns are
    null when there is none).

    ``insert_missing`` (PostgreSQL, whose WITH can insert): when there is none, the statement
    also inserts it from the ``v_`` parameters and answers ``inserted = 1``. It reads the
    refunds as they were before its insert, like the two statements it replaces."""
    total = (
        select(func.coalesce(func.sum(R.amount), 0).label("succeeded_total"))
        .where(
            R.charge_reference == bindparam("w_reference"),
            R.status == RefundStatus.SUCCEEDED.value,
        )
        .subquery("total")
    )
    match = (
        select(schema.refunds)
        .where(
            R.charge_reference == bindparam("w_reference"),
            or_(
                and_(
                    R.provider == bindparam("w_provider"), R.provider_id == bindparam("w_refund_id")
                ),
                and_(R.reference.is_not(None), R.reference == bindparam("w_refund_reference")),
            ),
        )
        .subquery("match")
    )
    query = select(total.c.succeeded_total, *match.c).select_from(total.outerjoin(match, true()))
    if not insert_missing:
        return query
    assert dialect == "postgresql"
    values = select(*(bindparam(f"v_{name}", type_=R[name].type) for name in _REFUND_COLUMNS))
    inserted = (
        schema.refunds.insert()
        .from_select(list(_REFUND_COLUMNS), values.where(~select(match.c.id).exists()))
        .returning(R.id)
        .cte("inserted")
    )
    count = select(func.count()).select_from(inserted).scalar_subquery().label("inserted")
    return query.add_columns(count)


_REFUND_OF_CHARGE = Statement(_refund_of_charge)
_REFUND_OF_CHARGE_OR_NEW = Statement(partial(_refund_of_charge, insert_missing=True))
_NEW_REFUND = Statement(
    lambda _dialect: (
        schema.refunds.insert()
        .values({name: bindparam(f"v_{name}") for name in _REFUND_COLUMNS})
        .returning(R.id)
    )
)


def _refund_total(conn: Connection, reference: str) -> int:
    return int(_REFUND_TOTAL.first(conn, {"w_reference": reference}).total)


def _settle_refunds(
    conn: Connection,
    ctx: Ctx,
    row: Row[Any],
    *,
    event_id: str | None,
    stated: int = 0,
    defer: bool = False,
    succeeded_total: int | None = None,
) -> _Applied:
    """Fold the successful refund rows, and a cumulative refunded amount the provider
    ``stated``, into the charge state (the larger wins, as with every report). ``defer``: leave
    the row's update to the caller (``_Applied.pending``). ``succeeded_total``: the rows' sum,
    when the caller already knows it in this transaction (under the charge's lock)."""
    if succeeded_total is None:
        succeeded_total = _refund_total(conn, row.reference)
    total = max(succeeded_total, stated)
    if total == 0:
        return _Applied(row, False, Verdict.SAME, [])
    current = state_of(row)
    outcome = apply(current, refund_state(current, total))
    flags: list[Flag] = []
    if outcome.verdict.flagged:
        flag = _flag(
            conn,
            ctx,
            provider=row.provider,
            reference=row.reference,
            event_id=event_id,
            kind=outcome.verdict.value,
            detail=outcome.detail,
        )
        flags += [flag] if flag else []
    if outcome.changed:
        values = {"status": outcome.state.status.value, "refunded": outcome.state.refunded}
        if defer:
            return _Applied(row, True, outcome.verdict, flags, pending=values)
        row = _bump(conn, ctx, row, **values)
    return _Applied(row, outcome.changed, outcome.verdict, flags)


_REFUND_ORDER = {"reserved": 0, "unknown": 0, "pending": 1, "succeeded": 2, "failed": 2}


def _report_refund(
    conn: Connection,
    ctx: Ctx,
    row: Row[Any],
    refund: Refund,
    *,
    event_id: str | None,
    remaining: Money | None = None,
    defer: bool = False,
) -> _Applied:
    """Record a refund report (webhook or the refund call's answer) and settle the charge.
    ``defer``: leave the charge row's update to the caller (``_Applied.pending``).

    ``remaining`` is what the provider says is left of the payment (``WebhookEvent.
    remaining_amount``): the charge's amount minus it is the provider's cumulative refunded
    amount, which counts refunds whose own reports are late or lost.
    """
    flags: list[Flag] = []
    if refund.amount.currency != row.currency:
        flag = _flag(
            conn,
            ctx,
            provider=row.provider,
            reference=row.reference,
            event_id=event_id,
            kind="refund_mismatch",
            detail=f"refund {refund.id} in {refund.amount.currency} for a {row.currency} charge",
        )
        return _Applied(row, False, Verdict.MISMATCH, [flag] if flag else [])
    status = refund.status.value
    match = {
        "w_reference": row.reference,
        "w_provider": row.provider,
        "w_refund_id": refund.id,
        "w_refund_reference": refund.reference,
    }
    new = {
        "v_charge_reference": row.reference,
        "v_provider": row.provider,
        "v_provider_id": refund.id,
        "v_reference": refund.reference,
        "v_amount": refund.amount.amount,
        "v_currency": refund.amount.currency,
        "v_status": status,
        "v_snapshot": dump(refund),
        "v_created_at": to_db(ctx.now),
        "v_updated_at": to_db(ctx.now),
    }
    if ctx.store.is_postgres:
        existing = _REFUND_OF_CHARGE_OR_NEW.first(conn, {**match, **new})
        inserted = bool(existing.inserted)
    else:
        existing = _REFUND_OF_CHARGE.first(conn, match)
        inserted = existing.id is None
        if inserted:
            _NEW_REFUND.first(conn, new)
    # Every refund row of a charge changes under the charge's lock, which the caller holds: the
    # total read here, plus what this report changes, is the total a new query would read.
    succeeded_total = int(existing.succeeded_total)
    succeeded = RefundStatus.SUCCEEDED.value
    changed = False
    if inserted:
        changed = True
        succeeded_total += refund.amount.amount if status == succeeded else 0
    else:
        values: dict[str, Any] = {}
        if existing.provider_id is None:
            values["provider_id"] = refund.id
        if existing.amount != refund.amount.amount:
            flag = _flag(
                conn,
                ctx,
                provider=row.provider,
                reference=row.reference,
                event_id=event_id,
                kind="refund_mismatch",
                detail=f"refund {refund.id} reported {refund.amount.amount}, asked {existing.amount}",
            )
            flags += [flag] if flag else []
        elif existing.status != status:
            if _REFUND_ORDER[status] > _REFUND_ORDER[existing.status]:
                values["status"] = status
                values["snapshot"] = dump(refund)
                changed = True
                # Never from succeeded (nothing ranks above it); amounts are equal here.
                succeeded_total += existing.amount if status == succeeded else 0
            elif {existing.status, status} == {"succeeded", "failed"}:
                flag = _flag(
                    conn,
                    ctx,
                    provider=row.provider,
                    reference=row.reference,
                    event_id=event_id,
                    kind="conflict",
                    detail=f"refund {refund.id} reported {status} after {existing.status}",
                )
                flags += [flag] if flag else []
        if values:
            conn.execute(
                update(schema.refunds)
                .where(R.id == existing.id)
                .values(updated_at=to_db(ctx.now), **values)
            )
    stated = 0
    if remaining is not None and remaining.currency == row.currency:
        if remaining.amount > row.amount:
            flag = _flag(
                conn,
                ctx,
                provider=row.provider,
                reference=row.reference,
                event_id=event_id,
                kind="refund_mismatch",
                detail=f"{remaining} left of a {Money(row.amount, row.currency)} charge",
            )
            flags += [flag] if flag else []
        elif ChargeStatus(row.status).is_paid:
            stated = row.amount - remaining.amount
    settled = _settle_refunds(
        conn,
        ctx,
        row,
        event_id=event_id,
        stated=stated,
        defer=defer,
        succeeded_total=succeeded_total,
    )
    verdict = Verdict.APPLIED if (changed or settled.changed) else settled.verdict
    return _Applied(
        settled.row, changed or settled.changed, verdict, flags + settled.flags, settled.pending
    )


# -- events -----------------------------------------------------------------------------------


def _apply_event_to(
    conn: Connection, ctx: Ctx, row: Row[Any], event: WebhookEvent, *, defer: bool = False
) -> _Applied:
    """Apply ``event`` to the locked ``row``. ``defer``: a charge-only event's update of the row
    is left to the caller (``_Applied.pending``)."""
    changed, flags = False, []
    verdict = Verdict.SAME
    pending = None
    if event.charge is not None:
        got = _report_charge(
            conn, ctx, row, event.charge, event_id=event.id, defer=defer and event.refund is None
        )
        row, changed, verdict, flags = got.row, got.changed, got.verdict, got.flags
        pending = got.pending
    if event.refund is not None:
        got = _report_refund(
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
    return _Applied(row, changed, verdict, flags, pending)


def _event_charge_id(event: WebhookEvent) -> str | None:
    if event.charge is not None:
        return event.charge.id
    return event.refund.charge_id if event.refund is not None else None


def handle_event(conn: Connection, ctx: Ctx, event: WebhookEvent) -> WebhookResult:
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
        recorded = _record_event(
            conn,
            ctx,
            provider=event.provider,
            event_id=event.id,
            type_=event.type,
            source="webhook",
            outcome="orphan",
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
        "flagged" if applied.verdict.flagged else ("applied" if applied.changed else "unchanged")
    )
    pending = applied.pending or {}
    event_row = _event_row(
        ctx,
        provider=event.provider,
        event_id=event.id,
        type_=event.type,
        source="webhook",
        outcome=outcome,
        reference=row.reference,
        charge_id=charge_id,
        status_after=pending.get("status", applied.row.status),
    )
    if pending:
        bumped = _bump_recording(conn, ctx, applied.row, pending, event_row)
        if bumped is None:
            raise Rollback(_duplicate(conn, event, before))
        applied = replace(applied, row=bumped, pending=None)
    elif not _insert_ignore(conn, ctx.store, schema.events, event_row):
        raise Rollback(_duplicate(conn, event, before))
    final_row = _apply_orphans(conn, ctx, applied.row) if learns_id else applied.row
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
        select(E.charge_reference).where(E.provider == event.provider, E.event_id == event.id)
    ).first()
    existing = before
    recorded_for = seen.charge_reference if seen is not None else None
    if recorded_for is not None and (before is None or before.reference != recorded_for):
        existing = charge_row(conn, recorded_for)
    return WebhookResult(event, charge_of(existing) if existing else None, False, True, "duplicate")


def _adopt(conn: Connection, ctx: Ctx, charge: Charge) -> Row[Any]:
    """Start tracking a charge created outside this ledger (the provider told us about it)."""
    assert charge.reference is not None
    # Another instance may adopt the same charge at the same moment: first insert wins.
    _insert_ignore(
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
            "create_state": "created",
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


def _apply_orphans(conn: Connection, ctx: Ctx, row: Row[Any]) -> Row[Any]:
    if row.provider_id is None:
        return row
    orphans = conn.execute(
        select(schema.events)
        .where(E.provider == row.provider, E.charge_id == row.provider_id, E.outcome == "orphan")
        .order_by(E.received_at)
    ).all()
    for orphan in orphans:
        event = WebhookEvent.model_validate_json(orphan.payload)
        applied = _apply_event_to(conn, ctx, row, event)
        row = applied.row
        conn.execute(
            update(schema.events)
            .where(E.provider == orphan.provider, E.event_id == orphan.event_id)
            .values(
                charge_reference=row.reference,
                status_after=row.status,
                outcome="flagged"
                if applied.verdict.flagged
                else ("applied" if applied.changed else "unchanged"),
            )
        )
    return row


# -- polls (reconcile, refresh) ---------------------------------------------------------------


def apply_poll(
    conn: Connection,
    ctx: Ctx,
    reference: str,
    charge: Charge,
    *,
    confirmed_refund: int | None = None,
    asking_refund: int | None = None,
) -> tuple[Charge | None, bool, str, tuple[Flag, ...]]:
    ctx.store.advisory_lock(conn, f"{charge.provider}:{charge.id}")
    row = charge_row(conn, reference, lock=True)
    if row is None:
        return None, False, "unknown", ()
    before = row.status
    applied = _report_charge(conn, ctx, row, charge, event_id=None)
    row = applied.row
    values: dict[str, Any] = {"checked_at": to_db(ctx.now)}
    if row.create_state != "created":
        values.update(create_state="created", create_lease_until=None, create_error=None)
    _bump(conn, ctx, row, **values)
    row = charge_row(conn, reference)
    assert row is not None
    if applied.changed or applied.verdict.flagged:
        _record_event(
            conn,
            ctx,
            provider=row.provider,
            event_id=f"poll:{uuid.uuid4().hex}",
            type_=f"poll:{before}->{row.status}",
            source="poll",
            outcome="flagged" if applied.verdict.flagged else "applied",
            reference=reference,
            charge_id=charge.id,
            status_after=row.status,
        )
    row = _apply_orphans(conn, ctx, row)
    settled = _settle_held_refunds(
        conn, ctx, row, charge, confirmed=confirmed_refund, asking=asking_refund
    )
    return (
        charge_of(settled.row),
        applied.changed or settled.changed,
        applied.verdict.value,
        tuple(applied.flags) + tuple(settled.flags),
    )


def _settle_held_refunds(
    conn: Connection,
    ctx: Ctx,
    row: Row[Any],
    charge: Charge,
    *,
    confirmed: int | None = None,
    asking: int | None = None,
) -> _Applied:
    """Read a poll's refunds one by one, matched by refund id or reference (see ``refunds``).

    A refund whose answer was lost and whose webhook never came is held as ``unknown``; only a
    poll can tell whether it went through, and only if the provider names it.
    """
    rows = conn.execute(
        select(schema.refunds).where(R.charge_reference == row.reference).order_by(R.id)
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
        flag = _flag(
            conn,
            ctx,
            provider=row.provider,
            reference=row.reference,
            event_id=None,
            kind="unattributed_refund",
            detail=detail,
        )
        flags += [flag] if flag else []
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
            .where(R.id.in_(plan.release), R.status.in_(UNSENT_OR_UNANSWERED))
            .values(status=RefundStatus.FAILED.value, updated_at=to_db(ctx.now))
        )
        changed = True
    for refund in plan.reports:
        got = _report_refund(conn, ctx, row, refund, event_id=None)
        row, changed, flags = got.row, changed or got.changed, flags + got.flags
    return _Applied(row, changed, Verdict.APPLIED if changed else Verdict.SAME, flags)


def mark_checked(
    conn: Connection,
    ctx: Ctx,
    reference: str,
    *,
    create_state: str | None = None,
    error: str | None = None,
) -> None:
    row = charge_row(conn, reference, lock=True)
    if row is None:
        return
    values: dict[str, Any] = {"checked_at": to_db(ctx.now)}
    if create_state is not None and row.create_state != "created":
        values.update(create_state=create_state, create_lease_until=None, create_error=error)
    conn.execute(update(schema.charges).where(C.reference == reference).values(**values))


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
    conn: Connection, ctx: Ctx, older_than: timedelta, limit: int | None
) -> list[Candidate]:
    cutoff = to_db(ctx.now - older_than)
    last_news = func.coalesce(C.checked_at, C.updated_at)
    query = (
        select(schema.charges)
        .where(
            or_(
                C.status.in_(OPEN),
                # Paid, but a refund is still unsettled (its answer or webhook may be lost).
                C.reference.in_(select(R.charge_reference).where(R.status.in_(HELD_REFUNDS))),
            ),
            last_news <= cutoff,
            # A create being sent is looked at too: its sender may have died after the provider
            # made the charge, and only a look-up can tell before the lease runs out.
            C.create_state.in_(("created", "unknown", "sending")),
        )
        .order_by(C.created_at, C.reference)
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
            from_db(r.create_lease_until) if r.create_state == "sending" else None,
        )
        for r in conn.execute(query)
    ]


def all_references(conn: Connection) -> Sequence[str]:
    return [r.reference for r in conn.execute(select(C.reference).order_by(C.reference))]


def json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


Reader = Callable[[Connection], Any]


def charge_of_ref(conn: Connection, reference: str) -> Charge | None:
    row = charge_row(conn, reference)
    return charge_of(row) if row is not None else None
