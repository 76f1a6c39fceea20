"""An Omise account configured without its country, as DESIGN.md configures it (its keys alone).

Such an account may be of either market, so the provider declares both, each currency tied to
its own country: the router and ``create_charge`` take THB in Thailand and SGD in Singapore and
refuse the other pairings alike, naming the market. ``check_account`` reads the account's country
from ``GET /capability`` and says which one to state.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from omise_sandbox import sandbox

from paymux import ChargeRequest, ChargeStatus, Customer, Gateway, Money, ReturnUrls
from paymux.errors import ConfigurationError, InvalidRequest, NoRouteError, ProviderError
from paymux.sandbox import Sandbox
from paymux.testing import no_network, run_flow
from paymux_omise import OmiseProvider

__all__ = ["sandbox"]  # the fixture, imported for pytest

OFFICIAL = Path(__file__).parent / "data" / "official"

# DESIGN.md's Omise configuration, word for word but for the key values.
DESIGN_CONFIG = {"public_key": "pkey_test_paymux", "secret_key": "skey_test_paymux"}


def _request(method: str, amount: Money, country: str, reference: str = "order-1") -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=amount,
        method=method,
        country=country,
        customer=Customer(id="c1", ip_address="192.0.2.40"),
        return_urls=ReturnUrls(success="https://shop.example/paid"),
    )


def _unstated(settings: dict[str, Any]) -> dict[str, Any]:
    """An emulated account's settings with the country left out."""
    return {"plugin": "omise", **{k: v for k, v in settings.items() if k != "country"}}


@pytest.fixture
def offline() -> Gateway:
    return Gateway(providers={"omise": dict(DESIGN_CONFIG)})


# -- routing and local checks, no network -----------------------------------------------------


def test_design_config_declares_both_markets_each_in_its_own_currency() -> None:
    provider = OmiseProvider.configure(dict(DESIGN_CONFIG))
    assert provider.settings.country is None
    markets = {
        c.method: {(r.currency, r.countries) for r in c.amounts} for c in provider.capabilities()
    }
    assert markets == {
        "kakaopay": {("SGD", ("SG",)), ("THB", ("TH",))},
        "paynow": {("SGD", ("SG",))},
        "promptpay": {("THB", ("TH",))},
    }


@pytest.mark.parametrize(
    ("method", "amount", "country"),
    [
        ("kakaopay", Money.of("500.00", "THB"), "TH"),
        ("kakaopay", Money.of("15.00", "SGD"), "SG"),
        ("promptpay", Money.of("500.00", "THB"), "TH"),
        ("paynow", Money.of("15.00", "SGD"), "SG"),
    ],
)
def test_each_market_in_its_currency_routes_and_reaches_the_network(
    offline: Gateway, method: str, amount: Money, country: str
) -> None:
    request = _request(method, amount, country)
    assert offline.route(request).provider == "omise"
    flow = offline.provider("omise").create_charge(request)
    assert next(flow).url.path == "/search"  # the dedupe look-up: local checks passed
    flow.close()


@pytest.mark.parametrize(
    ("method", "amount", "country", "field", "reason"),
    [
        (
            "kakaopay",
            Money.of("500.00", "THB"),
            "SG",
            "amount.currency",
            "kakaopay in SG is charged in SGD, not THB",
        ),
        (
            "kakaopay",
            Money.of("15.00", "SGD"),
            "TH",
            "amount.currency",
            "kakaopay in TH is charged in THB, not SGD",
        ),
        ("promptpay", Money.of("500.00", "THB"), "SG", "country", "promptpay is not offered in SG"),
        ("paynow", Money.of("15.00", "SGD"), "TH", "country", "paynow is not offered in TH"),
    ],
)
def test_the_other_markets_pairings_are_refused_alike_naming_the_market(
    offline: Gateway, method: str, amount: Money, country: str, field: str, reason: str
) -> None:
    request = _request(method, amount, country)
    with pytest.raises(NoRouteError) as routed:
        offline.route(request)
    assert reason in routed.value.reasons["omise"]
    with pytest.raises(InvalidRequest) as created:
        run_flow(offline.provider("omise").create_charge(request), no_network)
    assert created.value.field == field
    assert reason in str(created.value)


def test_two_accounts_without_a_country_cannot_be_told_apart() -> None:
    # What the docs warn of: the first configured account takes both markets' charges.
    with Gateway(
        providers={
            "omise_sg": {**DESIGN_CONFIG, "plugin": "omise"},
            "omise_th": {**DESIGN_CONFIG, "plugin": "omise", "secret_key": "skey_test_th"},
        }
    ) as gw:
        for amount, country in (
            (Money.of("500.00", "THB"), "TH"),
            (Money.of("15.00", "SGD"), "SG"),
        ):
            assert gw.route(_request("kakaopay", amount, country)).provider == "omise_sg"


# -- on the emulated accounts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "amount", "country"),
    [("omise_th", Money.of("500.00", "THB"), "TH"), ("omise", Money.of("15.00", "SGD"), "SG")],
)
def test_design_config_creates_a_charge_in_each_market(
    sandbox: Sandbox, account: str, amount: Money, country: str
) -> None:
    emulated = sandbox.provider_settings()[account]
    config = {
        "public_key": emulated["public_key"],
        "secret_key": emulated["secret_key"],
        "base_url": emulated["base_url"],
    }
    with Gateway(providers={"omise": config}) as gw:
        charge = gw.create_charge(_request("kakaopay", amount, country, f"unstated-{country}"))
    assert (charge.provider, charge.amount, charge.status) == (
        "omise",
        amount,
        ChargeStatus.REQUIRES_ACTION,
    )


def test_the_other_markets_charge_is_refused_by_omise_not_locally(sandbox: Sandbox) -> None:
    # A Singapore account's keys without the country: a THB charge in Thailand passes the local
    # checks (the account might be Thai) and Omise refuses it.
    with Gateway(providers={"omise": _unstated(sandbox.provider_settings()["omise"])}) as gw:
        request = _request("kakaopay", Money.of("500.00", "THB"), "TH", "unstated-th-on-sg")
        assert gw.route(request).provider == "omise"
        with pytest.raises(ProviderError) as caught:
            gw.create_charge(request)
    assert caught.value.http_status == 400, "sent, and refused by the account"
    assert "THB" in caught.value.message


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ("omise", {"country": "SG", "currency": "SGD", "methods": "kakaopay, paynow"}),
        ("omise_th", {"country": "TH", "currency": "THB", "methods": "kakaopay, promptpay"}),
    ],
)
def test_account_check_reports_the_country_to_state(
    sandbox: Sandbox, account: str, expected: dict[str, str]
) -> None:
    with Gateway(providers={"omise": _unstated(sandbox.provider_settings()[account])}) as gw:
        checked = gw.check_account("omise")
    advice = checked.pop("settings")
    assert checked == expected
    assert f"state country = {expected['country']!r}" in advice


def test_cli_check_tells_the_country_to_state(
    sandbox: Sandbox, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from paymux.cli import main
    from paymux.sandbox import config_file

    accounts = {"omise": _unstated(sandbox.provider_settings()["omise_th"])}
    path = config_file.write(tmp_path / "unstated.toml", accounts, sandbox.base_url)
    assert main(["providers", "--config", str(path), "--check"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "omise: the account matches the settings (country TH, currency THB" in out
    assert "state country = 'TH'" in out


# -- the account check against a recorded answer -------------------------------------------------


def _recorded_capability() -> Any:
    # omise-php's recorded GET /capability of a Thai account (data/official/SOURCES.tsv).
    return json.loads((OFFICIAL / "php-capability-get.json").read_text())


def test_account_check_still_refuses_a_method_the_account_lacks() -> None:
    answer = copy.deepcopy(_recorded_capability())
    answer["payment_methods"] = [m for m in answer["payment_methods"] if m["name"] != "promptpay"]
    provider = OmiseProvider.configure(dict(DESIGN_CONFIG))
    with pytest.raises(ConfigurationError) as caught:
        run_flow(provider.check_account(), lambda _: httpx.Response(200, json=answer))
    message = str(caught.value)
    assert "a TH account; the settings state no country" in message
    assert "it does not offer promptpay" in message
    assert "paynow" not in message, "a Thai account is not asked for Singapore's methods"


def test_account_check_refuses_an_account_of_another_country() -> None:
    answer = {**_recorded_capability(), "country": "JP"}
    provider = OmiseProvider.configure(dict(DESIGN_CONFIG))
    with pytest.raises(ConfigurationError, match="it is a JP account"):
        run_flow(provider.check_account(), lambda _: httpx.Response(200, json=answer))
