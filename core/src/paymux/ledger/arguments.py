"""Checks of the Ledger's public arguments, before any database or network work.

Every refusal is an :class:`~paymux.errors.InvalidRequest` naming the argument. Lengths follow
the columns of ``schema.py``: SQLite would store an over-long value and PostgreSQL refuse it, and
both backends must accept and refuse the same inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine

from ..errors import InvalidRequest, WebhookParseError
from ..models import Charge, WebhookEvent
from ..money import Money
from ..status import ChargeStatus
from ..text_rules import (
    REASON_LENGTH,
    REFUND_REFERENCE_LENGTH,
    reference_problem,
    text_problem,
)

Until = ChargeStatus | Collection[ChargeStatus] | Callable[[Charge], bool] | None

# The widths of the paymux_events / paymux_charges / paymux_refunds columns an event fills.
_PROVIDER_LENGTH = 64
_ID_LENGTH = 255
_TYPE_LENGTH = 64
_LONGEST = timedelta(days=3650)
_LARGEST_LIMIT = 2**31 - 1
_LONGEST_BUSY_TIMEOUT = 86_400.0


def reference(value: Any, field: str = "reference") -> str:
    if not isinstance(value, str):
        raise InvalidRequest(
            f"expected a charge reference, got {type(value).__name__}", field=field
        )
    problem = reference_problem(value)
    if problem is not None:
        raise InvalidRequest(problem, field=field)
    return value


def provider(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(
            f"expected a provider name, got {type(value).__name__}", field="provider"
        )
    # The rule of the gateway's provider names (and the 64-character column that holds them).
    problem = reference_problem(value)
    if problem is not None:
        raise InvalidRequest(problem, field="provider")
    return value


def refund(charge: Any, amount: Any, reason: Any, refund_reference: Any) -> str:
    """The charge's reference, once every refund argument is known to fit."""
    charge_reference = charge.reference if isinstance(charge, Charge) else charge
    if not isinstance(charge_reference, str):
        raise InvalidRequest(
            "give the charge's reference (or a Charge that has one)", field="charge"
        )
    reference(charge_reference, "charge")
    if amount is not None and not isinstance(amount, Money):
        raise InvalidRequest(f"expected Money, got {type(amount).__name__}", field="amount")
    if reason is not None:
        if not isinstance(reason, str):
            raise InvalidRequest(f"expected text, got {type(reason).__name__}", field="reason")
        problem = text_problem(reason, REASON_LENGTH)
        if problem is not None:
            raise InvalidRequest(problem, field="reason")
    if refund_reference is not None:
        if not isinstance(refund_reference, str):
            raise InvalidRequest(
                f"expected text, got {type(refund_reference).__name__}", field="reference"
            )
        problem = reference_problem(refund_reference, REFUND_REFERENCE_LENGTH)
        if problem is not None:
            raise InvalidRequest(problem, field="reference")
    return charge_reference


def limit(value: Any) -> int | None:
    # PostgreSQL refuses LIMIT -1 where SQLite reads it as "no limit", and SQLite cannot bind an
    # integer past 64 bits: both refused here, the same on both backends.
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _LARGEST_LIMIT
    ):
        raise InvalidRequest(
            f"must be a whole number from 1 to {_LARGEST_LIMIT:,}, or None for no limit",
            field="limit",
        )
    return value


def older_than(value: Any) -> timedelta:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise InvalidRequest("must be a non-negative timedelta", field="older_than")
    _not_too_long(value, "older_than")
    return value


def _not_too_long(value: timedelta, field: str) -> None:
    # Dates are computed from it (now - older_than, now + lease): timedelta.max overflows them.
    if abs(value) > _LONGEST:
        raise InvalidRequest(f"must be at most {_LONGEST.days} days", field=field)


def callback(value: Any, field: str) -> None:
    if value is not None and not callable(value):
        raise InvalidRequest(f"expected a function, got {type(value).__name__}", field=field)


def seconds(value: Any, field: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise InvalidRequest("must be a finite number of seconds >= 0", field=field)
    return float(value)


def until(value: Any) -> Until:
    """``None``, a status (or its name, ``"succeeded"``), a collection of them, or a predicate."""
    if value is None or isinstance(value, ChargeStatus) or callable(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        return _status(value)
    if isinstance(value, Collection) and not isinstance(value, bytes | bytearray):
        statuses = frozenset(_status(item) for item in value)
        if statuses:
            return statuses
    raise InvalidRequest(
        "must be a ChargeStatus (or its name), a collection of them, or a function of the charge",
        field="until",
    )


def _status(value: Any) -> ChargeStatus:
    if isinstance(value, ChargeStatus):
        return value
    try:
        return ChargeStatus(value)
    except (ValueError, TypeError):
        names = ", ".join(s.value for s in ChargeStatus)
        raise InvalidRequest(
            f"{value!r:.40} is not a charge status ({names})", field="until"
        ) from None


def constructor(
    url: Any, busy_timeout: Any, clock: Any, echo: Any, durations: dict[str, Any]
) -> None:
    if not isinstance(url, str | Engine):
        raise InvalidRequest(
            f"expected a database URL or an SQLAlchemy Engine, got {type(url).__name__}",
            field="url",
        )
    if seconds(busy_timeout, "busy_timeout") > _LONGEST_BUSY_TIMEOUT:
        # SQLite takes it in milliseconds as a 32-bit integer.
        raise InvalidRequest("must be at most a day (86400 seconds)", field="busy_timeout")
    callback(clock, "clock")
    if not isinstance(echo, bool):
        raise InvalidRequest("must be True or False", field="echo")
    for field, value in durations.items():
        if not isinstance(value, timedelta):
            raise InvalidRequest(f"expected a timedelta, got {type(value).__name__}", field=field)
        _not_too_long(value, field)


class EventProblem(NamedTuple):
    """A value of an event the ledger's columns cannot store."""

    field: str
    problem: str


def event_problem(event: WebhookEvent) -> EventProblem | None:
    """What of the event the ledger cannot store, if anything."""
    values: list[tuple[str, str | None, int]] = [
        ("provider", event.provider, _PROVIDER_LENGTH),
        ("id", event.id, _ID_LENGTH),
        ("type", event.type, _TYPE_LENGTH),
    ]
    if event.charge is not None:
        values += [
            ("charge.id", event.charge.id, _ID_LENGTH),
            ("charge.provider", event.charge.provider, _PROVIDER_LENGTH),
            # Only what cannot be stored: a charge made outside paymux may carry any reference.
            ("charge.reference", event.charge.reference, 64),
        ]
    if event.refund is not None:
        values += [
            ("refund.id", event.refund.id, _ID_LENGTH),
            ("refund.charge_id", event.refund.charge_id, _ID_LENGTH),
            ("refund.reference", event.refund.reference, REFUND_REFERENCE_LENGTH),
        ]
    for field, value, width in values:
        if value is None:
            continue
        problem = text_problem(value, width)
        if problem is not None:
            return EventProblem(field, problem)
        if not value and field in ("provider", "id", "type"):
            return EventProblem(field, "is empty")
    return None


def event(value: Any, *, verified_callback: bool) -> WebhookEvent:
    """The event, once it fits the ledger: a parse error for a callback the plugin read (it is
    not something paymux can store), an invalid request for an event the caller built."""
    if not isinstance(value, WebhookEvent):
        raise InvalidRequest(f"expected WebhookEvent, got {type(value).__name__}", field="event")
    found = event_problem(value)
    if found is not None:
        if verified_callback:
            raise WebhookParseError(f"the callback's event {found.field} {found.problem}")
        raise InvalidRequest(found.problem, field=f"event.{found.field}")
    return value
