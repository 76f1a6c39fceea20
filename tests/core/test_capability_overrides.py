"""A merchant's contract narrows or extends what a plugin declares (issue 13 §1, third bullet).

ECommPay is the example the issue names: card payments in KRW exist on projects contracted for
them (``possible_capabilities``), not by default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paymux import ChargeRequest, Customer, Gateway, Money, RefundSupport, ReturnUrls
from paymux.errors import ConfigurationError, InvalidRequest, NoRouteError

pytest.importorskip("paymux_ecommpay")

SECRET = "paymux-test-ecommpay-secret"
SHOP = "https://shop.example"


def ecommpay(capabilities: Any = None, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"project_id": 210, "secret_key": SECRET, **extra}
    if capabilities is not None:
        settings["capabilities"] = capabilities
    return settings


def card(amount: Money, country: str = "KR") -> ChargeRequest:
    return ChargeRequest(
        reference="order-1",
        amount=amount,
        method="card",
        country=country,
        customer=Customer(id="c1", ip_address="192.0.2.10", email="a@example.com"),
        return_urls=ReturnUrls(success=f"{SHOP}/ok", decline=f"{SHOP}/no"),
    )


KRW_CARDS = [
    {
        "method": "card",
        "countries": ["KR"],
        "amounts": [{"currency": "KRW", "minimum": 1_000, "maximum": 2_000_000}],
    }
]


def test_by_default_ecommpay_takes_no_card_payment_in_krw() -> None:
    gw = Gateway(providers={"ecommpay": ecommpay()})
    with pytest.raises(NoRouteError, match="does not take KRW"):
        gw.route(card(Money(50_000, "KRW")))


def test_the_contract_enables_card_payments_in_krw_and_route_says_it_came_from_config() -> None:
    gw = Gateway(providers={"ecommpay": ecommpay(KRW_CARDS)})
    decision = gw.route(card(Money(50_000, "KRW")))
    assert decision.provider == "ecommpay"
    assert decision.capability.origin == "config"
    assert decision.explain().splitlines()[0] == "chosen: ecommpay (by capability from config)"
    # The flow reads the same capabilities: it gets as far as its request.
    flow = gw.provider("ecommpay").create_charge(card(Money(50_000, "KRW")))
    sent = next(flow)
    flow.close()
    assert sent.url.path.endswith("/card-partner/sale")


def test_the_contract_replaces_the_limits_and_countries_it_names() -> None:
    gw = Gateway(providers={"ecommpay": ecommpay(KRW_CARDS)})
    # Outside the contract's limits, and outside its countries (the plugin's card is worldwide).
    for request, reason in (
        (card(Money(999, "KRW")), "outside card's limits"),
        (card(Money(2_000_001, "KRW")), "outside card's limits"),
        (card(Money(1_000, "USD"), country="US"), "not offered in US"),
    ):
        with pytest.raises(NoRouteError, match=reason):
            gw.route(request)
        with pytest.raises(InvalidRequest, match=reason):
            gw.create_charge(request, provider="ecommpay")
    capability = gw.provider("ecommpay").capability_for("card")
    assert capability is not None
    assert [r.currency for r in capability.amounts] == ["KRW"]
    # What the entry leaves out stays as the plugin declares it.
    assert capability.refunds is RefundSupport.FULL
    assert capability.customer_fields == ("ip_address",)


def test_tighter_limits_and_a_disabled_method() -> None:
    gw = Gateway(
        providers={
            "ecommpay": ecommpay(
                [
                    {"method": "kakaopay", "amounts": [{"currency": "KRW", "minimum": 1_000}]},
                    {"method": "payco", "enabled": False},
                ]
            )
        }
    )
    methods = {c.method: c for c in gw.capabilities()}
    assert set(methods) == {"kakaopay", "card"}
    assert methods["kakaopay"].origin == "config"
    assert methods["card"].origin == "plugin"
    assert methods["kakaopay"].amounts[0].minimum == 1_000


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"method": "alipay"}, "cannot offer 'alipay'"),
        ({"method": "kakaopay", "countries": ["KR", "JP"]}, "cannot be offered in JP"),
        (
            {"method": "card", "amounts": [{"currency": "USD", "minimum": 50}]},
            "cannot take USD",
        ),
        (
            {"method": "card", "amounts": [{"currency": "JPY", "minimum": 100}]},
            "cannot take JPY",
        ),
        ({"method": "card", "refunds": "partial"}, "refunds cannot be partial"),
        ({"method": "card", "countries": ["ZZ"]}, "ISO 3166-1"),
        ({"method": "card", "colour": "blue"}, "colour"),
        ("card", "expected a table"),
    ],
)
def test_an_override_beyond_what_the_plugin_can_do_is_a_configuration_error(
    entry: Any, named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named) as refused:
        Gateway(providers={"ecommpay": ecommpay([entry])})
    assert "ecommpay: capabilities[1]" in str(refused.value)


def test_the_setting_must_be_a_list_naming_each_method_once() -> None:
    with pytest.raises(ConfigurationError, match="list of tables"):
        Gateway(providers={"ecommpay": ecommpay({"method": "card"})})
    with pytest.raises(ConfigurationError, match="named twice"):
        Gateway(providers={"ecommpay": ecommpay([{"method": "card"}, {"method": "card"}])})


def test_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "paymux.toml"
    path.write_text(
        f"""
[providers.ecommpay]
project_id = 210
secret_key = "{SECRET}"

[[providers.ecommpay.capabilities]]
method = "card"
countries = ["KR"]
amounts = [{{ currency = "KRW", minimum = 1000, maximum = 2000000 }}]
""",
        encoding="utf-8",
    )
    gw = Gateway.from_config(path)
    assert gw.route(card(Money(50_000, "KRW"))).capability.origin == "config"


def test_two_accounts_of_one_plugin_keep_their_own_contracts() -> None:
    gw = Gateway(
        providers={
            "ecommpay": ecommpay(),
            "ecommpay_kr": {"plugin": "ecommpay", **ecommpay(KRW_CARDS)},
        }
    )
    decision = gw.route(card(Money(50_000, "KRW")))
    assert decision.provider == "ecommpay_kr"
    assert "does not take KRW" in decision.rejected["ecommpay"]


def test_paymux_route_says_the_capability_came_from_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from paymux.cli import main

    path = tmp_path / "paymux.toml"
    path.write_text(
        f"""
[providers.ecommpay]
project_id = 210
secret_key = "{SECRET}"
capabilities = [{{ method = "card", amounts = [{{ currency = "KRW", minimum = 1000 }}] }}]
""",
        encoding="utf-8",
    )
    argv = ["route", "--method", "card", "--country", "KR", "--currency", "KRW"]
    assert main([*argv, "--amount", "50000", "--config", str(path)]) == 0
    assert capsys.readouterr().out.startswith("chosen: ecommpay (by capability from config)")
    # Below the contract's minimum: refused, with the contract's limits as the reason.
    assert main([*argv, "--amount", "999", "--config", str(path)]) == 1
    assert "outside card's limits (KRW >= 1,000 KRW)" in capsys.readouterr().err
