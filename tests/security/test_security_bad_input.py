"""The bad-input table (issue 7, point 3): every public entry point, fed what a caller gets wrong.

Each row must end in a typed paymux error that names the offending field, raised before anything
reaches the network: the gateways here run on an HTTP transport that fails the test when it is
used at all. A checkout relies on this to turn a mistake into a 400 for its own caller instead of a
half-made payment at the provider.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from security_support import (
    NOW,
    OMISE_SECRET_KEY,
    ecommpay_settings,
    forbidden_async_client,
    forbidden_client,
    omise_settings,
)

from paymux import (
    AsyncGateway,
    Charge,
    ChargeRequest,
    ChargeStatus,
    Customer,
    Gateway,
    Money,
    ReturnUrls,
)
from paymux.errors import (
    ConfigurationError,
    InvalidRequest,
    NoRouteError,
    PaymuxError,
    RefundNotAllowed,
)

SHOP = "https://shop.example/orders/1"
KOREAN = Customer(id="customer-kr", ip_address="192.0.2.10")


def request(**overrides: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "reference": "order-1",
        "amount": Money(10_000, "KRW"),
        "method": "kakaopay",
        "country": "KR",
        "customer": KOREAN,
        "return_urls": ReturnUrls(success=f"{SHOP}/paid", decline=f"{SHOP}/declined"),
    }
    values.update(overrides)
    return ChargeRequest(**values)


def singapore(**overrides: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "amount": Money(1_500, "SGD"),
        "country": "SG",
        "customer": Customer(id="customer-sg"),
    }
    return request(**{**values, **overrides})


def charge(provider: str = "ecommpay", **overrides: Any) -> Charge:
    values: dict[str, Any] = {
        "provider": provider,
        "id": "order-1",
        "reference": "order-1",
        "amount": Money(10_000, "KRW"),
        "method": "kakaopay",
        "status": ChargeStatus.SUCCEEDED,
    }
    values.update(overrides)
    return Charge(**values)


CARD = charge(id="order-card", amount=Money(250_000, "KES"), method="card")
PENDING = charge(status=ChargeStatus.PENDING)
OMISE_PAID = charge(
    "omise",
    id="chrg_test_1",
    amount=Money(1_500, "SGD"),
    refund_deadline=NOW - timedelta(hours=1),
)


@dataclass(frozen=True)
class Row:
    call: Callable[[Any], Any]
    error: type[PaymuxError] = InvalidRequest
    field: str | None = None
    mentions: str = ""
    """A word the message must contain (for errors without ``.field``)."""


# -- gateway methods: each row runs on Gateway and on AsyncGateway ---------------------------------

GATEWAY_ROWS: dict[str, Row] = {
    # create_charge: types
    "create-not-a-request": Row(lambda gw: gw.create_charge({"amount": 1}), field="request"),
    "create-provider-as-list": Row(
        lambda gw: gw.create_charge(request(), provider=["omise"]), field="provider"
    ),
    "create-provider-as-number": Row(
        lambda gw: gw.create_charge(request(), provider=5), field="provider"
    ),
    "create-unknown-provider": Row(
        lambda gw: gw.create_charge(request(), provider="stripe"),
        ConfigurationError,
        mentions="stripe",
    ),
    # routing: methods and currencies no configured provider takes
    "create-unknown-method-routed": Row(
        lambda gw: gw.create_charge(request(method="bitcoin")), NoRouteError, mentions="bitcoin"
    ),
    "create-bad-currency-routed": Row(
        lambda gw: gw.create_charge(request(amount=Money(100, "USD"))), NoRouteError, mentions="USD"
    ),
    # ECommPay, provider forced so its own checks speak
    "ecommpay-unknown-method": Row(
        lambda gw: gw.create_charge(request(method="bitcoin"), provider="ecommpay"),
        field="method",
    ),
    "ecommpay-wrong-currency": Row(
        lambda gw: gw.create_charge(request(amount=Money(100, "USD")), provider="ecommpay"),
        field="amount.currency",
    ),
    "ecommpay-wrong-country": Row(
        lambda gw: gw.create_charge(request(country="SG"), provider="ecommpay"), field="country"
    ),
    "ecommpay-card-below-minimum": Row(
        lambda gw: gw.create_charge(
            request(method="card", country="KE", amount=Money(999, "KES")), provider="ecommpay"
        ),
        field="amount",
    ),
    "ecommpay-card-above-maximum": Row(
        lambda gw: gw.create_charge(
            request(method="card", country="US", amount=Money(300_001, "USD")),
            provider="ecommpay",
        ),
        field="amount",
    ),
    "ecommpay-missing-customer-ip": Row(
        lambda gw: gw.create_charge(request(customer=Customer(id="c1"))),
        field="customer.ip_address",
    ),
    "ecommpay-wallet-without-return-urls": Row(
        lambda gw: gw.create_charge(request(method="payco", return_urls=None)),
        field="return_urls",
    ),
    "ecommpay-unknown-option": Row(
        lambda gw: gw.create_charge(request(provider_options={"colour": "red"})),
        field="provider_options",
    ),
    "ecommpay-bad-device-type": Row(
        lambda gw: gw.create_charge(request(provider_options={"device_type": "TV"})),
        field="provider_options.device_type",
    ),
    "ecommpay-device-type-as-list": Row(
        lambda gw: gw.create_charge(request(provider_options={"device_type": ["APP"]})),
        field="provider_options.device_type",
    ),
    "ecommpay-device-type-as-mapping": Row(
        lambda gw: gw.create_charge(request(provider_options={"device_type": {"APP": 1}})),
        field="provider_options.device_type",
    ),
    # Omise
    # Named explicitly: without a provider the router passes Omise over with the same reason
    # (NoRouteError); here Omise's own check refuses, naming the field.
    "omise-http-return-url": Row(
        lambda gw: gw.create_charge(
            singapore(return_urls=ReturnUrls(success="http://shop/ok")), provider="omise"
        ),
        field="return_urls.success",
    ),
    "omise-no-return-url": Row(
        lambda gw: gw.create_charge(singapore(return_urls=None), provider="omise"),
        field="return_urls",
    ),
    "omise-unknown-method": Row(
        lambda gw: gw.create_charge(singapore(method="payco"), provider="omise"), field="method"
    ),
    "omise-wrong-country": Row(
        lambda gw: gw.create_charge(request(amount=Money(1_500, "SGD")), provider="omise"),
        field="country",
    ),
    "omise-currency-of-the-other-country": Row(
        lambda gw: gw.create_charge(singapore(amount=Money(5_000, "THB")), provider="omise"),
        field="amount.currency",
    ),
    "omise-below-minimum": Row(
        lambda gw: gw.create_charge(singapore(amount=Money(99, "SGD")), provider="omise"),
        field="amount",
    ),
    "omise-above-maximum": Row(
        lambda gw: gw.create_charge(singapore(amount=Money(2_000_001, "SGD")), provider="omise"),
        field="amount",
    ),
    "omise-reserved-metadata": Row(
        lambda gw: gw.create_charge(singapore(metadata={"paymux_reference": "x"})),
        field="metadata",
    ),
    "omise-unknown-option": Row(
        lambda gw: gw.create_charge(singapore(provider_options={"card": "4242"})),
        field="provider_options",
    ),
    "omise-bad-source-id": Row(
        lambda gw: gw.create_charge(singapore(provider_options={"source_id": "chrg_1"})),
        field="provider_options.source_id",
    ),
    "omise-bad-platform": Row(
        lambda gw: gw.create_charge(singapore(provider_options={"platform_type": "TV"})),
        field="provider_options.platform_type",
    ),
    # retrieve_charge
    "retrieve-not-a-charge": Row(lambda gw: gw.retrieve_charge(42), field="charge"),
    "retrieve-no-id": Row(lambda gw: gw.retrieve_charge("ecommpay"), field="id_or_reference"),
    "retrieve-empty-id": Row(lambda gw: gw.retrieve_charge("omise", ""), field="id_or_reference"),
    "retrieve-id-not-text": Row(
        lambda gw: gw.retrieve_charge("omise", 12345), field="id_or_reference"
    ),
    "retrieve-reference-not-text": Row(
        lambda gw: gw.retrieve_charge("omise", reference=12345), field="reference"
    ),
    "retrieve-id-with-a-path": Row(
        lambda gw: gw.retrieve_charge("omise", "chrg_1/refunds"), field="id_or_reference"
    ),
    "retrieve-id-with-a-newline": Row(
        lambda gw: gw.retrieve_charge("omise", "chrg_1\n"), field="id_or_reference"
    ),
    "retrieve-id-too-long": Row(
        lambda gw: gw.retrieve_charge("omise", "c" * 256), field="id_or_reference"
    ),
    "retrieve-reference-too-long": Row(
        lambda gw: gw.retrieve_charge("omise", reference="r" * 65), field="reference"
    ),
    "retrieve-reference-nul": Row(
        lambda gw: gw.retrieve_charge("ecommpay", reference="order\x001"), field="reference"
    ),
    "retrieve-provider-as-list": Row(
        lambda gw: gw.retrieve_charge(["omise"], "chrg_1"), field="charge"
    ),
    "retrieve-unknown-provider": Row(
        lambda gw: gw.retrieve_charge("stripe", "ch_1"), ConfigurationError, mentions="stripe"
    ),
    # refund
    "refund-not-a-charge": Row(lambda gw: gw.refund("order-1"), field="charge"),
    "refund-amount-not-money": Row(lambda gw: gw.refund(charge(), 5_000), field="amount"),
    "refund-other-currency": Row(lambda gw: gw.refund(charge(), Money(100, "USD")), field="amount"),
    "refund-more-than-paid": Row(
        lambda gw: gw.refund(charge(), Money(10_001, "KRW")), RefundNotAllowed, mentions="10,001"
    ),
    "refund-zero": Row(
        lambda gw: gw.refund(charge(), Money(0, "KRW")), RefundNotAllowed, mentions="nothing"
    ),
    "refund-unpaid": Row(lambda gw: gw.refund(PENDING), RefundNotAllowed, mentions="pending"),
    "refund-reason-not-text": Row(lambda gw: gw.refund(charge(), reason=7), field="reason"),
    "refund-reference-not-text": Row(
        lambda gw: gw.refund(charge(), reference=7), field="reference"
    ),
    "refund-reason-over-255": Row(lambda gw: gw.refund(charge(), reason="r" * 256), field="reason"),
    "refund-reason-nul": Row(lambda gw: gw.refund(charge(), reason="why\x00"), field="reason"),
    "refund-reference-5000": Row(
        lambda gw: gw.refund(charge(), reference="r" * 5_000), field="reference"
    ),
    "refund-reference-129": Row(
        lambda gw: gw.refund(charge(), reference="r" * 129), field="reference"
    ),
    "refund-reference-nul": Row(
        lambda gw: gw.refund(charge(), reference="order-1-r\x00"), field="reference"
    ),
    "refund-reference-newline": Row(
        lambda gw: gw.refund(charge(), reference="order-1-r1\n"), field="reference"
    ),
    "refund-reference-empty": Row(lambda gw: gw.refund(charge(), reference=""), field="reference"),
    "refund-partial-card-partner": Row(
        lambda gw: gw.refund(CARD, Money(100_000, "KES")), RefundNotAllowed, mentions="full"
    ),
    "refund-omise-after-deadline": Row(
        lambda gw: gw.refund(OMISE_PAID), RefundNotAllowed, mentions="deadline"
    ),
    "refund-unknown-provider": Row(
        lambda gw: gw.refund(charge("stripe")), ConfigurationError, mentions="stripe"
    ),
    # parse_webhook
    "webhook-body-not-bytes": Row(lambda gw: gw.parse_webhook("ecommpay", 123), field="body"),
    "webhook-body-none": Row(lambda gw: gw.parse_webhook("omise", None), field="body"),
    "webhook-body-unencodable-text": Row(
        lambda gw: gw.parse_webhook("ecommpay", "{\ud800}"), field="body"
    ),
    "webhook-headers-not-a-mapping": Row(
        lambda gw: gw.parse_webhook("omise", b"{}", [("Omise-Signature", "00")]), field="headers"
    ),
    "webhook-provider-as-list": Row(
        lambda gw: gw.parse_webhook(["omise"], b"{}"), field="provider"
    ),
    "webhook-unknown-provider": Row(
        lambda gw: gw.parse_webhook("stripe", b"{}"), ConfigurationError, mentions="stripe"
    ),
    # clarify
    "clarify-not-a-charge": Row(lambda gw: gw.clarify(None, {"a.b": "c"}), field="charge"),
    "clarify-fields-not-a-mapping": Row(
        lambda gw: gw.clarify(PENDING, [("customer.phone", "+254700000001")]), field="fields"
    ),
    "clarify-value-not-text": Row(
        lambda gw: gw.clarify(PENDING, {"customer.phone": 254700000001}), field="fields"
    ),
    "clarify-value-with-newline": Row(
        lambda gw: gw.clarify(PENDING, {"customer.phone": "+254700000001\n"}), field="fields"
    ),
    "clarify-no-fields": Row(lambda gw: gw.clarify(PENDING, {}), field="fields"),
    "clarify-signature-field": Row(
        lambda gw: gw.clarify(PENDING, {"general.signature": "x"}), field="fields"
    ),
    "clarify-not-a-field-name": Row(
        lambda gw: gw.clarify(PENDING, {"phone": "+254700000001"}), field="fields"
    ),
    "clarify-final-charge": Row(
        lambda gw: gw.clarify(charge(), {"customer.phone": "+254700000001"}), field="charge"
    ),
    "clarify-omise": Row(
        lambda gw: gw.clarify(charge("omise", status=ChargeStatus.PENDING), {"a.b": "c"}),
        mentions="omise",
    ),
    # route (no IO, but the same promises)
    "route-not-a-request": Row(lambda gw: gw.route("kakaopay"), field="request"),
    "route-unknown-method": Row(
        lambda gw: gw.route(request(method="bitcoin")), NoRouteError, mentions="omise"
    ),
}


@pytest.fixture(scope="module")
def sync_gateway() -> Iterator[Gateway]:
    providers = {"ecommpay": ecommpay_settings(), "omise": omise_settings()}
    with Gateway(providers=providers, http_client=forbidden_client()) as gateway:
        yield gateway


def _check(raised: BaseException, row: Row) -> None:
    assert isinstance(raised, row.error), f"{type(raised).__name__}: {raised}"
    if row.field is not None:
        assert isinstance(raised, InvalidRequest)
        assert raised.field == row.field, str(raised)
    if row.mentions:
        assert row.mentions in str(raised)


@pytest.mark.parametrize("name", list(GATEWAY_ROWS))
def test_gateway_refuses_bad_input_before_any_request(sync_gateway: Gateway, name: str) -> None:
    row = GATEWAY_ROWS[name]
    with pytest.raises(PaymuxError) as info:
        row.call(sync_gateway)
    _check(info.value, row)


async def _awaited(call: Callable[[Any], Any], gateway: AsyncGateway) -> Any:
    # route() is synchronous on AsyncGateway too; everything else returns a coroutine.
    result = call(gateway)
    return await result if inspect.isawaitable(result) else result


@pytest.mark.parametrize("name", list(GATEWAY_ROWS))
async def test_async_gateway_refuses_bad_input_before_any_request(name: str) -> None:
    row = GATEWAY_ROWS[name]
    providers = {"ecommpay": ecommpay_settings(), "omise": omise_settings()}
    async with AsyncGateway(providers=providers, http_client=forbidden_async_client()) as gateway:
        with pytest.raises(PaymuxError) as info:
            await _awaited(row.call, gateway)
    _check(info.value, row)


# -- the models' constructors ------------------------------------------------------------------------

MODEL_ROWS: dict[str, Row] = {
    "money-float": Row(lambda _: Money(10.5, "SGD"), field="amount"),
    "money-bool": Row(lambda _: Money(True, "KRW"), field="amount"),
    "money-string": Row(lambda _: Money("1000", "KRW"), field="amount"),
    "money-decimal": Row(lambda _: Money(Decimal("1000"), "KRW"), field="amount"),
    "money-negative": Row(lambda _: Money(-1, "KRW"), field="amount"),
    "money-too-large": Row(lambda _: Money(10**16, "KRW"), field="amount"),
    "money-unknown-currency": Row(lambda _: Money(100, "ABC"), field="currency"),
    "money-no-minor-unit": Row(lambda _: Money(100, "XAU"), field="currency"),
    "money-currency-not-text": Row(lambda _: Money(100, 840), field="currency"),
    "money-currency-too-short": Row(lambda _: Money(100, "US"), field="currency"),
    "money-missing-currency": Row(lambda _: Money(100), field="currency"),
    "of-float": Row(lambda _: Money.of(15.5, "SGD"), field="amount"),
    "of-too-many-decimals": Row(lambda _: Money.of("15.001", "SGD"), field="amount"),
    "of-fraction-of-a-won": Row(lambda _: Money.of("1000.5", "KRW"), field="amount"),
    "of-not-a-number": Row(lambda _: Money.of("fifteen", "SGD"), field="amount"),
    "of-nan": Row(lambda _: Money.of("NaN", "SGD"), field="amount"),
    "of-infinity": Row(lambda _: Money.of(Decimal("Infinity"), "SGD"), field="amount"),
    "of-negative": Row(lambda _: Money.of("-5.00", "SGD"), field="amount"),
    "of-huge": Row(lambda _: Money.of("1e30", "SGD"), field="amount"),
    "of-bool": Row(lambda _: Money.of(True, "SGD"), field="amount"),
    "of-unknown-currency": Row(lambda _: Money.of("15.00", "SGX"), field="currency"),
    "of-currency-not-text": Row(lambda _: Money.of("15.00", None), field="currency"),
    "request-reference-with-space": Row(lambda _: request(reference="order 1"), field="reference"),
    "request-reference-too-long": Row(lambda _: request(reference="r" * 65), field="reference"),
    "request-amount-not-money": Row(lambda _: request(amount=10_000), field="amount"),
    "request-amount-float-dict": Row(
        lambda _: request(amount={"amount": 10.5, "currency": "KRW"}), field="amount.amount"
    ),
    "request-empty-method": Row(lambda _: request(method=""), field="method"),
    "request-method-not-text": Row(lambda _: request(method=None), field="method"),
    "request-country-alpha3": Row(lambda _: request(country="KOR"), field="country"),
    "request-country-not-text": Row(lambda _: request(country=410), field="country"),
    "request-customer-missing": Row(lambda _: request(customer=None), field="customer"),
    "request-metadata-not-text": Row(lambda _: request(metadata={"n": 1}), field="metadata.n"),
    "request-description-too-long": Row(
        lambda _: request(description="d" * 256), field="description"
    ),
    "request-unknown-field": Row(lambda _: request(amout=1), field="amout"),
    "customer-empty-id": Row(lambda _: Customer(id=""), field="id"),
    "customer-bad-ip": Row(lambda _: Customer(id="c", ip_address="999.1.1.1"), field="ip_address"),
    "customer-bad-email": Row(lambda _: Customer(id="c", email="not-an-email"), field="email"),
    "customer-bad-phone": Row(lambda _: Customer(id="c", phone="call me"), field="phone"),
    "urls-relative": Row(lambda _: ReturnUrls(success="/paid"), field="success"),
    "urls-javascript": Row(lambda _: ReturnUrls(success="javascript:alert(1)"), field="success"),
    "urls-ftp-decline": Row(
        lambda _: ReturnUrls(success=SHOP, decline="ftp://shop.example/x"), field="decline"
    ),
    "urls-not-text": Row(lambda _: ReturnUrls(success=None), field="success"),
}


@pytest.mark.parametrize("name", list(MODEL_ROWS))
def test_models_refuse_bad_input_naming_the_field(name: str) -> None:
    row = MODEL_ROWS[name]
    with pytest.raises(PaymuxError) as info:
        row.call(None)
    _check(info.value, row)


# -- provider settings, through Gateway(providers=...) ----------------------------------------------

SETTINGS_ROWS: dict[str, tuple[dict[str, Any], str]] = {
    "no-providers": ({}, "no providers"),
    "settings-not-a-mapping": ({"ecommpay": "project 210"}, "mapping"),
    "unknown-plugin": ({"stripe": {"api_key": "x"}}, "stripe"),
    "ecommpay-project-not-a-number": (
        {"ecommpay": ecommpay_settings(project_id="abc")},
        "project_id",
    ),
    "ecommpay-project-bool": ({"ecommpay": ecommpay_settings(project_id=True)}, "project_id"),
    "ecommpay-project-zero": ({"ecommpay": ecommpay_settings(project_id=0)}, "project_id"),
    "ecommpay-empty-secret": ({"ecommpay": ecommpay_settings(secret_key="")}, "secret_key"),
    "ecommpay-missing-secret": ({"ecommpay": {"project_id": 210}}, "secret_key"),
    "ecommpay-relative-base-url": ({"ecommpay": ecommpay_settings(base_url="/gate")}, "base_url"),
    "ecommpay-short-base-time": (
        {"ecommpay": ecommpay_settings(base_time_seconds=1)},
        "base_time_seconds",
    ),
    "ecommpay-unknown-setting": ({"ecommpay": ecommpay_settings(api_key="x")}, "api_key"),
    "omise-public-key-as-secret": (
        {"omise": omise_settings(secret_key="pkey_test_abc")},
        "secret_key",
    ),
    "omise-live-public-test-secret": (
        {"omise": omise_settings(public_key="pkey_live1")},
        "test and live",
    ),
    "omise-webhook-secret-not-base64": (
        {"omise": omise_settings(webhook_secret="not base64!")},
        "webhook_secret",
    ),
    "omise-unproven-webhooks": (
        {"omise": omise_settings(webhook_secret=None, refetch_webhooks=False)},
        "refetch_webhooks",
    ),
    "omise-negative-tolerance": (
        {"omise": omise_settings(webhook_tolerance=timedelta(seconds=-1))},
        "webhook_tolerance",
    ),
    "omise-unknown-api-version": (
        {"omise": omise_settings(api_version="2015-01-01")},
        "api_version",
    ),
    "omise-base-url-not-a-url": ({"omise": omise_settings(base_url="api.omise.co")}, "base_url"),
    # A secret pasted into the wrong setting must not be echoed back (the test checks each row).
    "omise-secret-in-base-url": ({"omise": omise_settings(base_url=OMISE_SECRET_KEY)}, "base_url"),
    "ecommpay-secret-in-base-url": (
        {"ecommpay": ecommpay_settings(base_url="ecp-sec-pasted-here")},
        "base_url",
    ),
}


@pytest.mark.parametrize("name", list(SETTINGS_ROWS))
@pytest.mark.parametrize("kind", [Gateway, AsyncGateway])
def test_provider_settings_are_refused_naming_the_setting(kind: type[Any], name: str) -> None:
    providers, mentions = SETTINGS_ROWS[name]
    with pytest.raises(ConfigurationError) as info:
        kind(providers=providers)
    assert mentions in str(info.value)
    # The settings error is shown to operators and logged: it must not echo a secret back.
    assert OMISE_SECRET_KEY not in str(info.value)
    assert "ecp-sec-" not in str(info.value)


# -- the gateways' own arguments ---------------------------------------------------------------------

CONSTRUCTOR_ROWS: dict[str, tuple[dict[str, Any], str]] = {
    "providers-as-list": ({"providers": [("omise", omise_settings())]}, "providers"),
    "provider-name-not-text": ({"providers": {5: omise_settings()}}, "names"),
    "provider-name-too-long": (
        {"providers": {"o" * 65: {**omise_settings(), "plugin": "omise"}}},
        "names",
    ),
    "provider-name-with-newline": (
        {"providers": {"omise\n": {**omise_settings(), "plugin": "omise"}}},
        "names",
    ),
    "routes-of-numbers": ({"routes": [5]}, "route rule #1"),
    "routes-as-text": ({"routes": "omise"}, "routes"),
    "route-with-non-text-keys": ({"routes": [{1: "x"}]}, "route rule #1"),
    "route-unassigned-country": (
        {"routes": [{"country": "ZZ", "providers": ["omise"]}]},
        "route rule #1: country",
    ),
    "route-lookalike-currency": (
        {"routes": [{"currency": "ſgd", "providers": ["omise"]}]},
        "route rule #1: currency",
    ),
    "retry-as-number": ({"retry": 5}, "retry"),
    "timeout-as-text": ({"timeout": "30"}, "timeout"),
    "timeout-negative": ({"timeout": -1}, "timeout"),
    "http-client-of-another-kind": ({"http_client": object()}, "http_client"),
}


@pytest.mark.parametrize("name", list(CONSTRUCTOR_ROWS))
@pytest.mark.parametrize("kind", [Gateway, AsyncGateway])
def test_gateway_arguments_are_refused_naming_the_argument(kind: type[Any], name: str) -> None:
    overrides, mentions = CONSTRUCTOR_ROWS[name]
    arguments: dict[str, Any] = {"providers": {"omise": omise_settings()}, **overrides}
    with pytest.raises(ConfigurationError) as info:
        kind(**arguments)
    assert mentions in str(info.value)


@pytest.mark.parametrize(
    ("source", "mentions"),
    [
        (5, "path or a mapping"),
        ({"providers": {"omise": omise_settings()}, "http": {"timeout": math.nan}}, "timeout"),
        ({"providers": {"omise": omise_settings()}, "http": {"timeout": math.inf}}, "timeout"),
        ({"providers": {"omise": omise_settings()}, "routes": [7]}, "route rule #1"),
    ],
)
def test_config_sources_are_refused_naming_the_setting(source: Any, mentions: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Gateway.from_config(source)
    assert mentions in str(info.value)


def test_the_forbidden_transport_does_fail_when_used(sync_gateway: Gateway) -> None:
    """Guards the table: a row that reached the network would fail, not pass."""
    with pytest.raises(AssertionError, match="no request may be sent"):
        sync_gateway.retrieve_charge("ecommpay", "order-1")
