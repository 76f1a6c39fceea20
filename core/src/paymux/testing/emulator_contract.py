"""The plugin and its emulator, together: a pytest base class run against a live sandbox.

Subclass :class:`EmulatorContract` in the plugin's tests, name the emulator and provide one
fixture::

    class TestFooEmulatorContract(EmulatorContract):
        emulator_class = FooEmulator

        @pytest.fixture
        def make_request(self) -> RequestFactory:
            return lambda capability, amount: ChargeRequest(...)   # as for ProviderContract

The sandbox serves the emulator on loopback (its sibling accounts too, unused here); a gateway
configured with ``emulator.provider_settings()`` talks to it over real HTTP. Each test checks a
row of the meanings table (``docs/meanings.md``) through the public API alone: create, the
simulated customer's action, callbacks parsed by the plugin, look-ups, refunds, lost answers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any, ClassVar

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
from .contract import RequestFactory

# Retries without waits: the lost-answer checks need the retry, not the back-off.
_QUICK = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0)
_references = itertools.count(1)
_PAID_TYPES = frozenset(
    {EventType.CHARGE_SUCCEEDED, EventType.CHARGE_PARTIALLY_REFUNDED, EventType.CHARGE_REFUNDED}
)


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


def _create(
    kind: str, sandbox: Sandbox, provider: str, request: ChargeRequest
) -> Charge | PaymuxError:
    """``create_charge`` on a fresh sync or async gateway: the charge, or the error raised."""
    settings = {provider: sandbox.emulators[provider].provider_settings()}
    try:
        if kind == "sync":
            with Gateway(providers=settings, retry=_QUICK) as gw:
                return gw.create_charge(request, provider=provider)

        async def create() -> Charge:
            async with AsyncGateway(providers=settings, retry=_QUICK) as gw:
                return await gw.create_charge(request, provider=provider)

        return asyncio.run(create())
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


class EmulatorContract:
    """Inherit in a ``Test...`` class; pytest collects the tests below for the plugin."""

    emulator_class: ClassVar[type[Emulator]]

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        raise NotImplementedError(
            "the plugin's emulator contract test must provide a `make_request` fixture"
        )

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
    def gateway(self, sandbox: Sandbox, provider_name: str) -> Iterator[Gateway]:
        settings = {provider_name: sandbox.emulators[provider_name].provider_settings()}
        with Gateway(providers=settings, retry=_QUICK) as gw:
            yield gw

    def _requests(
        self, gateway: Gateway, provider: str, make_request: RequestFactory, test: str
    ) -> list[ChargeRequest]:
        capabilities = [c for c in gateway.capabilities() if c.provider == provider]
        assert capabilities, f"{provider} offers nothing"
        return [
            make_request(c, _amount(c)).model_copy(update={"reference": _reference(test)})
            for c in capabilities
        ]

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

    def _events(self, sandbox: Sandbox, gateway: Gateway, provider: str) -> list[WebhookEvent]:
        events = []
        for received in sandbox.hub.inbox(provider):
            events.append(gateway.parse_webhook(provider, received.body, received.headers))
        return events

    # -- a checkout, start to end ----------------------------------------------------------------

    def test_plugin_and_emulator_complete_a_checkout(
        self,
        sandbox: Sandbox,
        gateway: Gateway,
        provider_name: str,
        make_request: RequestFactory,
    ) -> None:
        """Meaning ``checkout``: create, pay through the emulator's customer, read the verified
        callback, retrieve: every capability, sync gateway."""
        for request in self._requests(gateway, provider_name, make_request, "checkout"):
            result, _ = self._checkout(sandbox, gateway, request, refunds=False)
            assert result.charge.status.is_paid, (request.method, result.charge.status)
            assert result.callbacks >= 1, f"{request.method}: no verified callback came"
            again = gateway.retrieve_charge(result.charge)
            assert again.status == result.charge.status
            assert again.amount == request.amount

    def test_event_types_name_what_the_event_reports(
        self, sandbox: Sandbox, gateway: Gateway, provider_name: str, make_request: RequestFactory
    ) -> None:
        """Meaning ``event-type``."""
        request = self._requests(gateway, provider_name, make_request, "types")[0]
        self._checkout(sandbox, gateway, request, refunds=True)
        events = self._events(sandbox, gateway, provider_name)
        assert events
        for event in events:
            reported = EventType.reporting(
                event.charge.status if event.charge is not None else None,
                event.refund.status if event.refund is not None else None,
            )
            assert event.type is reported, (event.id, event.type, reported)
            assert event.provider_data, f"{event.id}: the provider's own word is not kept"
        # Re-read now, the charge is refunded in part; it was paid before: some event says so.
        assert any(
            e.charge is not None
            and e.charge.reference == request.reference
            and e.type in _PAID_TYPES
            for e in events
        )

    def test_refunded_amount_is_cumulative(
        self, sandbox: Sandbox, gateway: Gateway, provider_name: str, make_request: RequestFactory
    ) -> None:
        """Meaning ``refunded-amount``: after two unequal partial refunds, the charge (read back,
        and in every callback that carries it) states their running total."""
        request = self._requests(gateway, provider_name, make_request, "refunds")[0]
        result, refunds = self._checkout(sandbox, gateway, request, refunds=True)
        if not refunds:
            pytest.skip(f"{request.method} takes no refunds")
        total = sum(refunds[1:], refunds[0])
        assert result.charge.refunded_amount == total
        assert gateway.retrieve_charge(result.charge).refunded_amount == total
        running = {request.amount.zero(), refunds[0], total}
        for event in self._events(sandbox, gateway, provider_name):
            if event.charge is not None and event.charge.id == result.charge.id:
                assert event.charge.refunded_amount in running, (
                    event.id,
                    event.charge.refunded_amount,
                )

    def test_remaining_amount_is_what_is_left(
        self, sandbox: Sandbox, gateway: Gateway, provider_name: str, make_request: RequestFactory
    ) -> None:
        """Meaning ``remaining-amount``: when an event states it, it is what is left of the
        payment after the event: never the charge's amount before refunds, never a refund."""
        request = self._requests(gateway, provider_name, make_request, "remaining")[0]
        result, refunds = self._checkout(sandbox, gateway, request, refunds=True)
        lefts = {request.amount}
        taken = request.amount.zero()
        for refund in refunds:
            taken = taken + refund
            lefts.add(request.amount - taken)
        for event in self._events(sandbox, gateway, provider_name):
            if event.remaining_amount is None:
                continue
            if event.charge is not None:
                assert event.remaining_amount == event.charge.refundable_amount or (
                    event.remaining_amount == event.charge.amount - event.charge.refunded_amount
                ), event.id
            if event.refund is not None and event.refund.charge_id == result.charge.id:
                assert event.remaining_amount in lefts, (event.id, event.remaining_amount)

    # -- callbacks -------------------------------------------------------------------------------

    def test_event_ids_are_stable_across_redeliveries_and_distinct_for_distinct_content(
        self, sandbox: Sandbox, gateway: Gateway, provider_name: str, make_request: RequestFactory
    ) -> None:
        """Meaning ``event-id``: callbacks are delivered twice (from the refund on); a redelivery
        keeps its id, and one id never stands for two different reports (deduping on it loses
        nothing)."""
        requests = self._requests(gateway, provider_name, make_request, "ids")
        refundable = [
            r for r in requests if gateway.route(r).capability.refunds is not RefundSupport.NONE
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
        self, sandbox: Sandbox, gateway: Gateway, provider_name: str, make_request: RequestFactory
    ) -> None:
        """Meaning ``webhook-signature``: a genuine callback with one amount changed."""
        request = self._requests(gateway, provider_name, make_request, "forged")[0]
        self._checkout(sandbox, gateway, request, refunds=False)
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

    def _lose_first_answer(self, sandbox: Sandbox, provider: str) -> None:
        # The emulator processes the create's first write, then the connection dies.
        sandbox.faults.update({"once": [(f"POST /{provider}/", "drop")]})

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_a_lost_create_answer_is_the_charge_or_may_exist(
        self,
        sandbox: Sandbox,
        gateway: Gateway,
        provider_name: str,
        make_request: RequestFactory,
        kind: str,
    ) -> None:
        """Meaning ``lost-create-answer``, on both gateways: the charge its own attempt made, or
        ``TransportError(request_sent=True)``; never :class:`DuplicateRequest`."""
        request = self._requests(gateway, provider_name, make_request, "lost")[0]
        self._lose_first_answer(sandbox, provider_name)
        outcome = _create(kind, sandbox, provider_name, request)
        if isinstance(outcome, Charge):
            assert (outcome.reference, outcome.amount) == (request.reference, request.amount)
        else:
            # DuplicateRequest would say "another request holds the reference": untrue here.
            assert isinstance(outcome, TransportError), repr(outcome)
            assert outcome.request_sent, "the request reached the emulator"

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_a_retry_that_meets_its_own_attempt_returns_that_charge(
        self,
        sandbox: Sandbox,
        gateway: Gateway,
        provider_name: str,
        make_request: RequestFactory,
        kind: str,
    ) -> None:
        """Meaning ``retry-meets-own-attempt``, on both gateways: where the create is retried
        (the provider refuses a reused reference itself), the retry's answer is the first
        attempt's charge; elsewhere the create is not retried at all (``unsafe-write``)."""
        request = self._requests(gateway, provider_name, make_request, "retry")[0]
        self._lose_first_answer(sandbox, provider_name)
        outcome = _create(kind, sandbox, provider_name, request)
        if not gateway.provider(provider_name).unique_references:
            assert isinstance(outcome, TransportError), repr(outcome)
            assert outcome.request_sent
            return
        assert isinstance(outcome, Charge), repr(outcome)
        assert (outcome.reference, outcome.amount) == (request.reference, request.amount)
        assert gateway.retrieve_charge(outcome).id == outcome.id

    @pytest.mark.parametrize("kind", ["sync", "async"])
    def test_a_reference_reused_for_another_request_is_a_duplicate(
        self,
        sandbox: Sandbox,
        gateway: Gateway,
        provider_name: str,
        make_request: RequestFactory,
        kind: str,
    ) -> None:
        """Meaning ``reference-reused``, on both gateways: a different request under a used
        reference is :class:`DuplicateRequest` (whether the provider refuses it or the plugin
        finds the charge first), and the same request again answers with the charge made."""
        request = self._requests(gateway, provider_name, make_request, "reused")[0]
        first = gateway.create_charge(request)
        again = _create(kind, sandbox, provider_name, request)
        assert isinstance(again, Charge), repr(again)
        assert again.id == first.id
        fewer = Money(request.amount.amount - 1, request.amount.currency)
        other = _create(kind, sandbox, provider_name, request.model_copy(update={"amount": fewer}))
        assert isinstance(other, DuplicateRequest), repr(other)


__all__ = ["EmulatorContract"]
