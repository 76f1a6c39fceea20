"""A contract every provider plugin should pass, as a pytest base class.

Subclass :class:`ProviderContract` in the plugin's tests and provide three fixtures::

    class TestFooContract(ProviderContract):
        @pytest.fixture
        def provider(self) -> Provider[Any]:
            return FooProvider.configure({"api_key": "k_test_contract"})

        @pytest.fixture
        def secrets(self) -> list[str]:
            return ["k_test_contract"]

        @pytest.fixture
        def make_request(self) -> Callable[[Capability, Money], ChargeRequest]:
            return lambda capability, amount: ChargeRequest(...)   # a valid request otherwise

Each test checks a promise the core makes to users on the plugin's behalf: capabilities are
well-formed data, everything the provider would refuse is refused before the network, garbage
callbacks raise paymux errors only, and secrets stay out of reprs and error texts. Needs pytest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from ..errors import ConfigurationError, InvalidRequest, NoRouteError, PaymuxError
from ..models import Capability, ChargeRequest
from ..money import Money, currency_exponent
from ..provider import Provider
from ..router import Router
from . import no_network, run_flow

RequestFactory = Callable[[Capability, Money], ChargeRequest]

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

    @pytest.fixture
    def provider(self) -> Provider[Any]:
        raise NotImplementedError("the plugin's contract test must provide a `provider` fixture")

    @pytest.fixture
    def secrets(self) -> list[str]:
        raise NotImplementedError("the plugin's contract test must provide a `secrets` fixture")

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        raise NotImplementedError(
            "the plugin's contract test must provide a `make_request` fixture"
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
        capability = provider.capabilities()[0]
        limits = capability.amounts[0]
        request = make_request(capability, Money(limits.minimum, limits.currency))
        unknown = request.model_copy(update={"method": "no-such-method"})
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


__all__ = ["ProviderContract", "RequestFactory"]
