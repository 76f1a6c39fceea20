"""The plugin and its emulator, together: a pytest base class run against a live sandbox.

Subclass :class:`EmulatorContract` in the plugin's tests, name the emulator and what a valid
request needs, as for :class:`~paymux.testing.contract.ProviderContract` (or provide a
``make_request`` fixture)::

    class TestFooEmulatorContract(EmulatorContract):
        emulator_class = FooEmulator
        request_fields = {"customer": Customer(id="c1")}
        home_country = "NL"

A plugin whose provider keeps no unique reference (``unique_references = False``) and refuses a
reused one itself by a setting states it in ``reused_reference_settings`` (Omise:
``{"dedupe_by_reference": True}``): the ``reference-reused`` row holds only under it.

The sandbox serves the emulator on loopback (its sibling accounts too, unused here); a gateway
configured with ``emulator.provider_settings()`` talks to it over real HTTP. Each test checks a
row of the meanings table (``docs/meanings.md``) through the public API alone: create, the
simulated customer's action, callbacks parsed by the plugin, look-ups, refunds, lost answers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, NamedTuple

import pytest

from ..errors import (
    DuplicateRequest,
    NotFound,
    PaymuxError,
    TransportError,
    WebhookVerificationError,
)
from ..event_types import EventType
from ..gateway import AsyncGateway, Gateway
from ..models import Capability, Charge, ChargeRequest, WebhookEvent
from ..money import Money
from ..runner import RetryPolicy
from ..sandbox import Sandbox
from ..sandbox.checkout import CheckoutResult, Shopper
from ..sandbox.emulator import Emulator
from ..status import RefundSupport
from .contract import PAID_EVENT_TYPES, RequestFactory, request_factory

# Retries without waits: the lost-answer checks need the retry, not the back-off.
_QUICK = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0)
_references = itertools.count(1)
Create = Callable[[ChargeRequest], "Charge | PaymuxError"]
"""``create_charge`` on a fresh gateway: the charge, or the error raised."""


def _reference(test: str) -> str:
    return f"kit-{test}-{next(_references)}"


def _amount(capability: Capability) -> Money:
    """An amount inside the limits, large enough for two unequal partial refunds: four times
    the minimum, or 10,000 minor units when that is more and the maximum allows."""
    limits = capability.amounts[0]
    amount = max(limits.minimum * 4, 10_000)
    if limits.maximum is not None:
        amount = min(amount, limits.maximum)
    return Money(amount, limits.currency)


def _outcome(create: Callable[[], Charge]) -> Charge | PaymuxError:
    try:
        return create()
    except PaymuxError as error:
        return error


def _content(event: WebhookEvent) -> tuple[Any, ...]:
    """What an event reports, for "one id, one content"."""
    charge, refund = event.charge, event.refund
    return (
        event.type,
        None
        if charge is None
        else (charge.id, charge.status, charge.amount, charge.refunded_amount),
        None if refund is None else (refund.id, refund.status, refund.amount),
        event.remaining_amount,
    )


def _tampered(body: bytes) -> bytes:
    """``body`` with one amount changed and still well-formed: its signature no longer fits."""
    payload = json.loads(body)

    def bump(node: Any) -> bool:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "amount" and isinstance(value, int) and not isinstance(value, bool):
                    node[key] = value + 1
                    return True
                if bump(value):
                    return True
        elif isinstance(node, list):
            return any(bump(item) for item in node)
        return False

    assert bump(payload), "the kit changes an 'amount' of the callback; this one states none"
    return json.dumps(payload).encode()


class RefundedCheckout(NamedTuple):
    """A checkout of one capability, refunded as it allows."""

    request: ChargeRequest
    result: CheckoutResult
    refunds: list[Money]
    """The refunds made: two unequal partial ones, the whole amount, or none."""


class EmulatorContract:
    """Inherit in a ``Test...`` class; pytest collects the tests below for the plugin."""

    emulator_class: ClassVar[type[Emulator]]
    request_fields: ClassVar[Mapping[str, Any]] = {}
    home_country: ClassVar[str] = "US"
    reused_reference_settings: ClassVar[Mapping[str, Any]] = {}
    """Settings under which the plugin refuses a reused reference when its provider does not."""

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        return request_factory(self.home_country, **self.request_fields)

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox(cls) -> Iterator[Sandbox]:
        with Sandbox(emulators={cls.emulator_class.name: cls.emulator_class}) as running:
            yield running

    @pytest.fixture
    def provider_name(self, sandbox: Sandbox) -> Iterator[str]:
        sandbox.faults.update({"callback_duplicate": 0.0})
        sandbox.faults.once.clear()
        yield self.emulator_class.name
        sandbox.faults.update({"callback_duplicate": 0.0})
        sandbox.faults.once.clear()

    @pytest.fixture
    def settings(self, sandbox: Sandbox, provider_name: str) -> dict[str, Any]:
        emulated = sandbox.emulators[provider_name].provider_settings()
        return {provider_name: {**emulated, **self.reused_reference_settings}}

    @pytest.fixture
    def gateway(self, settings: dict[str, Any]) -> Iterator[Gateway]:
        with Gateway(providers=settings, retry=_QUICK) as gw:
            yield gw

    @pytest.fixture(params=["sync", "async"])
    def create(
        self, request: pytest.FixtureRequest, settings: dict[str, Any], provider_name: str
    ) -> Iterator[Create]:
        """``create_charge`` on a gateway of each kind, opened for the test (which runs twice):
        the charge, or the error raised."""
        if request.param == "sync":
            with Gateway(providers=settings, retry=_QUICK) as gw:
                yield lambda r: _outcome(lambda: gw.create_charge(r, provider=provider_name))
            return
        with asyncio.Runner() as loop:
            agw = AsyncGateway(providers=settings, retry=_QUICK)
            try:
                yield lambda r: _outcome(
                    lambda: loop.run(agw.create_charge(r, provider=provider_name))
                )
            finally:
                loop.run(agw.aclose())

    @pytest.fixture(scope="class")
    @classmethod
    def _shared(cls) -> dict[str, list[RefundedCheckout]]:
        return {}

    @pytest.fixture
    def charge_requests(
        self, gateway: Gateway, provider_name: str, make_request: RequestFactory
    ) -> list[ChargeRequest]:
        """A valid request for every capability, each under a reference never used before."""
        capabilities = [c for c in gateway.capabilities() if c.provider == provider_name]
        assert capabilities, f"{provider_name} offers nothing"
        return [
            make_request(c, _amount(c)).model_copy(update={"reference": _reference(c.method)})
            for c in capabilities
        ]

    @pytest.fixture
    def refunded_checkouts(
        self,
        _shared: dict[str, list[RefundedCheckout]],
        sandbox: Sandbox,
        gateway: Gateway,
        charge_requests: list[ChargeRequest],
    ) -> list[RefundedCheckout]:
        """One refunded checkout of every capability, made once per class: the tests that read
        what callbacks and refunds report share them (a checkout is the kit's slowest step)."""
        if "refunded" not in _shared:
            _shared["refunded"] = [
                RefundedCheckout(request, *self._checkout(sandbox, gateway, request, refunds=True))
                for request in charge_requests
            ]
        return _shared["refunded"]

    @pytest.fixture
    def lost_creates(
        self,
        sandbox: Sandbox,
        provider_name: str,
        charge_requests: list[ChargeRequest],
        create: Create,
    ) -> list[tuple[ChargeRequest, Charge | PaymuxError]]:
        """Each request created once more with the answer to its first write lost (the
        emulator processes it, then the connection dies), and what ``create`` made of it."""
        outcomes = []
        for request in charge_requests:
            sandbox.faults.update({"once": [(f"POST /{provider_name}/", "drop")]})
            outcomes.append((request, create(request)))
        return outcomes

    def _checkout(
        self, sandbox: Sandbox, gateway: Gateway, request: ChargeRequest, refunds: bool
    ) -> tuple[CheckoutResult, list[Money]]:
        capability = gateway.route(request).capability
        amounts: list[Money] = []
        if refunds and capability.refunds is RefundSupport.PARTIAL:
            # Unequal, so a per-refund figure can never pass for the running total.
            whole = request.amount.amount
            amounts = [Money(whole // 4, request.amount.currency)]
            amounts.append(Money(whole // 5, request.amount.currency))
        elif refunds and capability.refunds is RefundSupport.FULL:
            amounts = [request.amount]
        shopper = Shopper(gateway, sandbox.hub)
        try:
            result = shopper.checkout(request, refunds=tuple(amounts))
        finally:
            shopper.close()
        return result, amounts

    @pytest.fixture
    def events(
        self,
        sandbox: Sandbox,
        gateway: Gateway,
        provider_name: str,
        refunded_checkouts: list[RefundedCheckout],
    ) -> list[WebhookEvent]:
        """Every callback received so far (the refunded checkouts' among them), parsed."""
        inbox = sandbox.hub.inbox(provider_name)
        return [gateway.parse_webhook(provider_name, r.body, r.headers) for r in inbox]

    # -- a checkout, start to end ----------------------------------------------------------------

    def test_plugin_and_emulator_complete_a_checkout(
        self, sandbox: Sandbox, gateway: Gateway, charge_requests: list[ChargeRequest]
    ) -> None:
        """Meaning ``checkout``: create, pay through the emulator's customer, read the verified
        callback, retrieve: every capability, sync gateway."""
        for request in charge_requests:
            result, _ = self._checkout(sandbox, gateway, request, refunds=False)
            assert result.charge.status.is_paid, (request.method, result.charge.status)
            assert result.callbacks >= 1, f"{request.method}: no verified callback came"
            again = gateway.retrieve_charge(result.charge)
            assert again.status == result.charge.status
            assert again.amount == request.amount

    def test_event_types_name_what_the_event_reports(
        self, refunded_checkouts: list[RefundedCheckout], events: list[WebhookEvent]
    ) -> None:
        """Meaning ``event-type``: every capability, refunded as it allows."""
        assert events
        for event in events:
            reported = EventType.reporting(
                event.charge.status if event.charge is not None else None,
                event.refund.status if event.refund is not None else None,
            )
            assert event.type is reported, (event.id, event.type, reported)
            assert event.provider_data, f"{event.id}: the provider's own word is not kept"
        # Re-read now, a charge may be refunded; it was paid before: some event says so.
        for request, _, _ in refunded_checkouts:
            assert any(
                e.charge is not None
                and e.charge.reference == request.reference
                and e.type in PAID_EVENT_TYPES
                for e in events
            ), f"{request.method}: no event says the charge was paid"

    def test_refunded_amount_is_cumulative(
        self,
        gateway: Gateway,
        refunded_checkouts: list[RefundedCheckout],
        events: list[WebhookEvent],
    ) -> None:
        """Meaning ``refunded-amount``: after two unequal partial refunds, the charge (read back,
        and in every callback that carries it) states their running total."""
        refunded = 0
        for request, result, refunds in refunded_checkouts:
            if not refunds:
                continue  # this method takes no refunds
            refunded += 1
            total = sum(refunds[1:], refunds[0])
            assert result.charge.refunded_amount == total, request.method
            assert gateway.retrieve_charge(result.charge).refunded_amount == total, request.method
            running = {request.amount.zero(), refunds[0], total}
            for event in events:
                if event.charge is not None and event.charge.id == result.charge.id:
                    assert event.charge.refunded_amount in running, (
                        request.method,
                        event.id,
                        event.charge.refunded_amount,
                    )
        if not refunded:
            pytest.skip("no capability takes refunds")

    def test_remaining_amount_is_what_is_left(
        self, refunded_checkouts: list[RefundedCheckout], events: list[WebhookEvent]
    ) -> None:
        """Meaning ``remaining-amount``: when an event states it, it is what is left of the
        payment after the event: never the charge's amount before refunds, never a refund."""
        lefts: dict[str, set[Money]] = {}
        for request, result, refunds in refunded_checkouts:
            left = lefts[result.charge.id] = {request.amount}
            taken = request.amount.zero()
            for refund in refunds:
                taken = taken + refund
                left.add(request.amount - taken)
        for event in events:
            if event.remaining_amount is None:
                continue
            if event.charge is not None:
                assert event.remaining_amount == event.charge.refundable_amount or (
                    event.remaining_amount == event.charge.amount - event.charge.refunded_amount
                ), event.id
            if event.refund is not None and event.refund.charge_id in lefts:
                assert event.remaining_amount in lefts[event.refund.charge_id], (
                    event.id,
                    event.remaining_amount,
                )

    # -- callbacks -------------------------------------------------------------------------------

    def test_event_ids_are_stable_across_redeliveries_and_distinct_for_distinct_content(
        self,
        sandbox: Sandbox,
        gateway: Gateway,
        provider_name: str,
        charge_requests: list[ChargeRequest],
    ) -> None:
        """Meaning ``event-id``: callbacks are delivered twice (from the refund on); a redelivery
        keeps its id, and one id never stands for two different reports (deduping on it loses
        nothing)."""
        refundable = [
            r
            for r in charge_requests
            if gateway.route(r).capability.refunds is not RefundSupport.NONE
        ]
        if not refundable:
            pytest.skip(f"{provider_name} refunds nothing: no second callback to redeliver")
        request = refundable[0]
        result, _ = self._checkout(sandbox, gateway, request, refunds=False)
        # Only now: the scripted customer would act again on a redelivered "scan the QR code".
        sandbox.faults.update({"callback_duplicate": 1.0})
        before = len(sandbox.hub.inbox(provider_name))
        gateway.refund(result.charge, request.amount)
        assert sandbox.hub.wait_for_callback(provider_name, before + 1), "no redelivery came"
        received = sandbox.hub.inbox(provider_name)
        by_id: dict[str, tuple[Any, ...]] = {}
        by_body: dict[bytes, str] = {}
        for delivery in received:
            event = gateway.parse_webhook(provider_name, delivery.body, delivery.headers)
            again = gateway.parse_webhook(provider_name, delivery.body, delivery.headers)
            assert again.id == event.id, "the same delivery parsed twice changed its id"
            if delivery.body in by_body:
                assert by_body[delivery.body] == event.id, "a redelivery changed its id"
            by_body[delivery.body] = event.id
            content = _content(event)
            assert by_id.setdefault(event.id, content) == content, (
                f"event id {event.id} stands for two different reports"
            )
        assert len(received) > len(by_body), "no callback was delivered twice"

    def test_a_well_formed_webhook_with_a_bad_signature_is_refused(
        self,
        sandbox: Sandbox,
        gateway: Gateway,
        provider_name: str,
        refunded_checkouts: list[RefundedCheckout],
    ) -> None:
        """Meaning ``webhook-signature``: every genuine callback of a checkout of each capability
        (and its refunds) with one amount changed."""
        received = sandbox.hub.inbox(provider_name)
        assert received
        for delivery in received:
            with pytest.raises(WebhookVerificationError):
                gateway.parse_webhook(provider_name, _tampered(delivery.body), delivery.headers)

    # -- look-ups and lost answers ---------------------------------------------------------------

    def test_an_unknown_reference_is_not_found(self, gateway: Gateway, provider_name: str) -> None:
        """Meaning ``unknown-reference``."""
        with pytest.raises(NotFound):
            gateway.retrieve_charge(provider_name, reference=_reference("never-made"))

    def test_a_lost_create_answer_is_the_charge_or_may_exist(
        self, lost_creates: list[tuple[ChargeRequest, Charge | PaymuxError]]
    ) -> None:
        """Meaning ``lost-create-answer``, on both gateways and every capability: the charge
        its own attempt made, or ``TransportError(request_sent=True)``; never
        :class:`DuplicateRequest`."""
        for request, outcome in lost_creates:
            if isinstance(outcome, Charge):
                assert (outcome.reference, outcome.amount) == (request.reference, request.amount)
            else:
                # DuplicateRequest would say "another request holds the reference": untrue here.
                assert isinstance(outcome, TransportError), (request.method, outcome)
                assert outcome.request_sent, f"{request.method}: the request reached the emulator"

    def test_a_retry_that_meets_its_own_attempt_returns_that_charge(
        self,
        gateway: Gateway,
        provider_name: str,
        lost_creates: list[tuple[ChargeRequest, Charge | PaymuxError]],
    ) -> None:
        """Meaning ``retry-meets-own-attempt``, on both gateways and every capability: where the
        create is retried (the provider refuses a reused reference itself), the retry's answer
        is the first attempt's charge; elsewhere the create is not retried (``unsafe-write``)."""
        retried = gateway.provider(provider_name).unique_references
        for request, outcome in lost_creates:
            if not retried:
                assert isinstance(outcome, TransportError), (request.method, outcome)
                assert outcome.request_sent, request.method
                continue
            assert isinstance(outcome, Charge), (request.method, outcome)
            assert (outcome.reference, outcome.amount) == (request.reference, request.amount)
            assert gateway.retrieve_charge(outcome).id == outcome.id, request.method

    def test_a_reference_reused_for_another_request_is_a_duplicate(
        self,
        gateway: Gateway,
        provider_name: str,
        charge_requests: list[ChargeRequest],
        create: Create,
    ) -> None:
        """Meaning ``reference-reused``, on both gateways and every capability: a different
        request under a used reference is :class:`DuplicateRequest` (whether the provider
        refuses it or the plugin finds the charge first), and the same request again answers
        with the charge made. Precondition: the provider keeps unique references, or the
        plugin is configured to look one up first (``reused_reference_settings``)."""
        assert gateway.provider(provider_name).unique_references or (
            self.reused_reference_settings
        ), (
            f"{provider_name} keeps no unique reference: name the settings under which the"
            " plugin refuses a reused one itself in `reused_reference_settings`"
        )
        for request in charge_requests:
            first = gateway.create_charge(request)
            again = create(request)
            assert isinstance(again, Charge), (request.method, again)
            assert again.id == first.id, request.method
            fewer = Money(request.amount.amount - 1, request.amount.currency)
            other = create(request.model_copy(update={"amount": fewer}))
            assert isinstance(other, DuplicateRequest), (request.method, other)


__all__ = ["EmulatorContract", "RefundedCheckout"]
