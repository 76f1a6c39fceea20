"""Writing the ledger's rows: the context every write transaction runs in, compare-and-set
updates of a charge row, insert-unless-present, flags and event rows.

Lock order, the same everywhere so transactions cannot deadlock each other: the advisory lock on
``(provider, charge id)`` first (PostgreSQL only), then the charge row (``FOR UPDATE``), then its
refund and event rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy import (
    Connection,
    Executable,
    Row,
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..models import Charge, Refund, WebhookEvent
from . import schema
from .records import Flag
from .rows import CHARGE, EVENT, FLAG, charge_row
from .state_machine import EventSource, FlagKind
from .store import ConcurrentUpdate, Statement, Store, to_db

log = logging.getLogger("paymux.ledger")


@dataclass(frozen=True)
class WriteContext:
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


# -- writing helpers --------------------------------------------------------------------------


_BUMPS: dict[tuple[str, ...], Statement] = {}
_INSERTS: dict[tuple[str, tuple[str, ...]], Statement] = {}
"""Statements by the columns they write, built on first use (a handful of shapes in all)."""


def _bump_statement(names: tuple[str, ...], _dialect: str) -> Executable:
    return (
        update(schema.charges)
        .where(
            CHARGE.reference == bindparam("w_reference"), CHARGE.version == bindparam("w_version")
        )
        .values({name: bindparam(f"v_{name}") for name in ("version", "updated_at", *names)})
        .returning(*schema.charges.c)
    )


def _compare_and_set(ctx: WriteContext, row: Row[Any], values: dict[str, Any]) -> dict[str, Any]:
    """Parameters of an update of ``row`` to ``values`` that applies only while the row still
    has the version it was read with, and moves it to the next one."""
    params = {f"v_{name}": value for name, value in values.items()}
    params.update(
        w_reference=row.reference,
        w_version=row.version,
        v_version=row.version + 1,
        v_updated_at=to_db(ctx.now),
    )
    return params


def bump(conn: Connection, ctx: WriteContext, row: Row[Any], **values: Any) -> Row[Any]:
    """Update a locked charge row, compare-and-set on its version; the row as it is now."""
    names = tuple(sorted(values))
    statement = _BUMPS.get(names) or _BUMPS.setdefault(
        names, Statement(partial(_bump_statement, names))
    )
    new: Row[Any] | None = statement.first(conn, _compare_and_set(ctx, row, values))
    if new is None:
        raise ConcurrentUpdate(f"charge {row.reference} changed under a locked update")
    return new


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


def insert_ignore(conn: Connection, store: Store, table: Table, values: dict[str, Any]) -> bool:
    """INSERT unless the primary key exists; True when a row was inserted."""
    key = (table.name, tuple(values))
    statement = _INSERTS.get(key) or _INSERTS.setdefault(
        key, Statement(partial(_insert_statement, table, key[1]))
    )
    return statement.first(conn, {f"v_{name}": v for name, v in values.items()}) is not None


def flag_charge(
    conn: Connection,
    ctx: WriteContext,
    row: Row[Any],
    kind: FlagKind,
    detail: str,
    *,
    event_id: str | None,
) -> list[Flag]:
    """Flag ``row``'s charge for a human: the new flag in a list (to add to a report's flags),
    empty when the same (charge, kind, detail) is flagged already, so repeated polls do not pile
    them up."""
    exists = conn.execute(
        select(FLAG.id).where(
            FLAG.charge_reference == row.reference, FLAG.kind == kind, FLAG.detail == detail
        )
    ).first()
    if exists is not None:
        return []
    conn.execute(
        schema.flags.insert().values(
            charge_reference=row.reference,
            provider=row.provider,
            event_id=event_id,
            kind=kind,
            detail=detail,
            created_at=to_db(ctx.now),
        )
    )
    conn.execute(
        update(schema.charges)
        .where(CHARGE.reference == row.reference)
        .values(flag_count=CHARGE.flag_count + 1)
    )
    log.warning("ledger flag on %s (%s): %s: %s", row.reference, row.provider, kind, detail)
    return [Flag(kind, detail, row.provider, row.reference, event_id, ctx.now)]


class EventFields(TypedDict):
    """An event row's columns, as ``record_event`` and ``event_values`` take them."""

    provider: str
    event_id: str
    type_: str
    source: EventSource
    outcome: str
    reference: str | None
    charge_id: str | None
    status_after: str | None
    payload: NotRequired[str | None]


def record_event(conn: Connection, ctx: WriteContext, **fields: Unpack[EventFields]) -> bool:
    """Insert the event row unless its id is recorded already; True when it was new."""
    return insert_ignore(conn, ctx.store, schema.events, event_values(ctx, **fields))


def event_values(ctx: WriteContext, **fields: Unpack[EventFields]) -> dict[str, Any]:
    return {
        "provider": fields["provider"],
        "event_id": fields["event_id"],
        "charge_reference": fields["reference"],
        "charge_id": fields["charge_id"],
        "type": fields["type_"],
        "source": fields["source"],
        "outcome": fields["outcome"],
        "status_after": fields["status_after"],
        "payload": fields.get("payload"),
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
        .returning(EVENT.event_id)
        .cte("recorded")
    )
    return (
        update(schema.charges)
        .where(
            CHARGE.reference == bindparam("w_reference"),
            CHARGE.version == bindparam("w_version"),
            select(recorded.c.event_id).exists(),
        )
        .values({name: bindparam(f"v_{name}") for name in ("version", "updated_at", *names)})
        .returning(*schema.charges.c)
    )


def bump_recording(
    conn: Connection,
    ctx: WriteContext,
    row: Row[Any],
    values: dict[str, Any],
    event: dict[str, Any],
) -> Row[Any] | None:
    """``record_event`` then ``bump``, the update only if the event row was new; None when the
    event id was taken (a duplicate). On PostgreSQL one statement (a WITH that inserts), which
    saves a round trip on every event that changes its charge."""
    if not ctx.store.is_postgres:
        if not insert_ignore(conn, ctx.store, schema.events, event):
            return None
        return bump(conn, ctx, row, **values)
    key = (tuple(sorted(values)), tuple(event))
    statement = _BUMPS_RECORDING.get(key) or _BUMPS_RECORDING.setdefault(
        key, Statement(partial(_bump_recording_statement, *key))
    )
    params = _compare_and_set(ctx, row, values)
    params.update({f"e_{name}": value for name, value in event.items()})
    new: Row[Any] | None = statement.first(conn, params)
    if new is not None:
        return new
    now = charge_row(conn, row.reference)
    if now is None or now.version != row.version:
        raise ConcurrentUpdate(f"charge {row.reference} changed under a locked update")
    return None
