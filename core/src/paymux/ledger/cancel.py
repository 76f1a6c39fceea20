"""``Ledger.cancel_charge``: stop an unpaid charge at the provider, or give it up locally.

Where the provider has a cancel for the charge's method (Omise's expire), the ledger asks for it
and records the answer like a poll. Where it has none (ECommPay), the charge is marked abandoned:
its status stays open, so ``reconcile`` keeps asking the provider about it, and a payment that
still arrives is recorded (the money was taken) and flagged ``late_success`` for a human.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Connection

from ..errors import InvalidRequest, PaymuxError, ProviderError
from ..models import Charge
from ..provider import CANCEL_CHARGE, Provider
from . import arguments, tx
from .steps import Db, Op, net
from .store import to_db

T = TypeVar("T")


class _Gateway(Protocol):
    def provider(self, name: str) -> Provider[Any]: ...


class Host(Protocol):
    @property
    def gateway(self) -> _Gateway: ...

    def _write(self, work: Any) -> Db: ...

    def _read(self, work: Any) -> Db: ...


def mark_abandoned(conn: Connection, ctx: tx.Ctx, reference: str) -> Charge | None:
    row = tx.charge_row(conn, reference, lock=True)
    if row is None:
        return None
    if row.abandoned_at is None and not tx.state_of(row).status.is_final:
        row = tx._bump(conn, ctx, row, abandoned_at=to_db(ctx.now))
    return tx.charge_of(row)


def cancel_op(host: Host, reference: str) -> Op[Charge]:
    arguments.reference(reference)
    charge = cast(Charge | None, (yield host._read(lambda c: tx.charge_of_ref(c, reference))))
    if charge is None:
        raise InvalidRequest(
            f"the ledger holds no charge {reference!r} that a provider accepted",
            field="reference",
        )
    if charge.status.is_final:
        raise InvalidRequest(
            f"charge {reference!r} is {charge.status.value}; only an unpaid open charge can be"
            " canceled (refund a paid one)",
            field="reference",
        )
    if host.gateway.provider(charge.provider).supports(CANCEL_CHARGE, charge.method):
        try:
            fetched = cast(Charge, (yield net("cancel_charge", charge)))
        except ProviderError as refused:
            # Most often the customer paid (or the charge ended) since the ledger last heard:
            # learn where it stands before handing the refusal back.
            try:
                now = cast(Charge, (yield net("retrieve_charge", charge)))
            except PaymuxError:
                raise refused from None
            yield host._write(lambda c, x: tx.apply_poll(c, x, reference, now))
            raise refused from None
        applied = yield host._write(lambda c, x: tx.apply_poll(c, x, reference, fetched))
        result = cast(tuple[Charge | None, bool, str, tuple[Any, ...]], applied)[0]
        return result if result is not None else fetched
    marked = yield host._write(lambda c, x: mark_abandoned(c, x, reference))
    return cast(Charge | None, marked) or charge
