"""Any value in any argument of a public entry point: a result or a typed paymux error, never a
raw ``TypeError``, ``ValueError``, ``decimal`` or database exception (issue 12, acceptance).

The tables next to this file pin the cases found so far; this drives every argument of the
Gateway, the Ledger and the models with values of every shape hypothesis can think of. The
provider answers every request with a refusal, so a valid call ends in a typed error too.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import charge_request
from ledgerpay import LedgerPayApi, gateway
from property_profiles import fast
from security_support import ecommpay_settings, omise_settings

from paymux import (
    Charge,
    ChargeRequest,
    ChargeStatus,
    Customer,
    Gateway,
    Ledger,
    Money,
    ReturnUrls,
)
from paymux.errors import PaymuxError
from paymux.runner import RetryPolicy

ODD_TEXT = [
    "",
    " ",
    "order-1",
    "succeeded",
    "omise",
    "ecommpay",
    "ledgerpay",
    "r" * 300,
    "a\x00b",
    "line\r\nbreak",
    "\ud800",
    "１０",
    "1e999999",
    "chrg_1/refunds",
    "https://shop.example/ok",
]

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(ODD_TEXT),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.lists(st.sampled_from(ODD_TEXT), max_size=3),
    st.dictionaries(st.sampled_from(ODD_TEXT), st.sampled_from(ODD_TEXT), max_size=3),
    st.sampled_from([timedelta(seconds=-1), timedelta(0), timedelta.max, timedelta.min]),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.just(Money(1, "KRW")),
    st.just(object()),
)

# PAYMUX_PROPERTY_PROFILE=paymux-thorough runs 500 examples per argument.
FUZZ = settings(
    fast(40),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _refusing_api(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        404, json={"object": "error", "code": "not_found", "message": "no such thing"}
    )


@pytest.fixture(scope="module")
def gw() -> Iterator[Gateway]:
    client = httpx.Client(transport=httpx.MockTransport(_refusing_api))
    providers = {"ecommpay": ecommpay_settings(), "omise": omise_settings()}
    with Gateway(providers=providers, http_client=client, retry=RetryPolicy(attempts=1)) as g:
        yield g


def _request() -> ChargeRequest:
    return ChargeRequest(
        reference="order-1",
        amount=Money(10_000, "KRW"),
        method="kakaopay",
        country="KR",
        customer=Customer(id="customer-kr", ip_address="192.0.2.10"),
        return_urls=ReturnUrls(
            success="https://shop.example/ok", decline="https://shop.example/no"
        ),
    )


def _charge(provider: str = "ecommpay", status: ChargeStatus = ChargeStatus.SUCCEEDED) -> Charge:
    return Charge(
        provider=provider,
        id="order-1",
        reference="order-1",
        amount=Money(10_000, "KRW"),
        method="kakaopay",
        status=status,
    )


GATEWAY_CALLS: dict[str, Callable[[Gateway, Any], Any]] = {
    "create_charge.request": lambda gw, x: gw.create_charge(x),
    "create_charge.provider": lambda gw, x: gw.create_charge(_request(), provider=x),
    "retrieve_charge.charge": lambda gw, x: gw.retrieve_charge(x),
    "retrieve_charge.id": lambda gw, x: gw.retrieve_charge("omise", x),
    "retrieve_charge.reference": lambda gw, x: gw.retrieve_charge("ecommpay", reference=x),
    "refund.charge": lambda gw, x: gw.refund(x),
    "refund.amount": lambda gw, x: gw.refund(_charge(), x),
    "refund.reason": lambda gw, x: gw.refund(_charge(), Money(1, "KRW"), x),
    "refund.reference": lambda gw, x: gw.refund(_charge(), Money(1, "KRW"), reference=x),
    "parse_webhook.provider": lambda gw, x: gw.parse_webhook(x, b"{}"),
    "parse_webhook.body": lambda gw, x: gw.parse_webhook("omise", x),
    "parse_webhook.headers": lambda gw, x: gw.parse_webhook("ecommpay", b"{}", x),
    "clarify.charge": lambda gw, x: gw.clarify(x, {"customer.phone": "+254700000001"}),
    "clarify.fields": lambda gw, x: gw.clarify(_charge(status=ChargeStatus.PENDING), x),
    "route.request": lambda gw, x: gw.route(x),
    "provider.name": lambda gw, x: gw.provider(x),
    "from_config.source": lambda gw, x: Gateway.from_config(x),
}

MODEL_CALLS: dict[str, Callable[[Any], Any]] = {
    "Money.amount": lambda x: Money(x, "KRW"),
    "Money.currency": lambda x: Money(1, x),
    "Money.of.value": lambda x: Money.of(x, "SGD"),
    "Money.of.currency": lambda x: Money.of("1", x),
    "Money.add": lambda x: Money(1, "KRW") + x,
    "Customer.id": lambda x: Customer(id=x),
    "Customer.first_name": lambda x: Customer(id="c", first_name=x),
    "ReturnUrls.success": lambda x: ReturnUrls(success=x),
    "ChargeRequest.country": lambda x: ChargeRequest(**{**_request().model_dump(), "country": x}),
    "ChargeRequest.customer": lambda x: ChargeRequest(**{**_request().model_dump(), "customer": x}),
    "ChargeRequest.provider_options": lambda x: ChargeRequest(
        **{**_request().model_dump(), "provider_options": x}
    ),
}


def _only_typed(call: Callable[[], Any]) -> None:
    """A result or a PaymuxError; anything else propagates and fails the test."""
    with contextlib.suppress(PaymuxError):
        call()


@pytest.mark.parametrize("name", list(GATEWAY_CALLS))
@FUZZ
@given(value=anything)
def test_gateway_arguments_of_any_shape(gw: Gateway, name: str, value: Any) -> None:
    _only_typed(lambda: GATEWAY_CALLS[name](gw, value))


@pytest.mark.parametrize("name", list(MODEL_CALLS))
@FUZZ
@given(value=anything)
def test_model_arguments_of_any_shape(name: str, value: Any) -> None:
    _only_typed(lambda: MODEL_CALLS[name](value))


# -- the Ledger ---------------------------------------------------------------------------------

LEDGER_CALLS: dict[str, Callable[[Ledger, Any], Any]] = {
    "create_charge.request": lambda led, x: led.create_charge(x),
    "create_charge.provider": lambda led, x: led.create_charge(charge_request(), provider=x),
    "get.reference": lambda led, x: led.get(x),
    "entry.reference": lambda led, x: led.entry(x),
    "flags.reference": lambda led, x: led.flags(x),
    "refresh.reference": lambda led, x: led.refresh(x),
    "wait.reference": lambda led, x: led.wait(x, timeout=0),
    "wait.until": lambda led, x: led.wait("order-1", until=x, timeout=0),
    "wait.timeout": lambda led, x: led.wait("order-1", timeout=x),
    "reconcile.older_than": lambda led, x: led.reconcile(older_than=x),
    "reconcile.limit": lambda led, x: led.reconcile(limit=x),
    "reconcile.progress": lambda led, x: led.reconcile(older_than=timedelta(0), progress=x),
    "refund.charge": lambda led, x: led.refund(x),
    "refund.amount": lambda led, x: led.refund("order-1", x),
    "refund.reason": lambda led, x: led.refund("order-1", Money(1, "KRW"), x),
    "refund.reference": lambda led, x: led.refund("order-1", Money(1, "KRW"), reference=x),
    "apply_event.event": lambda led, x: led.apply_event(x),
    "handle_webhook.provider": lambda led, x: led.handle_webhook(x, b"{}"),
    "handle_webhook.body": lambda led, x: led.handle_webhook("ledgerpay", x),
    "handle_webhook.headers": lambda led, x: led.handle_webhook("ledgerpay", b"{}", x),
    "cancel_charge.reference": lambda led, x: led.cancel_charge(x),
    "abandoned_at.reference": lambda led, x: led.abandoned_at(x),
    "charges.status": lambda led, x: led.charges(status=x),
    "charges.provider": lambda led, x: led.charges(provider=x),
    "charges.since": lambda led, x: led.charges(since=x),
    "charges.until": lambda led, x: led.charges(until=x),
    "charges.reference_prefix": lambda led, x: led.charges(reference_prefix=x),
    "charges.abandoned": lambda led, x: led.charges(abandoned=x),
    "charges.limit": lambda led, x: led.charges(limit=x),
    "charges.cursor": lambda led, x: led.charges(cursor=x),
    "refunds.reference": lambda led, x: led.refunds(x),
    "refunds.status": lambda led, x: led.refunds(status=x),
    "refunds.provider": lambda led, x: led.refunds(provider=x),
    "refunds.limit": lambda led, x: led.refunds(limit=x),
    "refunds.cursor": lambda led, x: led.refunds(cursor=x),
}


@FUZZ
@given(
    url=st.one_of(
        anything,
        st.sampled_from(["sqlite:///a\x00b.db", "sqlite:///\ud800.db", "postgresql://h:x/db"]),
    )
)
def test_ledger_url_of_any_shape(url: Any) -> None:
    # A generated URL may well name a SQLite file: it is made in a directory thrown away after.
    with (
        tempfile.TemporaryDirectory() as scratch,
        contextlib.chdir(scratch),
        gateway(LedgerPayApi()) as g,
    ):
        _only_typed(lambda: Ledger(g, url).get("order-1"))


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    api = LedgerPayApi()
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'ledger.db'}"
    with gateway(api) as g, Ledger(g, url=url) as led:
        charge = led.create_charge(charge_request("order-1", amount=10**9))
        api.set_state(charge.id, "paid")
        led.handle_webhook("ledgerpay", api.outbox[-1].body, api.outbox[-1].headers)
        yield led


@pytest.mark.parametrize("name", list(LEDGER_CALLS))
@FUZZ
@given(value=anything)
def test_ledger_arguments_of_any_shape(ledger: Ledger, name: str, value: Any) -> None:
    # order-1 is paid (final), so wait() returns at once whatever timeout it is given.
    _only_typed(lambda: LEDGER_CALLS[name](ledger, value))
