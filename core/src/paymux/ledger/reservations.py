"""Refunds asked through the ledger: reserved under the charge's lock before the provider is
called, then finished, replayed or released. One function per database transaction, run inside
``Store.write`` like those of ``tx``; the lock order is ``tx``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import InvalidRequest, RefundNotAllowed
from ..models import Charge, Refund
from ..money import Money
from ..status import ChargeStatus, RefundStatus
from . import schema
from .store import to_db
from .tx import HELD_REFUNDS, Ctx, R, _report_refund, charge_of, charge_row


@dataclass(frozen=True)
class Reservation:
    refund_row: int
    reference: str
    charge: Charge
    amount: Money
    existing: Refund | None = None
    """The refund this reference already produced (idempotent replay): nothing to send."""
    resend: bool = False
    """An earlier attempt with this reference may have reached the provider."""


def reserve_refund(
    conn: Connection,
    ctx: Ctx,
    charge_reference: str,
    amount: Money | None,
    reason: str | None,
    refund_reference: str | None,
) -> Reservation:
    row = charge_row(conn, charge_reference, lock=True)
    if row is None:
        raise InvalidRequest(f"the ledger has no charge {charge_reference!r}", field="reference")
    charge = charge_of(row)
    if charge is None or not ChargeStatus(row.status).is_paid:
        raise RefundNotAllowed(
            f"charge {charge_reference} is {row.status}; only paid charges can be refunded"
        )
    if amount is not None and amount.currency != row.currency:
        raise InvalidRequest(
            f"refund in {amount.currency} for a {row.currency} charge", field="amount"
        )
    refunds = conn.execute(
        select(schema.refunds).where(R.charge_reference == charge_reference).order_by(R.id)
    ).all()
    if refund_reference is not None:
        elsewhere = conn.execute(
            select(R.charge_reference).where(
                R.reference == refund_reference, R.charge_reference != charge_reference
            )
        ).first()
        if elsewhere is not None:
            raise _reference_taken(refund_reference, elsewhere.charge_reference)
        same = next((r for r in refunds if r.reference == refund_reference), None)
        if same is not None:
            if amount is not None and amount.amount != same.amount:
                raise InvalidRequest(
                    f"refund reference {refund_reference!r} was used for {Money(same.amount, same.currency)}",
                    field="reference",
                )
            if same.status in ("pending", "succeeded") and same.snapshot is not None:
                return Reservation(
                    same.id,
                    refund_reference,
                    charge,
                    Money(same.amount, same.currency),
                    existing=Refund.model_validate_json(same.snapshot),
                )
            if same.status in ("reserved", "unknown"):
                # A previous attempt may have reached the provider: send the same reference again,
                # which providers treat as the same refund.
                conn.execute(
                    update(schema.refunds)
                    .where(R.id == same.id)
                    .values(status="reserved", updated_at=to_db(ctx.now))
                )
                return Reservation(
                    same.id,
                    refund_reference,
                    charge,
                    Money(same.amount, same.currency),
                    resend=True,
                )
            refunds = [r for r in refunds if r.id != same.id]
            conn.execute(schema.refunds.delete().where(R.id == same.id))
    held = sum(r.amount for r in refunds if r.status in HELD_REFUNDS)
    succeeded = sum(r.amount for r in refunds if r.status == "succeeded")
    settled = max(row.refunded, succeeded)
    available = row.amount - settled - held
    wanted = amount.amount if amount is not None else available
    if wanted <= 0 or wanted > available:
        currency = row.currency
        raise RefundNotAllowed(
            f"{Money(max(wanted, 0), currency)} is more than the {Money(max(available, 0), currency)}"
            f" still refundable on charge {charge_reference} ({Money(settled, currency)} refunded,"
            f" {Money(held, currency)} in flight)"
        )
    number = len(refunds)
    while True:
        number += 1
        reference = refund_reference or f"{charge_reference}-r{number}"
        refund_id = _insert_refund_row(
            conn,
            {
                "charge_reference": charge_reference,
                "provider": row.provider,
                "provider_id": None,
                "reference": reference,
                "amount": wanted,
                "currency": row.currency,
                "status": "reserved",
                "reason": reason,
                "created_at": to_db(ctx.now),
                "updated_at": to_db(ctx.now),
            },
        )
        if refund_id is not None:
            return Reservation(refund_id, reference, charge, Money(wanted, row.currency))
        if refund_reference is not None:
            # Taken between the check above and this insert, by a refund of another charge.
            raise _reference_taken(refund_reference, None)


def _reference_taken(reference: str, charge_reference: str | None) -> InvalidRequest:
    where = f" of charge {charge_reference!r}" if charge_reference else ""
    return InvalidRequest(
        f"refund reference {reference!r} is already used by a refund{where}; a refund reference"
        " identifies one refund across all charges (leave it out to get a fresh one)",
        field="reference",
    )


def _insert_refund_row(conn: Connection, values: dict[str, Any]) -> int | None:
    """Insert a refund row; None when its reference is taken (the caller picks another).

    Inside a savepoint, so a refused insert leaves the surrounding transaction usable on
    PostgreSQL, and a concurrent writer's reference is refused by the unique index, not by luck.
    """
    taken = conn.execute(select(R.id).where(R.reference == values["reference"])).first()
    if taken is not None:
        return None
    try:
        with conn.begin_nested():
            result = conn.execute(schema.refunds.insert().values(**values))
    except IntegrityError:
        return None
    refund_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    assert refund_id is not None
    return int(refund_id)


def finish_refund(
    conn: Connection, ctx: Ctx, charge_reference: str, refund_row: int, refund: Refund
) -> None:
    row = charge_row(conn, charge_reference, lock=True)
    assert row is not None
    twin = conn.execute(
        select(R.id).where(
            R.provider == row.provider, R.provider_id == refund.id, R.id != refund_row
        )
    ).first()
    if twin is not None:
        # A webhook about this refund won the race and recorded it already: one row per refund.
        conn.execute(schema.refunds.delete().where(R.id == refund_row))
    else:
        conn.execute(
            update(schema.refunds)
            .where(R.id == refund_row)
            .values(provider_id=refund.id, updated_at=to_db(ctx.now))
        )
    _report_refund(conn, ctx, row, refund, event_id=None)


def settled_refund(conn: Connection, refund_row: int, charge: Charge) -> Refund | None:
    """The refund row as a :class:`Refund` once a poll has shown the provider holds it (pending,
    succeeded or failed), else None: only then may it be sent again.

    The result is stored on the row, so a later call with the same reference replays it.
    """
    row = conn.execute(select(schema.refunds).where(R.id == refund_row)).first()
    if row is None or row.status not in ("pending", "succeeded", "failed"):
        return None
    if row.snapshot is not None:
        return Refund.model_validate_json(row.snapshot)
    refund = Refund(
        provider=row.provider,
        id=row.provider_id or row.reference or str(row.id),
        charge_id=charge.id,
        reference=row.reference,
        amount=Money(row.amount, row.currency),
        status=RefundStatus(row.status),
        provider_status="settled by poll",
    )
    conn.execute(
        update(schema.refunds).where(R.id == refund_row).values(snapshot=refund.model_dump_json())
    )
    return refund


def resend_view(charge: Charge, amount: Money) -> Charge:
    """The charge as shown to the gateway when a refund is sent again under its reference.

    If the earlier attempt went through, its own amount may already be inside the provider's
    refunded total, and the gateway's check of what is left would refuse the resend before it is
    sent: the refund would be released as failed although the provider holds it. Without that
    amount the provider answers itself; it recognises the reference (ECommPay: 3230, which
    settles the row) or checks the amount against its own books, so nothing is refunded twice.
    A total smaller than the amount cannot contain it and is shown as it is (a full refund's
    resend then states no amount only when the whole total may be this refund, as it first did).
    """
    assert charge.refunded_amount is not None
    total = charge.refunded_amount.amount
    refunded = total - amount.amount if total >= amount.amount else total
    return charge.model_copy(update={"refunded_amount": Money(refunded, amount.currency)})


def release_refund(conn: Connection, ctx: Ctx, refund_row: int, status: str) -> None:
    conn.execute(
        update(schema.refunds)
        .where(R.id == refund_row, R.status == "reserved")
        .values(status=status, updated_at=to_db(ctx.now))
    )
