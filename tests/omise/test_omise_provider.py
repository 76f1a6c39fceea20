"""Settings, capabilities, request building and local validation (no network at all)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import paymux
from paymux import ChargeStatus, Money, ReturnUrls
from paymux.errors import ConfigurationError, InvalidRequest, RefundNotAllowed
from paymux.provider import OPERATION, ChargeLookup, is_retry_safe
from paymux.testing import no_network, run_flow
from paymux_omise import OmiseProvider, __version__


def test_registered_under_the_entry_point() -> None:
    assert "omise" in paymux.available_providers()


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"country": "SG", "secret_key": "pkey_test_paymux"}, "secret_key"),
        ({"country": "JP", "secret_key": "skey_test_paymux"}, "country"),
        (
            {"country": "SG", "secret_key": "skey_test_paymux", "public_key": "skey_test_paymux"},
            "public_key",
        ),
        (
            {"country": "SG", "secret_key": "skey_test_paymux", "public_key": "pkey_paymux"},
            "mix test and live",
        ),
        (
            {"country": "SG", "secret_key": "skey_test_paymux", "webhook_secret": "not base64!"},
            "webhook_secret",
        ),
        (
            {"country": "SG", "secret_key": "skey_test_paymux", "refetch_webhooks": False},
            "refetch_webhooks",
        ),
        (
            {"country": "SG", "secret_key": "skey_test_paymux", "api_version": "2015-11-17"},
            "api_version",
        ),
    ],
)
def test_bad_settings_are_refused_without_echoing_secrets(
    settings: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        OmiseProvider.configure(settings)
    assert "skey_test_paymux" not in str(caught.value)


def test_mode_is_reported_and_secrets_stay_out_of_reprs(kit: Any) -> None:
    provider = kit.provider(webhook_secret=kit.WEBHOOK_SECRET)
    assert provider.describe()["mode"] == "test"
    assert (
        OmiseProvider.configure({"secret_key": "skey_paymux", "country": "TH"}).describe()["mode"]
        == "live"
    )
    for text in (repr(provider), repr(provider.settings), str(provider.settings)):
        assert kit.SECRET_KEY not in text
        assert kit.WEBHOOK_SECRET not in text
    basic = base64.b64encode(f"{kit.SECRET_KEY}:".encode()).decode()
    assert {kit.SECRET_KEY, kit.WEBHOOK_SECRET, basic} <= set(provider.secret_values())


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        # KakaoPay: seed 004's limits for the account's market; PromptPay/PayNow: see
        # capabilities.py for where each figure comes from.
        ("SG", {"kakaopay": ("SGD", 100, 2_000_000), "paynow": ("SGD", 100, 20_000_000)}),
        ("TH", {"kakaopay": ("THB", 2_000, 15_000_000), "promptpay": ("THB", 2_000, 15_000_000)}),
    ],
)
def test_an_account_offers_its_own_country_in_its_own_currency_only(
    kit: Any, country: str, expected: dict[str, tuple[str, int, int]]
) -> None:
    capabilities = kit.provider(country=country).capabilities()
    assert {c.method for c in capabilities} == set(expected)
    for capability in capabilities:
        assert capability.countries == (country,)
        assert [(r.currency, r.minimum, r.maximum) for r in capability.amounts] == [
            expected[capability.method]
        ]


def test_lookup_tells_ids_from_references(kit: Any) -> None:
    provider = kit.provider()
    assert provider.lookup("chrg_test_5w4415netlwqpc54tyg").charge_id is not None
    assert provider.lookup("order-345678").reference == "order-345678"


def _first_request(flow: Any) -> httpx.Request:
    return next(flow)  # type: ignore[no-any-return]


def test_one_call_charge_request(kit: Any) -> None:
    flow = kit.provider(dedupe_by_reference=False).create_charge(kit.request())
    request = _first_request(flow)
    assert (request.method, str(request.url)) == ("POST", "https://api.omise.co/charges")
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{kit.SECRET_KEY}:".encode()).decode()
    )
    assert request.headers["Omise-Version"] == "2019-05-29"
    assert request.headers["User-Agent"].startswith(
        f"paymux/{paymux.__version__} paymux-omise/{__version__} OmiseAPI/2019-05-29 Python/"
    )
    assert not is_retry_safe(request)
    assert request.extensions[OPERATION] == "create_charge"
    body = json.loads(request.content)
    assert body == {
        "amount": 150000,
        "currency": "SGD",
        "return_uri": "https://shop.example/orders/345678/complete",
        "source": {"type": "kakaopay", "platform_type": "WEB"},
        "metadata": {"paymux_reference": "order-345678"},
        "description": "Order 345678",
        "ip": "192.0.2.10",
    }


def test_reads_are_retry_safe(kit: Any) -> None:
    request = _first_request(kit.provider().retrieve_charge(ChargeLookup(charge_id="chrg_test_1")))
    assert is_retry_safe(request)
    assert request.url.path == "/charges/chrg_test_1"


def test_ids_cannot_escape_their_path_segment(kit: Any) -> None:
    lookup = ChargeLookup(charge_id="chrg_test_1/../../refunds?x=1")
    request = _first_request(kit.provider().retrieve_charge(lookup))
    assert request.url.raw_path.count(b"/") == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"method": "payco"}, "method"),
        ({"country": "KR", "amount": Money(150000, "SGD")}, "country"),
        # A Singapore account sells in Singapore only, in SGD only.
        ({"country": "TH", "amount": Money(150000, "THB")}, "country"),
        ({"country": "SG", "amount": Money(150000, "THB")}, "amount.currency"),
        ({"method": "promptpay", "country": "SG"}, "method"),
        ({"amount": Money(99, "SGD")}, "amount"),
        ({"amount": Money(2_000_001, "SGD")}, "amount"),
        ({"method": "paynow", "amount": Money(99, "SGD")}, "amount"),
        ({"method": "paynow", "amount": Money(20_000_001, "SGD")}, "amount"),
        (
            {"method": "paynow", "provider_options": {"platform_type": "IOS"}},
            "provider_options.platform_type",
        ),
        ({"return_urls": None}, "return_urls"),
        ({"return_urls": ReturnUrls(success="http://shop.example/ok")}, "return_urls.success"),
        ({"provider_options": {"sourceid": "src_test_1"}}, "provider_options"),
        ({"provider_options": {"source_id": "tok_test_1"}}, "provider_options.source_id"),
        ({"provider_options": {"platform_type": "TV"}}, "provider_options.platform_type"),
        ({"metadata": {"paymux_reference": "x"}}, "metadata"),
    ],
)
def test_invalid_charges_never_reach_the_network(
    kit: Any, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        run_flow(kit.provider().create_charge(kit.request(**overrides)), no_network)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("country", "amount"),
    [
        ("SG", Money(100, "SGD")),
        ("SG", Money(2_000_000, "SGD")),
        ("TH", Money(2_000, "THB")),
        ("TH", Money(15_000_000, "THB")),
    ],
)
def test_limits_are_inclusive(kit: Any, country: str, amount: Money) -> None:
    request = _first_request(
        kit.provider(country=country).create_charge(kit.request(country=country, amount=amount))
    )
    assert request.url.path == "/search"


@pytest.mark.parametrize(
    ("country", "overrides", "field"),
    [
        ("TH", {"amount": Money(150000, "SGD")}, "amount.currency"),
        ("TH", {"country": "SG"}, "country"),
        ("TH", {"amount": Money(1_999, "THB")}, "amount"),
        ("TH", {"amount": Money(15_000_001, "THB")}, "amount"),
        ("TH", {"method": "promptpay", "amount": Money(1_999, "THB")}, "amount"),
        ("TH", {"method": "promptpay", "amount": Money(15_000_001, "THB")}, "amount"),
        ("TH", {"method": "paynow"}, "method"),
    ],
)
def test_a_thai_account_refuses_what_it_cannot_charge(
    kit: Any, country: str, overrides: dict[str, Any], field: str
) -> None:
    request = kit.request(**{"country": "TH", "amount": Money(150000, "THB"), **overrides})
    with pytest.raises(InvalidRequest) as caught:
        run_flow(kit.provider(country=country).create_charge(request), no_network)
    assert caught.value.field == field


def test_refund_after_the_deadline_is_refused_locally(kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_successful")
    late = kit.provider(clock=lambda: datetime(2026, 3, 10, 16, 16, tzinfo=UTC))
    with pytest.raises(RefundNotAllowed, match="2026-03-11 00:15 GMT\\+8"):
        run_flow(late.refund(charge, Money(1000, "SGD"), reason=None, reference="r-1"), no_network)


def test_deadline_is_read_from_raw_when_the_charge_lacks_it(kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_successful").model_copy(
        update={"refund_deadline": None}
    )
    late = kit.provider(clock=lambda: datetime(2026, 3, 11, 0, 0, tzinfo=UTC))
    with pytest.raises(RefundNotAllowed):
        run_flow(late.refund(charge, Money(1000, "SGD"), reason=None, reference="r-1"), no_network)


def test_refund_just_before_the_deadline_is_sent(kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_successful")
    assert charge.status is ChargeStatus.SUCCEEDED
    on_time = kit.provider(clock=lambda: datetime(2026, 3, 10, 16, 15, tzinfo=UTC))
    request = _first_request(
        on_time.refund(charge, Money(1000, "SGD"), reason="dup", reference="r-1")
    )
    assert request.url.path == "/charges/chrg_test_paymuxpaid/refunds"
    assert not is_retry_safe(request)
    assert json.loads(request.content) == {
        "amount": 1000,
        "metadata": {"paymux_reference": "r-1", "reason": "dup"},
    }
