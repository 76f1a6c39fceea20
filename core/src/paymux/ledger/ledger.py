"""``Ledger`` (sync) and ``AsyncLedger``: durable payment state on top of a gateway.

Each operation is written once, as a generator of steps (a database transaction, a gateway call,
a pause), in the same spirit as the providers' sans-IO flows. ``Ledger`` runs the steps directly;
``AsyncLedger`` awaits the gateway and runs database steps in a worker thread, so the event loop
never blocks on a lock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import Connection, Engine

from ..errors import InvalidRequest
from ..gateway import AsyncGateway, Gateway
from ..models import Charge, ChargeRequest, Refund, WebhookEvent
from ..money import Money
from ..status import ChargeStatus
from . import arguments, cancel, create, queries, reconcile, reservations, steps
from .events import handle_event
from .polls import apply_poll
from .queries import Page, RefundRow
from .reconcile import Progress
from .records import Entry, Flag, ReconcileReport, WebhookResult
from .row_writes import WriteContext
from .rows import charge_of_ref, entry_of, flags_of
from .state_machine import CreateState
from .steps import Call, Db, Op, Pause
from .store import Store, utcnow

T = TypeVar("T")
GatewayT = TypeVar("GatewayT", Gateway, AsyncGateway)
log = logging.getLogger("paymux.ledger")

Until = ChargeStatus | Collection[ChargeStatus] | Callable[[Charge], bool] | None


def _predicate(until: Until) -> Callable[[Charge], bool]:
    if until is None:
        return lambda charge: charge.status.is_final
    if isinstance(until, ChargeStatus):
        return lambda charge: charge.status is until
    if callable(until):
        return until
    wanted = frozenset(ChargeStatus(s) for s in until)
    return lambda charge: charge.status in wanted


class _LedgerBase(Generic[GatewayT]):
    _gateway_type: type[GatewayT]

    def __init__(
        self,
        gateway: GatewayT,
        url: str | Engine = "sqlite:///paymux.db",
        *,
        create_lease: timedelta = timedelta(minutes=2),
        busy_timeout: float = 30.0,
        clock: Callable[[], datetime] | None = None,
        echo: bool = False,
        refund_release_after: timedelta = timedelta(minutes=15),
    ) -> None:
        if not isinstance(gateway, self._gateway_type):
            raise InvalidRequest(
                f"{type(self).__name__} needs a {self._gateway_type.__name__},"
                f" got {type(gateway).__name__}",
                field="gateway",
            )
        self.gateway: GatewayT = gateway
        arguments.constructor(
            url,
            busy_timeout,
            clock,
            echo,
            durations={"create_lease": create_lease, "refund_release_after": refund_release_after},
        )
        self.store = Store(url, busy_timeout=busy_timeout, echo=echo)
        if not isinstance(create_lease, timedelta) or create_lease <= timedelta(0):
            raise InvalidRequest("must be a positive timedelta", field="create_lease")
        self.create_lease = create_lease
        """How long a create may stay ``sending`` before another caller (or reconcile) may decide
        that its sender died. A caller waiting on it asks the provider meanwhile; keep it above
        the gateway's whole time for one create (timeouts and retries)."""
        if not isinstance(refund_release_after, timedelta) or refund_release_after <= timedelta(0):
            raise InvalidRequest("must be a positive timedelta", field="refund_release_after")
        self.refund_release_after = refund_release_after
        """A refund whose request may not have reached the provider stays held (its amount not
        refundable again) until a poll of the provider's refund list shows it, or shows nothing
        that could be it for this long; then it is failed and its amount is refundable again."""
        self._clock = clock or utcnow
        self._changed = threading.Condition()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store.describe()!r})"

    # -- database steps ----------------------------------------------------------------------

    def _ctx(self) -> WriteContext:
        return WriteContext(self.store, self._clock(), self.refund_release_after)

    def _write(self, work: Callable[[Connection, WriteContext], T]) -> Db[T]:
        def run() -> T:
            self.store.ensure_schema()
            result = self.store.write(lambda conn: work(conn, self._ctx()))
            with self._changed:
                self._changed.notify_all()
            return result

        return Db(run)

    def _read(self, work: Callable[[Connection], T]) -> Db[T]:
        def run() -> T:
            self.store.ensure_schema()
            return self.store.read(work)

        return Db(run)

    # -- operations, written once ------------------------------------------------------------

    def _create_op(self, request: ChargeRequest, provider: str | None) -> Op[Charge]:
        return create.create_op(self, request, arguments.provider(provider))

    def _webhook_op(
        self, provider: str, body: bytes | str, headers: Mapping[str, str] | None
    ) -> Op[WebhookResult]:
        # Verification happens before any database work: a forged body changes nothing.
        event = yield from steps.parse_webhook(provider, body, headers)
        return (yield from self._event_op(event, verified_callback=True))

    def _event_op(
        self, event: WebhookEvent, *, verified_callback: bool = False
    ) -> Op[WebhookResult]:
        event = arguments.event(event, verified_callback=verified_callback)
        return (yield from self._write(lambda c, x: handle_event(c, x, event)))

    def _refresh_op(self, reference: str) -> Op[Charge | None]:
        arguments.reference(reference)
        known = yield from self._read(lambda c: create.create_state(c, reference))
        if known.charge is None:
            entry = yield from self._read(lambda c: entry_of(c, reference))
            if entry is None or known.state not in (CreateState.UNKNOWN, CreateState.SENDING):
                return known.charge
            fetched = yield from steps.retrieve_by_reference(entry.provider, reference)
        else:
            fetched = yield from steps.retrieve_charge(known.charge)
        applied = yield from self._write(lambda c, x: apply_poll(c, x, reference, fetched))
        return applied.charge

    def _refund_op(
        self, charge: Charge | str, amount: Money | None, reason: str | None, reference: str | None
    ) -> Op[Refund]:
        return reservations.refund_op(self, charge, amount, reason, reference)

    def _reconcile_op(
        self, older_than: timedelta, limit: int | None, progress: Progress | None
    ) -> Op[ReconcileReport]:
        return reconcile.reconcile_op(self, older_than, limit, progress, self._clock)

    def _wait_op(self, reference: str, until: Until, timeout: float) -> Op[Charge | None]:
        arguments.reference(reference)
        done = _predicate(arguments.until(until))
        timeout = arguments.seconds(timeout, "timeout")
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            charge = yield from self._read(lambda c: charge_of_ref(c, reference))
            if charge is not None and done(charge):
                return charge
            left = deadline - time.monotonic()
            if left <= 0:
                return charge
            yield Pause(min(pause, left))
            pause = min(pause * 2, 0.5)

    # -- reads (no network; the same for sync and async callers) -------------------------------

    def entry(self, reference: str) -> Entry | None:
        """Everything recorded about one charge: state, refunds, events, flags."""
        arguments.reference(reference)
        self.store.ensure_schema()
        return self.store.read(lambda c: entry_of(c, reference))

    def flags(self, reference: str | None = None) -> tuple[Flag, ...]:
        """Reports the ledger refused to apply silently (all charges, or one)."""
        if reference is not None:
            arguments.reference(reference)
        self.store.ensure_schema()
        return self.store.read(lambda c: flags_of(c, reference))

    def schema_version(self) -> int:
        return self.store.schema_version()

    # -- queries and cancel (shared by both ledgers) --------------------------------------------

    def _cancel_op(self, reference: str) -> Op[Charge]:
        return cancel.cancel_op(self, reference)

    def _charges_read(self, *args: Any) -> Callable[[], Page[Charge]]:
        query = queries.charge_filter(*args)
        return lambda: self._read_now(lambda c: queries.charges_page(c, query))

    def _refunds_read(self, *args: Any) -> Callable[[], Page[RefundRow]]:
        query = queries.refund_filter(*args)
        return lambda: self._read_now(lambda c: queries.refunds_page(c, query))

    def _read_now(self, work: Callable[[Connection], T]) -> T:
        self.store.ensure_schema()
        return self.store.read(work)

    def abandoned_at(self, reference: str) -> datetime | None:
        """When ``cancel_charge`` gave the charge up locally (its provider has no cancel)."""
        arguments.reference(reference)
        self.store.ensure_schema()
        return self.store.read(lambda c: queries.abandoned_at(c, reference))


class Ledger(_LedgerBase[Gateway]):
    """Durable payment state for a synchronous :class:`~paymux.Gateway`.

    >>> ledger = Ledger(gw, url="sqlite:///paymux.db")       # or postgresql+psycopg://...
    >>> charge = ledger.create_charge(request)               # idempotent per request.reference
    >>> ledger.handle_webhook("omise", body=raw, headers=headers).charge
    >>> ledger.reconcile(older_than=timedelta(minutes=5))
    """

    _gateway_type = Gateway

    def _drive(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                try:
                    if isinstance(step, Db):
                        step.run()
                    elif isinstance(step, Call):
                        step.run(self.gateway)
                    else:
                        with self._changed:
                            # Woken early when this process changes a charge; otherwise polls,
                            # because the webhook may land on another instance.
                            self._changed.wait(step.seconds)
                except BaseException as error:
                    step = op.throw(error)
                    continue
                step = op.send(None)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            op.close()

    def create_charge(self, request: ChargeRequest, provider: str | None = None) -> Charge:
        """Record, then create the payment at the provider; idempotent per ``request.reference``.

        A second call with the same reference returns the first charge, whatever became of it,
        and never creates a second provider payment (one reference is one attempt: see
        ``paymux.attempt_reference``). A concurrent second call waits for the first, asking the
        provider meanwhile. After a failure that may have reached the provider, the next call
        looks the payment up by reference; it sends again only after a certain miss, and raises
        ``OutcomeUnknown`` (sending nothing) while the provider cannot tell. The reference with
        another amount, method or provider raises ``DuplicateRequest``, as the gateway does.
        """
        return self._drive(self._create_op(request, provider))

    def get(self, reference: str) -> Charge | None:
        """The charge as the ledger knows it; None if unknown or not yet accepted by the provider."""
        arguments.reference(reference)
        self.store.ensure_schema()
        return self.store.read(lambda c: charge_of_ref(c, reference))

    def handle_webhook(
        self, provider: str, body: bytes | str, headers: Mapping[str, str] | None = None
    ) -> WebhookResult:
        """Verify, dedupe (by ``WebhookEvent.id``) and apply a callback.

        Raises ``WebhookVerificationError``/``WebhookParseError`` (and changes nothing) for a
        forged or unreadable body. ``result.charge`` is the charge after the event.
        """
        return self._drive(self._webhook_op(provider, body, headers))

    def apply_event(self, event: WebhookEvent) -> WebhookResult:
        """Apply an already verified event (e.g. one parsed by ``Gateway.parse_webhook``)."""
        return self._drive(self._event_op(event))

    def refund(
        self,
        charge: Charge | str,
        amount: Money | None = None,
        reason: str | None = None,
        *,
        reference: str | None = None,
    ) -> Refund:
        """Refund ``amount`` (all that is left when None) of the charge with this reference.

        The amount is reserved in the database under the charge's lock before the provider is
        called, so concurrent refunds can never add up to more than the charge. A ``reference``
        already used by another refund (of another charge, or for another amount) raises
        ``DuplicateRequest`` before anything is reserved or sent.
        """
        return self._drive(self._refund_op(charge, amount, reason, reference))

    def refresh(self, reference: str) -> Charge | None:
        """Ask the provider about one charge now and apply the answer."""
        return self._drive(self._refresh_op(reference))

    def reconcile(
        self,
        older_than: timedelta = timedelta(minutes=5),
        *,
        limit: int | None = None,
        progress: Progress | None = None,
    ) -> ReconcileReport:
        """Poll the provider for open charges with no news for ``older_than`` (and older than
        the provider's own ``reconcile_after``) and apply what it says."""
        return self._drive(self._reconcile_op(older_than, limit, progress))

    def wait(self, reference: str, until: Until = None, timeout: float = 30.0) -> Charge | None:
        """Block until the charge satisfies ``until`` (default: any final status) or ``timeout``
        seconds pass; returns the charge as it then is (check its status)."""
        return self._drive(self._wait_op(reference, until, timeout))

    def cancel_charge(self, reference: str) -> Charge:
        """Stop the unpaid charge with this reference.

        At a provider with a cancel for the method (Omise), the charge as the provider then
        reports it (``expired``). Elsewhere (ECommPay) the charge is marked abandoned locally
        (``abandoned_at``) and keeps its open status, so ``reconcile`` keeps watching it: a
        payment that still arrives is recorded and flagged ``late_success``, never dropped."""
        return self._drive(self._cancel_op(reference))

    def charges(
        self,
        *,
        status: ChargeStatus | str | Collection[ChargeStatus | str] | None = None,
        provider: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        reference_prefix: str | None = None,
        abandoned: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Charge]:
        """One page of the recorded charges, oldest first (by the ledger's ``created_at``).

        Pass ``page.next_cursor`` back as ``cursor`` for the next page (None: no more). At most
        ``limit`` items (default 50, at most 1,000)."""
        return self._charges_read(
            status, provider, since, until, reference_prefix, abandoned, limit, cursor
        )()

    def refunds(
        self,
        reference: str | None = None,
        *,
        status: str | Collection[str] | None = None,
        provider: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[RefundRow]:
        """One page of the recorded refunds (of one charge, or all), in the order recorded."""
        return self._refunds_read(reference, status, provider, limit, cursor)()

    def close(self) -> None:
        self.store.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncLedger(_LedgerBase[AsyncGateway]):
    """The same as :class:`Ledger` for an :class:`~paymux.AsyncGateway`, with ``await``.

    Database work runs in a worker thread (SQLAlchemy's sync engine), so a lock wait never
    stalls the event loop.
    """

    _gateway_type = AsyncGateway

    async def _drive(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                try:
                    if isinstance(step, Db):
                        await asyncio.to_thread(step.run)
                    elif isinstance(step, Call):
                        await step.arun(self.gateway)
                    else:
                        await asyncio.sleep(step.seconds)
                except BaseException as error:
                    step = op.throw(error)
                    continue
                step = op.send(None)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            op.close()

    async def create_charge(self, request: ChargeRequest, provider: str | None = None) -> Charge:
        return await self._drive(self._create_op(request, provider))

    async def get(self, reference: str) -> Charge | None:
        arguments.reference(reference)
        self.store.ensure_schema()
        return await asyncio.to_thread(self.store.read, lambda c: charge_of_ref(c, reference))

    async def handle_webhook(
        self, provider: str, body: bytes | str, headers: Mapping[str, str] | None = None
    ) -> WebhookResult:
        return await self._drive(self._webhook_op(provider, body, headers))

    async def apply_event(self, event: WebhookEvent) -> WebhookResult:
        return await self._drive(self._event_op(event))

    async def refund(
        self,
        charge: Charge | str,
        amount: Money | None = None,
        reason: str | None = None,
        *,
        reference: str | None = None,
    ) -> Refund:
        return await self._drive(self._refund_op(charge, amount, reason, reference))

    async def refresh(self, reference: str) -> Charge | None:
        return await self._drive(self._refresh_op(reference))

    async def reconcile(
        self,
        older_than: timedelta = timedelta(minutes=5),
        *,
        limit: int | None = None,
        progress: Progress | None = None,
    ) -> ReconcileReport:
        return await self._drive(self._reconcile_op(older_than, limit, progress))

    async def wait(
        self, reference: str, until: Until = None, timeout: float = 30.0
    ) -> Charge | None:
        return await self._drive(self._wait_op(reference, until, timeout))

    async def cancel_charge(self, reference: str) -> Charge:
        return await self._drive(self._cancel_op(reference))

    async def charges(
        self,
        *,
        status: ChargeStatus | str | Collection[ChargeStatus | str] | None = None,
        provider: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        reference_prefix: str | None = None,
        abandoned: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Charge]:
        return await asyncio.to_thread(
            self._charges_read(
                status, provider, since, until, reference_prefix, abandoned, limit, cursor
            )
        )

    async def refunds(
        self,
        reference: str | None = None,
        *,
        status: str | Collection[str] | None = None,
        provider: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[RefundRow]:
        return await asyncio.to_thread(
            self._refunds_read(reference, status, provider, limit, cursor)
        )

    async def aclose(self) -> None:
        await asyncio.to_thread(self.store.dispose)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
