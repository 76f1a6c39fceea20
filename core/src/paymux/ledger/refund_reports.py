"""Recording a refund report (a webhook's or the refund call's answer) against the ledger's
refund rows, then settling the charge's refunded total (:func:`merge.settle_refunds`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    Row,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
    update,
)

from ..models import Refund
from ..money import Money
from ..status import ChargeStatus, RefundStatus
from . import schema
from .merge import Applied, settle_refunds
from .records import Flag
from .row_writes import WriteContext, dump, flag_charge
from .rows import REFUND
from .state_machine import FlagKind, RefundRowStatus, Verdict
from .store import Statement, to_db

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
        select(func.coalesce(func.sum(REFUND.amount), 0).label("succeeded_total"))
        .where(
            REFUND.charge_reference == bindparam("w_reference"),
            REFUND.status == RefundStatus.SUCCEEDED.value,
        )
        .subquery("total")
    )
    match = (
        select(schema.refunds)
        .where(
            REFUND.charge_reference == bindparam("w_reference"),
            or_(
                and_(
                    REFUND.provider == bindparam("w_provider"),
                    REFUND.provider_id == bindparam("w_refund_id"),
                ),
                and_(
                    REFUND.reference.is_not(None),
                    REFUND.reference == bindparam("w_refund_reference"),
                ),
            ),
        )
        .subquery("match")
    )
    query = select(total.c.succeeded_total, *match.c).select_from(total.outerjoin(match, true()))
    if not insert_missing:
        return query
    assert dialect == "postgresql"
    values = select(*(bindparam(f"v_{name}", type_=REFUND[name].type) for name in _REFUND_COLUMNS))
    inserted = (
        schema.refunds.insert()
        .from_select(list(_REFUND_COLUMNS), values.where(~select(match.c.id).exists()))
        .returning(REFUND.id)
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
        .returning(REFUND.id)
    )
)


_REFUND_ORDER = {
    RefundRowStatus.RESERVED: 0,
    RefundRowStatus.UNKNOWN: 0,
    RefundRowStatus.PENDING: 1,
    RefundRowStatus.SUCCEEDED: 2,
    RefundRowStatus.FAILED: 2,
}
"""How far along a refund row is: a report moves it forward only."""


def report_refund(
    conn: Connection,
    ctx: WriteContext,
    row: Row[Any],
    refund: Refund,
    *,
    event_id: str | None,
    remaining: Money | None = None,
    defer: bool = False,
) -> Applied:
    """Record a refund report (webhook or the refund call's answer) and settle the charge.
    ``defer``: leave the charge row's update to the caller (``Applied.pending``).

    ``remaining`` is what the provider says is left of the payment (``WebhookEvent.
    remaining_amount``): the charge's amount minus it is the provider's cumulative refunded
    amount, which counts refunds whose own reports are late or lost.
    """
    flags: list[Flag] = []
    if refund.amount.currency != row.currency:
        detail = f"refund {refund.id} in {refund.amount.currency} for a {row.currency} charge"
        mismatch = flag_charge(conn, ctx, row, FlagKind.REFUND_MISMATCH, detail, event_id=event_id)
        return Applied(row, False, Verdict.MISMATCH, mismatch)
    status = RefundRowStatus(refund.status.value)
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
            detail = f"refund {refund.id} reported {refund.amount.amount}, asked {existing.amount}"
            flags += flag_charge(
                conn, ctx, row, FlagKind.REFUND_MISMATCH, detail, event_id=event_id
            )
        elif existing.status != status:
            if _REFUND_ORDER[status] > _REFUND_ORDER[existing.status]:
                values["status"] = status
                values["snapshot"] = dump(refund)
                changed = True
                # Never from succeeded (nothing ranks above it); amounts are equal here.
                succeeded_total += existing.amount if status == succeeded else 0
            elif {existing.status, status} == {RefundRowStatus.SUCCEEDED, RefundRowStatus.FAILED}:
                detail = f"refund {refund.id} reported {status} after {existing.status}"
                flags += flag_charge(conn, ctx, row, FlagKind.CONFLICT, detail, event_id=event_id)
        if values:
            conn.execute(
                update(schema.refunds)
                .where(REFUND.id == existing.id)
                .values(updated_at=to_db(ctx.now), **values)
            )
    stated = 0
    if remaining is not None and remaining.currency == row.currency:
        if remaining.amount > row.amount:
            detail = f"{remaining} left of a {Money(row.amount, row.currency)} charge"
            flags += flag_charge(
                conn, ctx, row, FlagKind.REFUND_MISMATCH, detail, event_id=event_id
            )
        elif ChargeStatus(row.status).is_paid:
            stated = row.amount - remaining.amount
    settled = settle_refunds(
        conn,
        ctx,
        row,
        event_id=event_id,
        stated=stated,
        defer=defer,
        succeeded_total=succeeded_total,
    )
    verdict = Verdict.APPLIED if (changed or settled.changed) else settled.verdict
    return Applied(
        settled.row, changed or settled.changed, verdict, flags + settled.flags, settled.pending
    )
