"""Secrets must not leak through logs, reprs or exception texts."""

from __future__ import annotations

import logging

import httpx
import pytest

from paymux import ChargeRequest, Customer, Gateway, Money
from paymux.errors import PaymuxError
from paymux.redaction import Redactor

pytestmark = pytest.mark.usefixtures("fakepay_installed")

SECRET = "k_live_TOPSECRET_42"


def test_logs_reprs_and_errors_never_show_the_key(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if request.method == "POST":
            return httpx.Response(201, json={"id": "ch_1"})
        raise httpx.ReadTimeout(f"timed out talking with key {SECRET}", request=request)

    client = httpx.Client(transport=httpx.MockTransport(api))
    gw = Gateway(providers={"fakepay": {"api_key": SECRET}}, http_client=client)
    request = ChargeRequest(
        reference="order-1",
        amount=Money(5000, "KRW"),
        method="kakaopay",
        country="KR",
        customer=Customer(id="c1", ip_address="192.0.2.10"),
    )
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="paymux"):
        try:
            gw.create_charge(request)
        except PaymuxError as error:
            texts += [str(error), repr(error)]
    assert seen, "the provider really used the key"
    texts += [r.getMessage() for r in caplog.records]
    texts += [
        repr(gw.provider("fakepay").settings),
        str(gw.provider("fakepay").settings.model_dump()),
    ]
    texts += [repr(gw.provider("fakepay").settings.model_dump_json())]
    assert texts
    assert not [t for t in texts if SECRET in t]


def test_redactor_hides_secrets_and_signature_query_values() -> None:
    redactor = Redactor(["s3cr3t-value", "abc"])
    url = httpx.URL("https://user:pw@pay.example/p?signature=XYZ&amount=5&token=t")
    shown = redactor.url(url)
    assert "XYZ" not in shown and "pw" not in shown and "amount=5" in shown
    assert redactor.text("x s3cr3t-value y") == "x [redacted] y"
    assert redactor.text("abc") == "abc", (
        "values shorter than 4 characters would redact ordinary text"
    )
