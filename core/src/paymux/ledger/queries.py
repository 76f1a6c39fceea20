"""Reading the ledger page by page: charges and refunds for support screens and settlement.

Pages are keyset-paginated (``created_at`` then ``reference`` for charges, the row id for
refunds), so a cursor stays valid while rows are added: a page never repeats or skips a row that
existed when the first page was read, whatever is written between pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from ..errors import InvalidRequest
from ..models import Charge
from ..money import Money
from ..status import ChargeStatus
from . import arguments, schema
from .rows import CHARGE, REFUND, charge_of
from .state_machine import RefundRowStatus
from .store import from_db, to_db, when

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
REFUND_STATUSES = tuple(RefundRowStatus)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page: ``items`` in order, and ``next_cursor`` for the next page (None: the last)."""

    items: tuple[T, ...]
    next_cursor: str | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class RefundRow:
    """One refund as the ledger holds it (``Ledger.refunds``)."""

    charge_reference: str
    provider: str
    provider_id: str | None
    reference: str | None
    amount: Money
    status: str
    """``reserved`` | ``unknown`` | ``pending`` | ``succeeded`` | ``failed``."""
    reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ChargeFilter:
    statuses: frozenset[ChargeStatus] | None
    provider: str | None
    since: datetime | None
    until: datetime | None
    reference_prefix: str | None
    abandoned: bool | None
    limit: int
    after: tuple[datetime, str] | None


@dataclass(frozen=True)
class RefundFilter:
    reference: str | None
    statuses: frozenset[str] | None
    provider: str | None
    limit: int
    after: int | None


# -- arguments ---------------------------------------------------------------------------------


def _limit(value: Any) -> int:
    if value is None:
        return DEFAULT_LIMIT
    checked = arguments.limit(value)
    assert checked is not None
    if checked > MAX_LIMIT:
        raise InvalidRequest(f"must be at most {MAX_LIMIT}", field="limit")
    return checked


def _moment(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRequest("must be a datetime with a time zone", field=field)
    try:
        to_db(value)
    except OverflowError:
        raise InvalidRequest("is outside the years 1-9999 in UTC", field=field) from None
    return value


def _statuses(value: Any) -> frozenset[ChargeStatus] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Collection):
        raise InvalidRequest("must be a ChargeStatus or a collection of them", field="status")
    found = set()
    for item in items:
        try:
            found.add(ChargeStatus(item))
        except ValueError:
            raise InvalidRequest(f"{item!r:.40} is not a charge status", field="status") from None
    if not found:
        raise InvalidRequest("give at least one status, or None for all", field="status")
    return frozenset(found)


def _refund_statuses(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Collection) or not all(
        isinstance(i, str) and i in REFUND_STATUSES for i in items
    ):
        raise InvalidRequest(f"must be among {', '.join(REFUND_STATUSES)}", field="status")
    if not items:
        raise InvalidRequest("give at least one status, or None for all", field="status")
    return frozenset(items)


def _encode(kind: str, *parts: Any) -> str:
    text = json.dumps([kind, *parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def _decode(cursor: Any, kind: str, size: int) -> list[Any]:
    if not isinstance(cursor, str) or not 0 < len(cursor) <= 512:
        raise InvalidRequest("not a cursor from a page of this query", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest("not a cursor from a page of this query", field="cursor") from None
    if not isinstance(parts, list) or len(parts) != size + 1 or parts[0] != kind:
        raise InvalidRequest("not a cursor from a page of this query", field="cursor")
    return parts[1:]


def charge_filter(
    status: Any,
    provider: Any,
    since: Any,
    until: Any,
    reference_prefix: Any,
    abandoned: Any,
    limit: Any,
    cursor: Any,
) -> ChargeFilter:
    if provider is not None:
        arguments.provider(provider)
    if reference_prefix is not None:
        arguments.reference(reference_prefix, "reference_prefix")
    if abandoned is not None and not isinstance(abandoned, bool):
        raise InvalidRequest("must be True, False or None", field="abandoned")
    after = None
    if cursor is not None:
        stamp, reference = _decode(cursor, "charges", 2)
        try:
            after = (datetime.fromisoformat(stamp), arguments.reference(reference, "cursor"))
        except (TypeError, ValueError):
            raise InvalidRequest("not a cursor from a page of this query", field="cursor") from None
    return ChargeFilter(
        statuses=_statuses(status),
        provider=provider,
        since=_moment(since, "since"),
        until=_moment(until, "until"),
        reference_prefix=reference_prefix,
        abandoned=abandoned,
        limit=_limit(limit),
        after=after,
    )


def refund_filter(
    reference: Any, status: Any, provider: Any, limit: Any, cursor: Any
) -> RefundFilter:
    if reference is not None:
        arguments.reference(reference)
    if provider is not None:
        arguments.provider(provider)
    after = None
    if cursor is not None:
        (after,) = _decode(cursor, "refunds", 1)
        # Within 64 bits: SQLite cannot bind a larger integer (an OverflowError, not an answer).
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after < 2**63:
            raise InvalidRequest("not a cursor from a page of this query", field="cursor")
    return RefundFilter(
        reference=reference,
        statuses=_refund_statuses(status),
        provider=provider,
        limit=_limit(limit),
        after=after,
    )


# -- queries (run inside a read transaction) ----------------------------------------------------


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def charges_page(conn: Connection, query: ChargeFilter) -> Page[Charge]:
    # Only charges a provider accepted have a Charge to show; a create still in flight is in
    # ``Ledger.entry(reference)``.
    where: list[ColumnElement[bool]] = [CHARGE.snapshot.is_not(None)]
    if query.statuses is not None:
        where.append(CHARGE.status.in_(sorted(s.value for s in query.statuses)))
    if query.provider is not None:
        where.append(CHARGE.provider == query.provider)
    if query.since is not None:
        where.append(CHARGE.created_at >= to_db(query.since))
    if query.until is not None:
        where.append(CHARGE.created_at <= to_db(query.until))
    if query.reference_prefix is not None:
        where.append(CHARGE.reference.like(_like_prefix(query.reference_prefix), escape="\\"))
    if query.abandoned is not None:
        where.append(
            CHARGE.abandoned_at.is_not(None) if query.abandoned else CHARGE.abandoned_at.is_(None)
        )
    if query.after is not None:
        stamp, reference = query.after
        where.append(
            or_(
                CHARGE.created_at > stamp,
                and_(CHARGE.created_at == stamp, CHARGE.reference > reference),
            )
        )
    rows = conn.execute(
        select(schema.charges)
        .where(*where)
        .order_by(CHARGE.created_at, CHARGE.reference)
        .limit(query.limit + 1)
    ).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    items = tuple(c for c in (charge_of(r) for r in rows) if c is not None)
    cursor = None
    if more and rows:
        last = rows[-1]
        cursor = _encode("charges", last.created_at.isoformat(), last.reference)
    return Page(items, cursor)


def refunds_page(conn: Connection, query: RefundFilter) -> Page[RefundRow]:
    where: list[ColumnElement[bool]] = []
    if query.reference is not None:
        where.append(REFUND.charge_reference == query.reference)
    if query.statuses is not None:
        where.append(REFUND.status.in_(sorted(query.statuses)))
    if query.provider is not None:
        where.append(REFUND.provider == query.provider)
    if query.after is not None:
        where.append(REFUND.id > query.after)
    rows = conn.execute(
        select(schema.refunds).where(*where).order_by(REFUND.id).limit(query.limit + 1)
    ).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    items = tuple(
        RefundRow(
            charge_reference=r.charge_reference,
            provider=r.provider,
            provider_id=r.provider_id,
            reference=r.reference,
            amount=Money(r.amount, r.currency),
            status=r.status,
            reason=r.reason,
            created_at=when(r.created_at),
            updated_at=when(r.updated_at),
        )
        for r in rows
    )
    return Page(items, _encode("refunds", rows[-1].id) if more and rows else None)


def abandoned_at(conn: Connection, reference: str) -> datetime | None:
    value = conn.execute(select(CHARGE.abandoned_at).where(CHARGE.reference == reference)).scalar()
    return from_db(value)
