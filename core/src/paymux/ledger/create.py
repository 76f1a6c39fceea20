"""``Ledger.create_charge``: record first, then create at the provider, never twice.

A create's fate at the provider is known (``created``, or ``new``/``rejected``: nothing there),
being decided (``sending``, under a lease), or ``unknown`` (the request may have arrived). An
unknown create is looked up by reference before anything is sent again, and a look-up miss
allows a resend only when it is certain: a conclusive :class:`~paymux.errors.NotFound`, or a
provider that refuses a reused reference itself (``Provider.unique_references``). Otherwise the
caller gets :class:`~paymux.errors.OutcomeUnknown` and the provider is asked again later.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import Connection, Row

from ..errors import (
    ConfigurationError,
    DuplicateRequest,
    InvalidRequest,
    NoRouteError,
    NotFound,
    OutcomeUnknown,
    PaymuxError,
    ProviderError,
    TransportError,
)
from ..models import Charge, ChargeRequest, RouteDecision
from ..money import Money
from ..provider import Provider
from ..status import ChargeStatus
from . import schema, steps
from .events import apply_orphans
from .merge import report_charge
from .reference_reuse import reference_reused
from .row_writes import WriteContext, bump, insert_ignore, record_event
from .rows import charge_of, charge_row
from .state_machine import CreateState, EventOutcome, EventSource
from .steps import Db, Op, Pause
from .store import from_db, to_db

T = TypeVar("T")
log = logging.getLogger("paymux.ledger")

PEEK_EVERY = 5.0
"""Seconds between look-ups by a caller waiting for another caller's create (the first is at
once: the other caller may have died after the provider made the charge)."""


class _Routing(Protocol):
    def route(self, request: ChargeRequest) -> RouteDecision: ...

    def provider(self, name: str) -> Provider[Any]: ...


class Host(Protocol):
    """What the create operation needs from a ledger."""

    @property
    def gateway(self) -> _Routing: ...

    @property
    def create_lease(self) -> timedelta: ...

    def _write(self, work: Callable[[Connection, WriteContext], T]) -> Db[T]: ...


# -- transactions -----------------------------------------------------------------------------


class ClaimAction(StrEnum):
    """What a caller that asked to create a charge does next."""

    RETURN = "return"
    """Done: the claim's ``charge``."""
    SEND = "send"
    """POST it."""
    RECOVER = "recover"
    """Look it up by reference before anything else."""
    WAIT = "wait"
    """Another caller is creating it right now."""


@dataclass(frozen=True)
class Claim:
    action: ClaimAction
    provider: str
    charge: Charge | None = None
    lease_until: datetime | None = None


def _same_request(row: Row[Any], request: ChargeRequest, provider: str | None) -> None:
    differences = []
    if (row.amount, row.currency) != (request.amount.amount, request.amount.currency):
        differences.append(f"amount {Money(row.amount, row.currency)} vs {request.amount}")
    if row.method is not None and row.method != request.method:
        differences.append(f"method {row.method} vs {request.method}")
    if provider is not None and row.provider != provider:
        differences.append(f"provider {row.provider} vs {provider}")
    if differences:
        # Raised in the claim's transaction before it writes anything, and outside ``_send``,
        # whose handler adopts the charge behind a provider's DuplicateRequest.
        raise reference_reused(
            f"reference {row.reference!r} is held by another request ("
            + "; ".join(differences)
            + "); a reference identifies one payment: use a new one for a new attempt",
            provider=row.provider,
        )


def claim_create(
    conn: Connection,
    ctx: WriteContext,
    request: ChargeRequest,
    provider: str,
    explicit: bool,
    lease: timedelta,
) -> Claim:
    insert_ignore(
        conn,
        ctx.store,
        schema.charges,
        {
            "reference": request.reference,
            "provider": provider,
            "provider_id": None,
            "method": request.method,
            "country": request.country,
            "amount": request.amount.amount,
            "currency": request.amount.currency,
            "status": ChargeStatus.PENDING.value,
            "refunded": 0,
            "create_state": CreateState.NEW,
            "flag_count": 0,
            "version": 1,
            "created_at": to_db(ctx.now),
            "updated_at": to_db(ctx.now),
            "charge_metadata": json.dumps(request.metadata) if request.metadata else None,
        },
    )
    row = charge_row(conn, request.reference, lock=True)
    assert row is not None
    _same_request(row, request, provider if explicit else None)
    state = row.create_state
    lease_until = from_db(row.create_lease_until)
    if state == CreateState.CREATED:
        return Claim(ClaimAction.RETURN, row.provider, charge_of(row))
    if state == CreateState.SENDING and lease_until is not None and lease_until > ctx.now:
        return Claim(ClaimAction.WAIT, row.provider, lease_until=lease_until)
    # new/rejected: nothing exists at the provider. unknown, or a sender that vanished past its
    # lease: something may exist, so it must be looked up, never posted again blindly.
    action = (
        ClaimAction.SEND
        if state in (CreateState.NEW, CreateState.REJECTED)
        else ClaimAction.RECOVER
    )
    bump(
        conn,
        ctx,
        row,
        create_state=CreateState.SENDING,
        create_lease_until=to_db(ctx.now + lease),
        create_error=None,
    )
    return Claim(action, row.provider)


def complete_create(conn: Connection, ctx: WriteContext, reference: str, charge: Charge) -> Charge:
    ctx.store.advisory_lock(conn, f"{charge.provider}:{charge.id}")
    row = charge_row(conn, reference, lock=True)
    assert row is not None
    applied = report_charge(conn, ctx, row, charge, event_id=None)
    row = applied.row
    bump(
        conn, ctx, row, create_state=CreateState.CREATED, create_lease_until=None, create_error=None
    )
    row = charge_row(conn, reference)
    assert row is not None
    record_event(
        conn,
        ctx,
        provider=row.provider,
        event_id=f"create:{reference}",
        type_="charge.created",
        source=EventSource.CREATE,
        outcome=EventOutcome.APPLIED if applied.changed else applied.verdict.value,
        reference=reference,
        charge_id=charge.id,
        status_after=row.status,
    )
    row = apply_orphans(conn, ctx, row)
    result = charge_of(row)
    assert result is not None
    return result


def release_create(
    conn: Connection, ctx: WriteContext, reference: str, state: CreateState, error: str
) -> None:
    row = charge_row(conn, reference, lock=True)
    if row is not None and row.create_state != CreateState.CREATED:
        bump(conn, ctx, row, create_state=state, create_lease_until=None, create_error=error[:2000])


class CreateRecord(NamedTuple):
    """Where a create stands in the ledger (see the module's docstring for ``state``)."""

    state: CreateState
    lease_until: datetime | None
    charge: Charge | None


def create_state(conn: Connection, reference: str) -> CreateRecord:
    row = charge_row(conn, reference)
    if row is None:
        return CreateRecord(CreateState.NEW, None, None)
    return CreateRecord(
        CreateState(row.create_state), from_db(row.create_lease_until), charge_of(row)
    )


def mark_absent(conn: Connection, ctx: WriteContext, reference: str, why: str) -> bool:
    """After a certain look-up miss: nothing exists at the provider, so the create may be sent
    again. Only for a create nobody is sending now; True when the row changed."""
    row = charge_row(conn, reference, lock=True)
    if row is None:
        return False
    lease_until = from_db(row.create_lease_until)
    idle = row.create_state == CreateState.UNKNOWN or (
        row.create_state == CreateState.SENDING and (lease_until is None or lease_until <= ctx.now)
    )
    if not idle:
        return False
    bump(
        conn,
        ctx,
        row,
        create_state=CreateState.NEW,
        create_lease_until=None,
        create_error=why[:2000],
        checked_at=to_db(ctx.now),
    )
    return True


# -- the operation ------------------------------------------------------------------------------


def _release(host: Host, reference: str, state: CreateState, why: str) -> Db[None]:
    """Give up a create claim, saying what is known about the provider's side."""
    return host._write(lambda c, x: release_create(c, x, reference, state, why))


def _complete(host: Host, reference: str, charge: Charge) -> Op[Charge]:
    return (yield from host._write(lambda c, x: complete_create(c, x, reference, charge)))


def create_op(host: Host, request: ChargeRequest, provider: str | None) -> Op[Charge]:
    if not isinstance(request, ChargeRequest):
        raise InvalidRequest(
            f"expected ChargeRequest, got {type(request).__name__}", field="request"
        )
    name = provider if provider is not None else host.gateway.route(request).provider
    host.gateway.provider(name)  # an unknown provider fails before anything is recorded
    pause = 0.02
    peeked_at: float | None = None
    while True:
        claim = yield from host._write(
            lambda c, x: claim_create(c, x, request, name, provider is not None, host.create_lease)
        )
        if claim.action is ClaimAction.RETURN:
            assert claim.charge is not None
            return claim.charge
        if claim.action is not ClaimAction.WAIT:
            break
        # Another caller holds the create (or died holding it): while its lease runs, ask the
        # provider now and then rather than wait blindly; a look-up never sends anything.
        if peeked_at is None or time.monotonic() - peeked_at >= PEEK_EVERY:
            peeked_at = time.monotonic()
            found = yield from _peek(host, request.reference, claim.provider)
            if found is not None:
                return found
        log.debug("ledger: %s is being created by another caller; waiting", request.reference)
        yield Pause(pause)
        pause = min(pause * 2, 0.5)
    if claim.action is ClaimAction.RECOVER:
        found = yield from _recover(host, request.reference, claim.provider)
        if found is not None:
            return found
    return (yield from _send(host, request, claim.provider))


def _send(host: Host, request: ChargeRequest, provider: str) -> Op[Charge]:
    """POST the create; the caller holds the claim (state ``sending``)."""
    reference = request.reference
    try:
        charge = yield from steps.create_charge(request, provider)
    except TransportError as error:
        if not error.request_sent:
            yield _release(host, reference, CreateState.NEW, str(error))
            raise
        # The provider may have the payment: one look-up now, before handing the error back.
        try:
            found = yield from _recover(host, reference, provider)
        except PaymuxError:
            raise error from None
        if found is None:
            yield _release(host, reference, CreateState.NEW, str(error))
            raise
        return found
    except DuplicateRequest as error:
        # The provider already has this reference (an earlier attempt's answer was lost):
        # adopt that payment rather than report a failure or send anything again.
        try:
            found = yield from _recover(host, reference, provider)
        except PaymuxError:
            raise error from None
        if found is None:
            yield _release(host, reference, CreateState.UNKNOWN, str(error))
            raise
        return found
    except ProviderError as error:
        # Only the plugin can tell a validation refusal from a failure that may have acted.
        yield _release(
            host,
            reference,
            CreateState.REJECTED if error.nothing_done else CreateState.UNKNOWN,
            str(error),
        )
        raise
    except (InvalidRequest, NoRouteError, ConfigurationError) as error:
        # Refused before anything was sent.
        yield _release(host, reference, CreateState.NEW, str(error))
        raise
    except BaseException as error:
        # Anything else (OutcomeUnknown, a bug, KeyboardInterrupt) may have happened after the
        # POST left, or means the provider may hold the charge.
        yield _release(host, reference, CreateState.UNKNOWN, type(error).__name__)
        raise
    return (yield from _complete(host, reference, charge))


def _recover(host: Host, reference: str, provider: str) -> Op[Charge | None]:
    """Find a payment whose creation may have reached the provider, holding the claim.

    The charge when found (recorded); None when the provider certainly does not have it (the
    caller may send); :class:`OutcomeUnknown` (claim released as ``unknown``) when a miss is not
    certain.
    """
    try:
        charge = yield from steps.retrieve_by_reference(provider, reference)
    except NotFound as missing:
        if missing.conclusive or host.gateway.provider(provider).unique_references:
            log.info("ledger: %s is not at %s; it may be sent", reference, provider)
            return None
        yield _release(host, reference, CreateState.UNKNOWN, str(missing))
        raise OutcomeUnknown(
            f"{provider} may hold charge {reference!r} but cannot confirm it yet ({missing});"
            " nothing was sent again: try later, or let reconcile settle it",
            provider=provider,
            reference=reference,
        ) from None
    except BaseException as error:
        yield _release(host, reference, CreateState.UNKNOWN, type(error).__name__)
        raise
    log.info("ledger: recovered %s from %s by reference", reference, provider)
    return (yield from _complete(host, reference, charge))


def _peek(host: Host, reference: str, provider: str) -> Op[Charge | None]:
    """Look a create up without holding its claim: record and return it if the provider has
    it; None otherwise (whatever went wrong, the holder of the claim decides)."""
    try:
        charge = yield from steps.retrieve_by_reference(provider, reference)
    except PaymuxError:
        return None
    log.info("ledger: %s was found at %s while another caller held it", reference, provider)
    return (yield from _complete(host, reference, charge))


def reconcile_lookup(
    host: Host, reference: str, provider: str, lease_until: datetime | None, now: datetime
) -> Op[Charge | None]:
    """Reconcile's look-up of a create with no charge yet: the charge if the provider has it;
    None after a certain miss (recorded as ``new``: the next create sends it) or while another
    caller still holds the create. An uncertain miss raises :class:`NotFound`."""
    try:
        return (yield from steps.retrieve_by_reference(provider, reference))
    except NotFound as missing:
        if lease_until is not None and lease_until > now:
            return None
        if missing.conclusive or host.gateway.provider(provider).unique_references:
            why = f"not at {provider}: {missing}"
            yield host._write(lambda c, x: mark_absent(c, x, reference, why))
            return None
        raise
