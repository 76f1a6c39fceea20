"""The router tells the truth: it picks a provider exactly when that provider's create_charge
accepts the request before the network (issue 13 §1).

Every installed plugin takes part, with the accounts its sandbox serves (``paymux sandbox``'s
settings, no server needed), so a third plugin is covered as soon as it is installed. A flow is
driven to its first request only: passing the local checks is yielding a request, refusing is an
``InvalidRequest`` before one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paymux import (
    AmountRange,
    Capability,
    ChargeRequest,
    Customer,
    Gateway,
    Money,
    RefundSupport,
    ReturnUrls,
    available_providers,
)
from paymux.errors import InvalidRequest, NoRouteError
from paymux.models import ReturnUrlRules
from paymux.sandbox.settings import offline_settings

SHOP = "https://shop.example"


@cache
def sandbox_gateway() -> Gateway:
    """Every account of every installed plugin's sandbox, in the sandbox's order."""
    accounts = offline_settings(examples=True)
    plugins = {str(config.get("plugin", name)) for name, config in accounts.items()}
    missing = sorted(set(available_providers()) - plugins)
    assert not missing, f"installed plugins without a sandbox account: {missing}"
    return Gateway(providers=accounts)


def _vocabulary(gw: Gateway) -> tuple[list[str], list[str], list[str], list[int]]:
    capabilities = gw.capabilities()
    methods = sorted({c.method for c in capabilities} | {"alipay"})
    countries = sorted({c for cap in capabilities for c in cap.countries or ()} | {"US", "JP"})
    currencies = sorted({r.currency for cap in capabilities for r in cap.amounts} | {"JPY"})
    # Every limit and its neighbours, so both sides of each boundary are tried.
    edges = {1, 100, 10_000}
    for cap in capabilities:
        for limits in cap.amounts:
            edges |= {limits.minimum - 1, limits.minimum, limits.minimum + 1}
            if limits.maximum is not None:
                edges |= {limits.maximum - 1, limits.maximum, limits.maximum + 1}
    return methods, countries, currencies, sorted(e for e in edges if e >= 0)


def _url(page: str) -> st.SearchStrategy[str | None]:
    return st.sampled_from([None, f"{SHOP}/{page}", f"http://shop.example/{page}"])


@st.composite
def return_urls(draw: st.DrawFn) -> ReturnUrls | None:
    success = draw(_url("paid"))
    if success is None:
        return None
    return ReturnUrls(success=success, decline=draw(_url("declined")), back=draw(_url("cart")))


@st.composite
def customers(draw: st.DrawFn) -> Customer:
    return Customer(
        id="customer-1",
        ip_address=draw(st.sampled_from([None, "192.0.2.10", "2001:db8::1"])),
        email=draw(st.sampled_from([None, "minji@example.com"])),
        phone=draw(st.sampled_from([None, "+821012345678"])),
        first_name=draw(st.sampled_from([None, "Minji"])),
        last_name=draw(st.sampled_from([None, "Kim"])),
    )


@st.composite
def requests(draw: st.DrawFn, gw: Gateway) -> ChargeRequest:
    methods, countries, currencies, edges = _vocabulary(gw)
    currency = draw(st.sampled_from(currencies))
    amount = draw(st.one_of(st.sampled_from(edges), st.integers(0, 50_000_000)))
    return ChargeRequest(
        reference=f"order-{draw(st.integers(1, 10**9))}",
        amount=Money(amount, currency),
        method=draw(st.sampled_from(methods)),
        country=draw(st.sampled_from(countries)),
        customer=draw(customers()),
        return_urls=draw(return_urls()),
        description=draw(st.sampled_from([None, "Order 345678"])),
    )


def create_passes(gw: Gateway, provider: str, request: ChargeRequest) -> bool:
    """Whether ``provider``'s create flow gets as far as its first request."""
    # A copy: the router's answer for the request object itself must not stand in for the flow's.
    fresh = request.model_copy()
    flow = gw.provider(provider).create_charge(fresh)
    try:
        next(flow)
    except InvalidRequest:
        return False
    except StopIteration:
        return True  # answered without the network: it accepted the request
    finally:
        flow.close()
    return True


def route_candidates(gw: Gateway, request: ChargeRequest) -> tuple[str, ...]:
    try:
        return gw.route(request).candidates
    except (NoRouteError, InvalidRequest):
        # InvalidRequest: a provider takes the payment but for a detail the request lacks.
        return ()


def assert_agreement(gw: Gateway, request: ChargeRequest) -> None:
    candidates = route_candidates(gw, request)
    for name in gw.providers:
        routed = name in candidates
        created = create_passes(gw, name, request)
        assert routed == created, (
            f"{name}: route {'picks' if routed else 'refuses'} but create"
            f" {'accepts' if created else 'refuses'} {request!r}"
        )


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_route_picks_a_provider_exactly_when_its_create_passes_local_checks(
    data: st.DataObject,
) -> None:
    gw = sandbox_gateway()
    assert_agreement(gw, data.draw(requests(gw)))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_third_plugin_agrees_too(fakepay_installed: None, data: st.DataObject) -> None:
    # A plugin outside this repository's two (tests/support/fakepay.py), next to the sandbox's.
    assert "fakepay" in available_providers()
    gw = Gateway(providers={**offline_settings(examples=True), "fakepay": {"api_key": "k_test"}})
    assert_agreement(gw, data.draw(requests(gw)))


@cache
def unstated_market_gateway() -> Gateway:
    """The sandbox's accounts, and each that states its market (a ``country`` setting) once more
    without it: DESIGN.md configures Omise with its keys alone, so the account may be of any
    market the plugin serves."""
    accounts = offline_settings(examples=True)
    unstated = {
        f"{name}_unstated": {
            "plugin": config.get("plugin", name),
            **{key: value for key, value in config.items() if key != "country"},
        }
        for name, config in accounts.items()
        if "country" in config
    }
    assert unstated, "no sandbox account states its market"
    return Gateway(providers={**accounts, **unstated})


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_accounts_without_their_market_stated_agree_too(data: st.DataObject) -> None:
    gw = unstated_market_gateway()
    assert_agreement(gw, data.draw(requests(gw)))


def test_every_market_of_an_unstated_account_is_reachable() -> None:
    # Each currency in each of its markets, so the property above cannot hold vacuously.
    gw = unstated_market_gateway()
    for capability in gw.capabilities():
        if not capability.provider.endswith("_unstated"):
            continue
        for limits in capability.amounts:
            for country in limits.countries or capability.countries or ("US",):
                request = ChargeRequest(
                    reference="order-1",
                    amount=Money(limits.minimum or 1, limits.currency),
                    method=capability.method,
                    country=country,
                    customer=Customer(id="c1", ip_address="192.0.2.10", email="a@example.com"),
                    return_urls=ReturnUrls(success=f"{SHOP}/ok", decline=f"{SHOP}/no"),
                )
                assert capability.provider in route_candidates(gw, request), request
                assert_agreement(gw, request)


def _accepted_requests(gw: Gateway) -> Iterator[ChargeRequest]:
    """For each capability, a request at its minimum that meets every declared rule."""
    for capability in gw.capabilities():
        limits = capability.amounts[0]
        country = (limits.countries or capability.countries or ("US",))[0]
        yield ChargeRequest(
            reference="order-1",
            amount=Money(limits.minimum or 1, limits.currency),
            method=capability.method,
            country=country,
            customer=Customer(
                id="c1", ip_address="192.0.2.10", email="a@example.com", phone="+6512345678"
            ),
            return_urls=ReturnUrls(success=f"{SHOP}/ok", decline=f"{SHOP}/no", back=f"{SHOP}/cart"),
        )


def test_every_declared_capability_is_reachable_by_route_and_create() -> None:
    # The property above would hold vacuously if every request were refused everywhere.
    gw = sandbox_gateway()
    for request in _accepted_requests(gw):
        assert route_candidates(gw, request), request
        assert_agreement(gw, request)


# -- the case ---------------------------------------------------------------------------


def test_kakaopay_in_sg_in_thb_is_refused_by_the_router_with_the_reason() -> None:
    gw = sandbox_gateway()
    request = ChargeRequest(
        reference="order-sg-thb",
        amount=Money(150_000, "THB"),
        method="kakaopay",
        country="SG",
        customer=Customer(id="c1", ip_address="192.0.2.10"),
        return_urls=ReturnUrls(success=f"{SHOP}/ok", decline=f"{SHOP}/no"),
    )
    with pytest.raises(NoRouteError) as refused:
        gw.route(request)
    reasons: Mapping[str, str] = refused.value.reasons
    assert set(reasons) == set(gw.providers)
    # The SG account sells KakaoPay in SGD: the reason says so instead of choosing it.
    sg_accounts = [
        name
        for name in gw.providers
        if any(
            c.method == "kakaopay" and "SG" in (c.countries or ())
            for c in gw.provider(name).declared_capabilities()
        )
    ]
    assert sg_accounts
    for name in sg_accounts:
        assert "THB" in reasons[name] and "SGD" in reasons[name], reasons[name]
    for name in gw.providers:
        assert not create_passes(gw, name, request)


def _two_market_kakaopay() -> Capability:
    # One capability serving two markets, each in its own currency.
    return Capability(
        provider="wallets",
        method="kakaopay",
        countries=("SG", "TH"),
        amounts=(
            AmountRange(currency="SGD", minimum=100, maximum=2_000_000, countries=("SG",)),
            AmountRange(currency="THB", minimum=2_000, maximum=15_000_000, countries=("TH",)),
        ),
        refunds=RefundSupport.PARTIAL,
        return_urls=ReturnUrlRules(required=True, https=("success",)),
    )


def _request(**changes: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "reference": "order-1",
        "amount": Money(150_000, "THB"),
        "method": "kakaopay",
        "country": "SG",
        "customer": Customer(id="c1"),
        "return_urls": ReturnUrls(success=f"{SHOP}/ok"),
    }
    values.update(changes)
    return ChargeRequest(**values)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({}, "amount.currency", "kakaopay in SG is charged in SGD, not THB"),
        ({"amount": Money(150_000, "KRW")}, "amount.currency", "does not take KRW (only SGD)"),
        ({"country": "KR"}, "country", "kakaopay is not offered in KR (only SG, TH)"),
        ({"amount": Money(99, "SGD")}, "amount", "outside kakaopay's limits"),
        ({"amount": Money(1000, "SGD"), "return_urls": None}, "return_urls", "give return_urls"),
        (
            {"amount": Money(1000, "SGD"), "return_urls": ReturnUrls(success="http://x.example")},
            "return_urls.success",
            "https://",
        ),
    ],
)
def test_a_capability_names_the_field_and_the_rule(
    changes: dict[str, Any], field: str, reason: str
) -> None:
    refusal = _two_market_kakaopay().refusal(_request(**changes))
    assert refusal is not None
    assert refusal.field == field
    assert reason in refusal.reason


def test_a_request_meeting_every_rule_is_taken() -> None:
    capability = _two_market_kakaopay()
    assert capability.refusal(_request(amount=Money(1000, "SGD"))) is None
    assert capability.refusal(_request(country="TH")) is None
    assert capability.why_not(_request()) == "kakaopay in SG is charged in SGD, not THB"
