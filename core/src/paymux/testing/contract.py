"""A contract every provider plugin should pass, as a pytest base class.

Subclass :class:`ProviderContract` in the plugin's tests and state the plugin in class
attributes; the kit builds its fixtures from them::

    class TestFooContract(ProviderContract):
        provider_class = FooProvider
        provider_settings = {"api_key": "k_test_contract"}   # its SecretStr values: the secrets
        request_fields = {"customer": Customer(id="c1")}      # a valid request, but for
        home_country = "NL"                                   #   amount, method and market
        charge_answer = A_CHARGE     # a charge as ``GET`` answers it; its status word is replaced

        @pytest.fixture
        def signed_webhook(self) -> SignedWebhook:
            return lambda word: (body_about_a_charge_in(word), signed_headers)

``signed_webhook`` is the one hook without a default: a correctly signed webhook (body, headers)
about charge ``contract-charge-1`` whose provider status word is ``word``. Any fixture may be
overridden instead (``provider``, ``secrets``, ``make_request``, ``status_answer``: the answer to
``retrieve_charge`` by that id for a charge in status ``word``), when the provider's answers are
not one object with a status field.

Each test checks a promise the core makes to users on the plugin's behalf: capabilities are
well-formed data, the router picks the provider exactly when its flow accepts the request (every
rule a capability states, broken one at a time), everything the provider would refuse is refused
before the network, for every capability the plugin declares; garbage callbacks raise paymux
errors only, secrets stay out of reprs and error texts, and the words of the meanings table
(``docs/meanings.md``) mean the same here. What needs the provider's own API is checked against
its emulator by :class:`paymux.testing.emulator_contract.EmulatorContract`. Needs pytest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr

from ..errors import (
    ConfigurationError,
    InvalidRequest,
    NoRouteError,
    PaymuxError,
    RateLimited,
)
from ..event_types import EventType
from ..models import Capability, ChargeRequest, ReturnUrls
from ..money import Money, currency_exponent
from ..provider import ChargeLookup, Provider, is_retry_safe
from ..router import Router
from . import no_network, run_flow

RequestFactory = Callable[[Capability, Money], ChargeRequest]
StatusAnswer = Callable[[str], httpx.Response]
SignedWebhook = Callable[[str], tuple[bytes, dict[str, str]]]
"""A provider status word -> a correctly signed webhook (body, headers) about a charge in it."""

PAID_EVENT_TYPES = frozenset(
    {EventType.CHARGE_SUCCEEDED, EventType.CHARGE_PARTIALLY_REFUNDED, EventType.CHARGE_REFUNDED}
)
"""Event types that say money came in: what an unknown status must never read as."""

UNKNOWN_STATUS = "paymux-contract-unheard-of"
"""A provider status word no provider uses."""
CONTRACT_LOOKUP = ChargeLookup(charge_id="contract-charge-1")
OUTSIDE_EVERY_MARKET = "AQ"
"""Antarctica: an assigned country code no payment method is sold in."""

_GARBAGE = [
    b"",
    b"not json",
    b"{}",
    b"[]",
    b"null",
    b'{"object": "event"}',
    b'{"payment": {"id": 1}}',
    b"\xff\xfe\x00garbage",
    b"[" * 5000 + b"]" * 5000,
]


class ProviderContract:
    """Inherit in a ``Test...`` class; pytest collects the tests below for the plugin."""

    provider_class: ClassVar[type[Provider[Any]]]
    """The plugin's provider class, configured with ``provider_settings`` by the kit."""
    provider_settings: ClassVar[Mapping[str, Any]] = {}
    """Test settings; the values of its ``SecretStr`` fields are the secrets looked for."""
    request_fields: ClassVar[Mapping[str, Any]] = {}
    home_country: ClassVar[str] = "US"
    charge_answer: ClassVar[Mapping[str, Any]] = {}
    status_key: ClassVar[str] = "status"
    """The field of ``charge_answer`` holding the provider's status word."""

    @pytest.fixture
    def provider(self) -> Provider[Any]:
        if not hasattr(self, "provider_class"):
            raise NotImplementedError(
                "the plugin's contract test must set `provider_class` (or provide `provider`)"
            )
        return self.provider_class.configure(dict(self.provider_settings))

    @pytest.fixture
    def secrets(self, provider: Provider[Any]) -> list[str]:
        return secrets_among(provider, self.provider_settings)

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        return request_factory(self.home_country, **self.request_fields)

    @pytest.fixture
    def status_answer(self) -> StatusAnswer:
        if not self.charge_answer:
            raise NotImplementedError(
                "the plugin's contract test must set `charge_answer` (or provide `status_answer`)"
            )
        charge = {**self.charge_answer, "id": CONTRACT_LOOKUP.charge_id}
        return lambda word: httpx.Response(200, json={**charge, self.status_key: word})

    @pytest.fixture
    def signed_webhook(self) -> SignedWebhook:
        raise NotImplementedError(
            "the plugin's contract test must provide a `signed_webhook` fixture"
        )

    # -- capabilities are data the router can trust ---------------------------------------------

    def test_capabilities_are_well_formed(self, provider: Provider[Any]) -> None:
        capabilities = provider.capabilities()
        assert capabilities, "a provider offers at least one method"
        methods = [c.method for c in capabilities]
        assert len(methods) == len(set(methods)), "one capability per method"
        for capability in capabilities:
            assert capability.provider == provider.name
            assert capability.amounts, f"{capability.method}: no currencies"
            for limits in capability.amounts:
                currency_exponent(limits.currency)  # raises for codes ISO 4217 does not know
                assert limits.maximum is None or limits.minimum <= limits.maximum
            for country in capability.countries or ():
                assert re.fullmatch(r"[A-Z]{2}", country), f"{country!r} is not ISO 3166-1 alpha-2"

    def test_router_admits_exactly_the_declared_limits(
        self, provider: Provider[Any], make_request: RequestFactory
    ) -> None:
        router = Router({provider.name: provider})
        for capability in provider.capabilities():
            for limits in capability.amounts:
                assert router.decide(
                    make_request(capability, Money(limits.minimum, limits.currency))
                )
                if limits.minimum > 0:
                    with pytest.raises(NoRouteError):
                        router.decide(
                            make_request(capability, Money(limits.minimum - 1, limits.currency))
                        )

    # -- refused before the network --------------------------------------------------------------

    def test_out_of_limit_amounts_are_refused_before_the_network(
        self, provider: Provider[Any], make_request: RequestFactory
    ) -> None:
        for capability in provider.capabilities():
            for limits in capability.amounts:
                if limits.maximum is not None:
                    request = make_request(capability, Money(limits.maximum + 1, limits.currency))
                    with pytest.raises(InvalidRequest):
                        run_flow(provider.create_charge(request), no_network)

    def test_unsupported_currency_is_refused_before_the_network(
        self, provider: Provider[Any], make_request: RequestFactory
    ) -> None:
        for capability in provider.capabilities():
            taken = {r.currency for r in capability.amounts}
            other = next(
                c for c in ("XTS", "JPY", "EUR", "KRW", "USD") if c not in taken and _known(c)
            )
            request = make_request(capability, Money(10_000, other))
            with pytest.raises(InvalidRequest):
                run_flow(provider.create_charge(request), no_network)

    def test_unknown_method_is_refused_before_the_network(
        self, provider: Provider[Any], make_request: RequestFactory
    ) -> None:
        for capability in provider.capabilities():
            unknown = _smallest(make_request, capability).model_copy(
                update={"method": "no-such-method"}
            )
            with pytest.raises(InvalidRequest):
                run_flow(provider.create_charge(unknown), no_network)

    # -- callbacks -------------------------------------------------------------------------------

    @pytest.mark.parametrize("body", _GARBAGE, ids=range(len(_GARBAGE)))
    def test_garbage_callbacks_raise_paymux_errors_only(
        self, provider: Provider[Any], body: bytes
    ) -> None:
        def answer_not_found(request: Any) -> Any:
            import httpx

            return httpx.Response(
                404, json={"object": "error", "code": "not_found", "message": "no"}
            )

        with pytest.raises(PaymuxError):
            run_flow(provider.parse_webhook(body, {}), answer_not_found)

    def test_webhooks_are_verified_then_translated_by_the_core(
        self, provider: Provider[Any]
    ) -> None:
        """The plugin implements ``verify_webhook`` and ``translate_webhook`` and leaves
        ``parse_webhook`` to the core, which runs them in that order: no body is translated
        before it is verified. (Overriding ``parse_webhook`` alone still works, unchecked.)"""
        cls = type(provider)
        assert cls.parse_webhook is Provider.parse_webhook, "parse_webhook is overridden"
        assert cls.verify_webhook is not Provider.verify_webhook, "no verify_webhook"
        assert cls.translate_webhook is not Provider.translate_webhook, "no translate_webhook"

    # -- one meaning per word (docs/meanings.md) ------------------------------------------------

    def test_unknown_status_never_maps_to_succeeded(
        self,
        provider: Provider[Any],
        status_answer: StatusAnswer,
        signed_webhook: SignedWebhook,
    ) -> None:
        """Meaning ``unknown-status``, on both paths a status arrives by: a look-up, and a
        correctly signed webhook (any read-back it makes answered in the same word)."""
        answer = status_answer(UNKNOWN_STATUS)
        charge = run_flow(provider.retrieve_charge(CONTRACT_LOOKUP), lambda _: answer)
        assert not charge.status.is_paid, f"{UNKNOWN_STATUS!r} read as {charge.status}"
        assert charge.provider_status == UNKNOWN_STATUS, "the provider's word is kept"

        body, headers = signed_webhook(UNKNOWN_STATUS)
        event = run_flow(
            provider.parse_webhook(body, headers), lambda _: status_answer(UNKNOWN_STATUS)
        )
        assert event.type not in PAID_EVENT_TYPES, f"a webhook in {UNKNOWN_STATUS!r}: {event.type}"
        if event.charge is not None:
            assert not event.charge.status.is_paid, (
                f"a webhook in {UNKNOWN_STATUS!r} carries a charge {event.charge.status}"
            )

    @pytest.mark.parametrize("body", [b"", b"<html>Too many requests</html>", b"{}"])
    def test_a_rate_limit_is_rate_limited(
        self, provider: Provider[Any], make_request: RequestFactory, body: bytes
    ) -> None:
        """Meaning ``rate-limit``: whatever the body says, HTTP 429 is :class:`RateLimited`."""

        def limited(_: httpx.Request) -> httpx.Response:
            return httpx.Response(429, headers={"Retry-After": "1"}, content=body)

        flows = {"retrieve_charge": provider.retrieve_charge(CONTRACT_LOOKUP)}
        for capability in provider.capabilities():
            request = _smallest(make_request, capability)
            flows[f"create_charge({capability.method})"] = provider.create_charge(request)
        for name, flow in flows.items():
            with pytest.raises(RateLimited) as info:
                run_flow(flow, limited)
            assert info.value.nothing_done, f"{name}: a rate limit did nothing"

    def test_writes_without_an_idempotency_guarantee_are_not_retry_safe(
        self, provider: Provider[Any], make_request: RequestFactory
    ) -> None:
        """Meaning ``unsafe-write``: only a provider that refuses a reused reference itself
        (``unique_references``) may have its create sent twice."""
        sent: list[httpx.Request] = []

        def first_only(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            raise _Stop

        for capability in provider.capabilities():
            request = _smallest(make_request, capability)
            with pytest.raises(_Stop):
                run_flow(provider.create_charge(request), first_only)
            write = sent.pop()
            if write.method in ("GET", "HEAD"):
                continue  # a read before the write; the write itself is not reached here
            assert is_retry_safe(write) == type(provider).unique_references, (
                f"{capability.method}: create marked retry_safe={is_retry_safe(write)} but"
                f" unique_references={type(provider).unique_references}"
            )

    def test_country_is_the_market_the_capability_declares(
        self, provider: Provider[Any], make_request: RequestFactory
    ) -> None:
        """Meaning ``country``: the router and the plugin read ``ChargeRequest.country`` alike,
        as the market the payment is made in."""
        router = Router({provider.name: provider})
        for capability in provider.capabilities():
            if capability.countries is None:
                continue
            request = _smallest(make_request, capability)
            assert router.decide(request).provider == provider.name
            abroad = request.model_copy(update={"country": OUTSIDE_EVERY_MARKET})
            with pytest.raises(NoRouteError):
                router.decide(abroad)
            with pytest.raises(InvalidRequest):
                run_flow(provider.create_charge(abroad), no_network)

    def test_route_and_create_agree_on_every_rule(
        self, provider: Provider[Any], make_request: RequestFactory
    ) -> None:
        """The router picks the provider exactly when its ``create_charge`` accepts the request
        before the network, for each rule a capability declares as data (market, currency,
        limits, customer fields, return pages): no rule lives only in the plugin's code."""
        router = Router({provider.name: provider})
        for capability in provider.capabilities():
            for request in _rule_variants(_smallest(make_request, capability), capability):
                try:
                    router.decide(request)
                    routed = True
                except (NoRouteError, InvalidRequest):
                    routed = False
                created = _passes_local_checks(provider, request.model_copy())
                assert routed == created, (
                    f"{capability.method}: the router {'takes' if routed else 'refuses'} but"
                    f" create_charge {'accepts' if created else 'refuses'} {request!r}"
                )

    # -- secrets ---------------------------------------------------------------------------------

    def test_secrets_stay_out_of_reprs_and_errors(
        self, provider: Provider[Any], secrets: list[str]
    ) -> None:
        assert secrets, "name the secrets the provider was configured with"
        texts = [
            repr(provider),
            str(provider.settings),
            repr(provider.settings),
            str(provider.describe()),
            provider.settings.model_dump_json(),
        ]
        settings = {k: v for k, v in provider.settings.model_dump().items() if v is not None}
        settings["no_such_setting"] = True
        with pytest.raises(ConfigurationError) as info:
            type(provider).configure({**_reveal(settings), **_reveal_secrets(provider)})
        texts.append(str(info.value))
        for secret in secrets:
            assert not [t for t in texts if secret in t], f"a secret leaked: {secret[:3]}..."
        assert set(secrets) <= set(provider.secret_values()), "secret_values() feeds log redaction"


class _Stop(Exception):
    """Ends a flow once its first request has been seen."""


def _known(code: str) -> bool:
    try:
        currency_exponent(code)
    except InvalidRequest:
        return False
    return True


def _reveal(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if not hasattr(v, "get_secret_value")}


def _reveal_secrets(provider: Provider[Any]) -> dict[str, Any]:
    values = {}
    for name in type(provider.settings).model_fields:
        value = getattr(provider.settings, name)
        if hasattr(value, "get_secret_value"):
            values[name] = value.get_secret_value()
    return values


def market_of(capability: Capability, currency: str, home_country: str) -> str:
    """The market a request in ``currency`` is made in for ``capability``: the first country
    tied to that currency, else the capability's first, else ``home_country``."""
    for limits in capability.amounts:
        if limits.currency == currency and limits.countries:
            return limits.countries[0]
    return (capability.countries or (home_country,))[0]


def request_factory(home_country: str = "US", **fields: Any) -> RequestFactory:
    """The kit's ``make_request``: a request for the capability's method, the amount, and its
    market (:func:`market_of`), with ``fields`` (customer, return pages, ...) as given."""

    def make(capability: Capability, amount: Money) -> ChargeRequest:
        return ChargeRequest(
            reference="contract-1",
            amount=amount,
            method=capability.method,
            country=market_of(capability, amount.currency, home_country),
            **fields,
        )

    return make


def secrets_among(provider: Provider[Any], settings: Mapping[str, Any]) -> list[str]:
    """The values in ``settings`` that ``provider``'s settings hold as secrets."""
    return [
        str(settings[name])
        for name in settings
        if isinstance(getattr(provider.settings, name, None), SecretStr)
    ]


def _smallest(make_request: RequestFactory, capability: Capability) -> ChargeRequest:
    limits = capability.amounts[0]
    return make_request(capability, Money(limits.minimum, limits.currency))


__all__ = [
    "CONTRACT_LOOKUP",
    "PAID_EVENT_TYPES",
    "ProviderContract",
    "RequestFactory",
    "SignedWebhook",
    "StatusAnswer",
    "market_of",
    "request_factory",
    "secrets_among",
]


def _passes_local_checks(provider: Provider[Any], request: ChargeRequest) -> bool:
    """Whether the create flow gets as far as its first request (or answers without one)."""
    flow = provider.create_charge(request)
    try:
        next(flow)
    except InvalidRequest:
        return False
    except StopIteration:
        return True
    finally:
        flow.close()
    return True


def _rule_variants(request: ChargeRequest, capability: Capability) -> list[ChargeRequest]:
    """``request`` (valid) and one variant per rule a capability may state, each breaking it."""
    shop = "https://shop.example"
    pages = ReturnUrls(success=f"{shop}/paid", decline=f"{shop}/declined", back=f"{shop}/cart")
    customer = request.customer
    variants = [
        request,
        request.model_copy(update={"country": OUTSIDE_EVERY_MARKET}),
        request.model_copy(update={"return_urls": None}),
        request.model_copy(update={"return_urls": pages}),
        request.model_copy(update={"return_urls": ReturnUrls(success=f"{shop}/paid")}),
        request.model_copy(
            update={"return_urls": ReturnUrls(success="http://shop.example/paid", back=f"{shop}/c")}
        ),
    ]
    for name in ("ip_address", "email", "phone", "first_name", "last_name"):
        variants.append(
            request.model_copy(update={"customer": customer.model_copy(update={name: None})})
        )
    for limits in capability.amounts:
        variants.append(
            request.model_copy(update={"amount": Money(limits.minimum, limits.currency)})
        )
        if limits.minimum > 0:
            variants.append(
                request.model_copy(update={"amount": Money(limits.minimum - 1, limits.currency)})
            )
        if limits.maximum is not None:
            variants.append(
                request.model_copy(update={"amount": Money(limits.maximum + 1, limits.currency)})
            )
        for country in limits.countries or ():
            variants.append(request.model_copy(update={"country": country}))
    return variants
