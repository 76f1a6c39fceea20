"""The plugin and the emulator agree on what each Omise account takes.

The emulator keeps its own copy of the limits and of which methods each country offers, so a
wrong figure on either side shows up here as a disagreement: for any method, country, currency
and amount, the plugin refuses locally exactly what the emulated account refuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omise_sandbox import sandbox

from paymux import ChargeRequest, Customer, Gateway, Money, ReturnUrls
from paymux.errors import InvalidRequest
from paymux.sandbox import Sandbox

__all__ = ["sandbox"]  # the fixture, imported for pytest

# Around every limit either side declares (minor units), and some ordinary amounts.
EDGES = [99, 100, 101, 1_999, 2_000, 2_001, 2_000_000, 2_000_001, 15_000_000, 15_000_001]
EDGES += [20_000_000, 20_000_001, 35_000]


UNSTATED = {"omise_unstated": "omise", "omise_th_unstated": "omise_th"}
"""Each emulated account again, configured without its country (DESIGN.md's config): in the
account's own market it must refuse exactly what the account refuses too."""


def _emulated(account: str) -> str:
    return UNSTATED.get(account, account)


@pytest.fixture(scope="module")
def gw(sandbox: Sandbox) -> Iterator[Gateway]:
    accounts = sandbox.provider_settings()
    for name, emulated in UNSTATED.items():
        config = {k: v for k, v in accounts[emulated].items() if k != "country"}
        accounts[name] = {**config, "plugin": "omise"}
    with Gateway(providers=accounts) as gateway:
        yield gateway


def _emulator_takes(sandbox: Sandbox, account: str, method: str, amount: Money) -> bool:
    """Whether the emulated account creates the charge, asked directly over HTTP."""
    settings = sandbox.provider_settings()[_emulated(account)]
    body: dict[str, Any] = {
        "amount": amount.amount,
        "currency": amount.currency,
        "source": {"type": method},
        "return_uri": "https://shop.example/ok",
    }
    answer = httpx.post(
        f"{settings['base_url']}/charges",
        json=body,
        auth=(settings["secret_key"], ""),
        trust_env=False,
        timeout=10,
    )
    assert answer.status_code in (200, 400), answer.text
    return answer.status_code == 200


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    account=st.sampled_from(["omise", "omise_th", *UNSTATED]),
    method=st.sampled_from(["kakaopay", "promptpay", "paynow"]),
    currency=st.sampled_from(["SGD", "THB"]),
    amount=st.sampled_from(EDGES) | st.integers(1, 30_000_000),
)
def test_the_plugin_refuses_exactly_what_the_emulated_account_refuses(
    gw: Gateway, sandbox: Sandbox, account: str, method: str, currency: str, amount: int
) -> None:
    # The emulated account's market: an unstated account may be of either, and is only ever
    # refused by Omise itself in the market it is not in (test_omise_unstated_country.py).
    country = sandbox.provider_settings()[_emulated(account)]["country"]
    money = Money(amount, currency)
    request = ChargeRequest(
        reference=f"agree-{account}-{method}-{currency}-{amount}",
        amount=money,
        method=method,
        country=country,
        customer=Customer(id="c-agree", ip_address="192.0.2.50"),
        return_urls=ReturnUrls(success="https://shop.example/ok"),
    )
    try:
        gw.provider(account).check_capability(request)
        local = True
    except InvalidRequest:
        local = False
    assert local is _emulator_takes(sandbox, account, method, money), (
        f"{account} {method} {money}: the plugin {'takes' if local else 'refuses'} it"
    )
