"""``Ledger.cancel_charge``: stop an unpaid charge at the provider, or give it up locally.

Where the provider has a cancel for the charge's method (Omise's expire), the ledger asks for it
and records the answer like a poll. Where it has none (ECommPay), the charge is marked abandoned:
its status stays open, so ``reconcile`` keeps asking the provider about it, and a payment that
still arrives is recorded (the money was taken) and flagged ``late_success`` for a human.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection

from ..errors import InvalidRequest, PaymuxError, ProviderError
from ..models import Charge
from ..provider import CANCEL_CHARGE, Provider
from . import arguments, steps
from .polls import apply_poll
from .row_writes import WriteContext, bump
from .rows import charge_of, charge_of_ref, charge_row, state_of
from .steps import Db, Op
from .store import to_db

T = TypeVar("T")


class _Gateway(Protocol):
    def provider(self, name: str) -> Provider[Any]: ...


class Host(Protocol):
    @property
    def gateway(self) -> _Gateway: ...

    def _write(self, work: Callable[[Connection, WriteContext], T]) -> Db[T]: ...

    def _read(self, work: Callable[[Connection], T]) -> Db[T]: ...


def mark_abandoned(conn: Connection, ctx: WriteContext, reference: str) -> Charge | None:
    row = charge_row(conn, reference, lock=True)
    if row is None:
        return None
    if row.abandoned_at is None and not state_of(row).status.is_final:
        row = bump(conn, ctx, row, abandoned_at=to_db(ctx.now))
    return charge_of(row)


def cancel_op(host: Host, reference: str) -> Op[Charge]:
    arguments.reference(reference)
    charge = yield from host._read(lambda c: charge_of_ref(c, reference))
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
            fetched = yield from steps.cancel_charge(charge)
        except ProviderError as refused:
            # Most often the customer paid (or the charge ended) since the ledger last heard:
            # learn where it stands before handing the refusal back.
            try:
                now = yield from steps.retrieve_charge(charge)
            except PaymuxError:
                raise refused from None
            yield host._write(lambda c, x: apply_poll(c, x, reference, now))
            raise refused from None
        applied = yield from host._write(lambda c, x: apply_poll(c, x, reference, fetched))
        return applied.charge if applied.charge is not None else fetched
    marked = yield from host._write(lambda c, x: mark_abandoned(c, x, reference))
    return marked or charge
