from __future__ import annotations

from typing import Any

import pytest

from paymux import ChargeRequest, Customer, Gateway, Money
from paymux.errors import ConfigurationError, NoRouteError

pytestmark = pytest.mark.usefixtures("fakepay_installed")


def request(
    method: str = "kakaopay", amount: Money | None = None, country: str = "KR"
) -> ChargeRequest:
    return ChargeRequest(
        reference="order-1",
        amount=amount or Money(5000, "KRW"),
        method=method,
        country=country,
        customer=Customer(id="c1", ip_address="192.0.2.10"),
    )


def two_accounts(**kw: Any) -> Gateway:
    return Gateway(
        providers={
            "primary": {"plugin": "fakepay", "api_key": "k_primary"},
            "backup": {"plugin": "fakepay", "api_key": "k_backup"},
        },
        **kw,
    )


def test_without_rules_the_first_capable_provider_in_config_order_wins() -> None:
    decision = two_accounts().route(request())
    assert decision.provider == "primary"
    assert decision.candidates == ("primary", "backup")
    assert decision.rule is None
    assert decision.capability.method == "kakaopay"


def test_a_matching_rule_sets_the_order_and_names_itself() -> None:
    gw = two_accounts(routes=[{"method": "kakaopay", "country": "KR", "providers": ["backup"]}])
    decision = gw.route(request())
    assert decision.provider == "backup"
    assert "method=kakaopay" in (decision.rule or "")
    assert "not listed by rule" in decision.rejected["primary"]


def test_rules_are_tried_in_order_and_only_when_they_match() -> None:
    gw = two_accounts(
        routes=[
            {"currency": "USD", "providers": ["backup"]},
            {"method": "kakaopay", "providers": ["backup", "primary"]},
        ]
    )
    assert gw.route(request()).candidates == ("backup", "primary")
    assert gw.route(request("card", Money(1000, "USD"), "US")).provider == "backup"


@pytest.mark.parametrize(
    ("req", "reason"),
    [
        (request("payco"), "does not offer method 'payco'"),
        (request(country="SG"), "not offered in SG"),
        (request(amount=Money(100, "USD")), "does not take USD"),
        (request(amount=Money(99, "KRW")), "outside kakaopay's limits"),
        (request(amount=Money(1_000_001, "KRW")), "outside kakaopay's limits"),
    ],
)
def test_no_route_explains_every_rejection(req: ChargeRequest, reason: str) -> None:
    with pytest.raises(NoRouteError) as info:
        two_accounts().route(req)
    assert set(info.value.reasons) == {"primary", "backup"}
    assert all(reason in why for why in info.value.reasons.values())
    assert reason in str(info.value)


def test_limits_are_inclusive() -> None:
    gw = two_accounts()
    assert gw.route(request(amount=Money(100, "KRW"))).provider == "primary"
    assert gw.route(request(amount=Money(1_000_000, "KRW"))).provider == "primary"


def test_worldwide_capability_takes_any_country() -> None:
    assert two_accounts().route(request("card", Money(100, "USD"), "KE")).provider == "primary"


def test_rule_naming_an_unconfigured_provider_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="ghost"):
        two_accounts(routes=[{"providers": ["ghost"]}])
    with pytest.raises(ConfigurationError, match="route rule #1"):
        two_accounts(routes=[{"method": "kakaopay"}])


def test_capabilities_list_every_provider() -> None:
    caps = two_accounts().capabilities()
    assert {(c.provider, c.method) for c in caps} == {
        ("primary", "kakaopay"),
        ("primary", "card"),
        ("backup", "kakaopay"),
        ("backup", "card"),
    }


@pytest.mark.parametrize(
    "req",
    [request(), request("card", Money(1000, "USD"), "US"), request(amount=Money(100, "KRW"))],
)
@pytest.mark.parametrize(
    "routes", [None, [{"method": "kakaopay", "providers": ["backup", "primary"]}]]
)
def test_the_fast_choice_agrees_with_the_explained_decision(
    req: ChargeRequest, routes: Any
) -> None:
    gw = two_accounts(routes=routes)
    assert gw._router.choose(req) == gw.route(req).provider


def test_the_fast_choice_still_explains_a_refusal() -> None:
    with pytest.raises(NoRouteError) as info:
        two_accounts()._router.choose(request("payco"))
    assert set(info.value.reasons) == {"primary", "backup"}
