"""Refunds asked through the ledger: reserved under the charge's lock before the provider is
called, then finished, replayed or released. One function per database transaction, run inside
``Store.write`` like those of ``events`` and ``polls``, in the same lock order; then the
operation (``Ledger.refund``) that drives them around the provider's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from ..capability_checks import check_refundable, refund_amount
from ..errors import (
    DuplicateRequest,
    InvalidRequest,
    PaymuxError,
    RefundNotAllowed,
    TransportError,
)
from ..models import Charge, Refund
from ..money import Money
from ..status import RefundStatus
from . import arguments, schema, steps
from .polls import apply_poll
from .reference_reuse import reference_reused
from .refund_reports import report_refund
from .row_writes import WriteContext
from .rows import REFUND, charge_of, charge_row
from .state_machine import HELD_REFUND_STATUSES, UNSENT_OR_UNANSWERED, RefundRowStatus
from .steps import Db, Op
from .store import to_db

T = TypeVar("T")


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
    ctx: WriteContext,
    charge_reference: str,
    amount: Money | None,
    reason: str | None,
    refund_reference: str | None,
) -> Reservation:
    row = charge_row(conn, charge_reference, lock=True)
    if row is None:
        raise InvalidRequest(f"the ledger has no charge {charge_reference!r}", field="reference")
    charge = charge_of(row)
    if charge is None:
        raise RefundNotAllowed(
            f"charge {charge_reference} is {row.status}; only paid charges can be refunded"
        )
    check_refundable(charge, amount)
    refunds = conn.execute(
        select(schema.refunds)
        .where(REFUND.charge_reference == charge_reference)
        .order_by(REFUND.id)
    ).all()
    if refund_reference is not None:
        elsewhere = conn.execute(
            select(REFUND.charge_reference, REFUND.provider).where(
                REFUND.reference == refund_reference, REFUND.charge_reference != charge_reference
            )
        ).first()
        if elsewhere is not None:
            raise _reference_taken(refund_reference, elsewhere.charge_reference, elsewhere.provider)
        same = next((r for r in refunds if r.reference == refund_reference), None)
        if same is not None:
            if amount is not None and amount.amount != same.amount:
                raise reference_reused(
                    f"refund reference {refund_reference!r} is held by another request (amount"
                    f" {Money(same.amount, same.currency)} vs {amount}); a refund reference"
                    " identifies one refund (leave it out to get a fresh one)",
                    provider=same.provider,
                )
            if (
                same.status in (RefundRowStatus.PENDING, RefundRowStatus.SUCCEEDED)
                and same.snapshot is not None
            ):
                return Reservation(
                    same.id,
                    refund_reference,
                    charge,
                    Money(same.amount, same.currency),
                    existing=Refund.model_validate_json(same.snapshot),
                )
            if same.status in UNSENT_OR_UNANSWERED:
                # A previous attempt may have reached the provider: send the same reference again,
                # which providers treat as the same refund.
                conn.execute(
                    update(schema.refunds)
                    .where(REFUND.id == same.id)
                    .values(status=RefundRowStatus.RESERVED, updated_at=to_db(ctx.now))
                )
                return Reservation(
                    same.id,
                    refund_reference,
                    charge,
                    Money(same.amount, same.currency),
                    resend=True,
                )
            refunds = [r for r in refunds if r.id != same.id]
            conn.execute(schema.refunds.delete().where(REFUND.id == same.id))
    held = sum(r.amount for r in refunds if r.status in HELD_REFUND_STATUSES)
    succeeded = sum(r.amount for r in refunds if r.status == RefundRowStatus.SUCCEEDED)
    settled = Money(max(row.refunded, succeeded), row.currency)
    # The gateway's rules, with what the ledger knows beyond the provider's last answer: refunds
    # it settled and refunds still in flight. (The method's RefundSupport is the gateway's.)
    wanted = refund_amount(
        charge.model_copy(update={"refunded_amount": settled}),
        amount,
        None,
        provider=row.provider,
        in_flight=held,
    ).amount
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
                "status": RefundRowStatus.RESERVED,
                "reason": reason,
                "created_at": to_db(ctx.now),
                "updated_at": to_db(ctx.now),
            },
        )
        if refund_id is not None:
            return Reservation(refund_id, reference, charge, Money(wanted, row.currency))
        if refund_reference is not None:
            # Taken between the check above and this insert, by a refund of another charge.
            holder = conn.execute(
                select(REFUND.charge_reference, REFUND.provider).where(
                    REFUND.reference == refund_reference
                )
            ).first()
            raise _reference_taken(
                refund_reference,
                holder.charge_reference if holder else None,
                holder.provider if holder else row.provider,
            )


def _reference_taken(
    reference: str, charge_reference: str | None, provider: str
) -> DuplicateRequest:
    where = f" of charge {charge_reference!r}" if charge_reference else ""
    return reference_reused(
        f"refund reference {reference!r} is held by another request (a refund{where}); a refund"
        " reference identifies one refund across all charges (leave it out to get a fresh one)",
        provider=provider,
    )


def _insert_refund_row(conn: Connection, values: dict[str, Any]) -> int | None:
    """Insert a refund row; None when its reference is taken (the caller picks another).

    Inside a savepoint, so a refused insert leaves the surrounding transaction usable on
    PostgreSQL, and a concurrent writer's reference is refused by the unique index, not by luck.
    """
    taken = conn.execute(select(REFUND.id).where(REFUND.reference == values["reference"])).first()
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
    conn: Connection, ctx: WriteContext, charge_reference: str, refund_row: int, refund: Refund
) -> None:
    row = charge_row(conn, charge_reference, lock=True)
    assert row is not None
    twin = conn.execute(
        select(REFUND.id).where(
            REFUND.provider == row.provider,
            REFUND.provider_id == refund.id,
            REFUND.id != refund_row,
        )
    ).first()
    if twin is not None:
        # A webhook about this refund won the race and recorded it already: one row per refund.
        conn.execute(schema.refunds.delete().where(REFUND.id == refund_row))
    else:
        conn.execute(
            update(schema.refunds)
            .where(REFUND.id == refund_row)
            .values(provider_id=refund.id, updated_at=to_db(ctx.now))
        )
    report_refund(conn, ctx, row, refund, event_id=None)


def settled_refund(conn: Connection, refund_row: int, charge: Charge) -> Refund | None:
    """The refund row as a :class:`Refund` once a poll has shown the provider holds it (pending,
    succeeded or failed), else None: only then may it be sent again.

    The result is stored on the row, so a later call with the same reference replays it.
    """
    row = conn.execute(select(schema.refunds).where(REFUND.id == refund_row)).first()
    if row is None or row.status not in (
        RefundRowStatus.PENDING,
        RefundRowStatus.SUCCEEDED,
        RefundRowStatus.FAILED,
    ):
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
        update(schema.refunds)
        .where(REFUND.id == refund_row)
        .values(snapshot=refund.model_dump_json())
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


def release_refund(
    conn: Connection, ctx: WriteContext, refund_row: int, status: RefundRowStatus
) -> None:
    conn.execute(
        update(schema.refunds)
        .where(REFUND.id == refund_row, REFUND.status == RefundRowStatus.RESERVED)
        .values(status=status, updated_at=to_db(ctx.now))
    )


# -- the operation ------------------------------------------------------------------------------


class Host(Protocol):
    """What the refund operation needs from a ledger."""

    def _write(self, work: Callable[[Connection, WriteContext], T]) -> Db[T]: ...


def refund_op(
    host: Host,
    charge: Charge | str,
    amount: Money | None,
    reason: str | None,
    reference: str | None,
) -> Op[Refund]:
    # Checked before the amount is reserved: the row's columns would refuse them on
    # PostgreSQL (and silently keep them on SQLite) after the reservation began.
    charge_reference = arguments.refund(charge, amount, reason, reference)
    held = yield from host._write(
        lambda c, x: reserve_refund(c, x, charge_reference, amount, reason, reference)
    )
    if held.existing is not None:
        return held.existing
    target = held.charge
    if held.resend:
        # Not every provider recognises a repeated refund (Omise has no idempotency key):
        # ask first whether the earlier attempt went through, and resend only if not.
        fetched = yield from steps.retrieve_charge(held.charge)
        polled = yield from host._write(
            lambda c, x: apply_poll(c, x, charge_reference, fetched, asking_refund=held.refund_row)
        )
        done = yield from host._write(lambda c, x: settled_refund(c, held.refund_row, held.charge))
        if done is not None:
            return done
        target = resend_view(polled.charge or held.charge, held.amount)
    # A resend's earlier attempt may have gone through: no answer to this one proves it
    # did not, so the amount stays held (a webhook, a later poll or an operator settles it).
    failed = RefundRowStatus.UNKNOWN if held.resend else RefundRowStatus.FAILED
    try:
        refund = yield from steps.refund(target, held.amount, reason, held.reference)
    except TransportError as error:
        # Sent: the provider may have refunded, so the amount stays held until a webhook,
        # a retry with the same reference, or an operator settles it.
        status = RefundRowStatus.UNKNOWN if error.request_sent else failed
        yield host._write(lambda c, x: release_refund(c, x, held.refund_row, status))
        raise
    except DuplicateRequest as error:
        # The provider already has a refund with this reference: an earlier attempt went
        # through. Its list may name it, or leave exactly one refund unnamed, which is then
        # this one; otherwise the amount stays held until its webhook or a reconcile.
        yield host._write(
            lambda c, x: release_refund(c, x, held.refund_row, RefundRowStatus.UNKNOWN)
        )
        found = yield from _refund_the_provider_has(host, charge_reference, held)
        if found is None:
            raise error from None
        return found
    except PaymuxError:
        yield host._write(lambda c, x: release_refund(c, x, held.refund_row, failed))
        raise
    except BaseException:
        yield host._write(
            lambda c, x: release_refund(c, x, held.refund_row, RefundRowStatus.UNKNOWN)
        )
        raise
    yield host._write(lambda c, x: finish_refund(c, x, charge_reference, held.refund_row, refund))
    return refund


def _refund_the_provider_has(
    host: Host, charge_reference: str, held: Reservation
) -> Op[Refund | None]:
    try:
        fetched = yield from steps.retrieve_charge(held.charge)
    except PaymuxError:
        return None
    yield host._write(
        lambda c, x: apply_poll(c, x, charge_reference, fetched, confirmed_refund=held.refund_row)
    )
    return (yield from host._write(lambda c, x: settled_refund(c, held.refund_row, held.charge)))
