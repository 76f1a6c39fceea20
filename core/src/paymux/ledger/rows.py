"""Reading the ledger's rows: the table columns, a charge row and what it means (its state, the
charge the ledger shows), and the entry of everything recorded about one charge.

Functions here run inside ``Store.read``/``write``; none of them writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    Row,
    bindparam,
    select,
)

from ..models import Charge
from ..money import Money
from ..status import ChargeStatus
from . import schema
from .records import Entry, EventRecord, Flag, RefundRecord
from .state_machine import CreateState, FlagKind, RefundRowStatus, State
from .store import Statement, from_db, when

CHARGE = schema.charges.c
REFUND = schema.refunds.c
EVENT = schema.events.c
FLAG = schema.flags.c

OPEN = (ChargeStatus.PENDING.value, ChargeStatus.REQUIRES_ACTION.value)


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
    lock: _select_charge(CHARGE.reference == bindparam("w_reference"), lock=lock)
    for lock in (False, True)
}
_CHARGE_BY_ID = {
    lock: _select_charge(
        CHARGE.provider == bindparam("w_provider"),
        CHARGE.provider_id == bindparam("w_charge_id"),
        lock=lock,
    )
    for lock in (False, True)
}


def charge_row(conn: Connection, reference: str, *, lock: bool = False) -> Row[Any] | None:
    row: Row[Any] | None = _CHARGE_BY_REFERENCE[lock].first(conn, {"w_reference": reference})
    return row


def charge_row_by_id(
    conn: Connection, provider: str, charge_id: str, *, lock: bool = False
) -> Row[Any] | None:
    params = {"w_provider": provider, "w_charge_id": charge_id}
    row: Row[Any] | None = _CHARGE_BY_ID[lock].first(conn, params)
    return row


def flags_of(conn: Connection, reference: str | None = None) -> tuple[Flag, ...]:
    query = select(schema.flags).order_by(FLAG.id)
    if reference is not None:
        query = query.where(FLAG.charge_reference == reference)
    return tuple(
        Flag(
            FlagKind(r.kind),
            r.detail,
            r.provider,
            r.charge_reference,
            r.event_id,
            when(r.created_at),
        )
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
            RefundRowStatus(r.status),
            r.reason,
            when(r.created_at),
            when(r.updated_at),
        )
        for r in conn.execute(
            select(schema.refunds).where(REFUND.charge_reference == reference).order_by(REFUND.id)
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
            .where(EVENT.charge_reference == reference)
            .order_by(EVENT.received_at, EVENT.event_id)
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
        create_state=CreateState(row.create_state),
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


def all_references(conn: Connection) -> Sequence[str]:
    return [r.reference for r in conn.execute(select(CHARGE.reference).order_by(CHARGE.reference))]


def json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


Reader = Callable[[Connection], Any]


def charge_of_ref(conn: Connection, reference: str) -> Charge | None:
    row = charge_row(conn, reference)
    return charge_of(row) if row is not None else None
