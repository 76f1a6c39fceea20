"""Telemetry on a gateway over an in-memory provider API: log attributes, spans, metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fakepay import FakePay, FakePaySettings
from opentelemetry.trace import SpanKind, StatusCode
from otel_support import Otel, otel

from paymux import AsyncGateway, ChargeRequest, Customer, Gateway, Money, telemetry
from paymux.errors import (
    ProviderError,
    TransportError,
    WebhookParseError,
    WebhookVerificationError,
)
from paymux.runner import RetryPolicy

__all__ = ["otel"]  # the fixture, imported for pytest

SECRET = "k_test_TELEMETRY_SECRET_42"
NO_RETRY = RetryPolicy(attempts=1)
Handler = Callable[[httpx.Request], httpx.Response]


def request(reference: str = "order-7") -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=Money(5000, "KRW"),
        method="kakaopay",
        country="KR",
        customer=Customer(id="c1", ip_address="192.0.2.10"),
    )


def api(request_id: str = "req-123") -> Handler:
    """The fakepay API; it names each answer in X-Request-Id."""

    def handle(req: httpx.Request) -> httpx.Response:
        headers = {"X-Request-Id": request_id}
        if req.method == "POST" and req.url.path == "/charges":
            return httpx.Response(201, json={"id": "ch_1"}, headers=headers)
        body = {"id": "ch_1", "ref": "order-7", "amount": 5000, "currency": "KRW", "state": "qr"}
        return httpx.Response(200, json=body, headers=headers)

    return handle


def provider() -> FakePay:
    return FakePay(FakePaySettings(api_key=SECRET))


def gateway(handler: Handler) -> Gateway:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Gateway(providers={"fakepay": provider()}, http_client=client, retry=NO_RETRY)


def async_gateway(handler: Handler) -> AsyncGateway:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncGateway(providers={"fakepay": provider()}, http_client=client, retry=NO_RETRY)


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"X-Signature": hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()}


# -- structured log records ----------------------------------------------------------------------


def test_every_provider_call_logs_its_attributes(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="paymux.http"):
        gateway(api()).create_charge(request())
    records = [r for r in caplog.records if r.name == "paymux.http"]
    assert [(r.provider_operation, r.http_method, r.http_status) for r in records] == [  # type: ignore[attr-defined]
        ("create_charge", "POST", 201),
        ("retrieve_charge", "GET", 200),
    ]
    for record in records:
        attrs = record.__dict__
        assert attrs["provider"] == "fakepay"
        assert attrs["operation"] == "create_charge"
        assert attrs["reference"] == "order-7"
        assert attrs["attempt"] == 1
        assert attrs["request_id"] == "req-123"
        assert isinstance(attrs["duration_ms"], float) and attrs["duration_ms"] >= 0
        assert attrs["url"].startswith("https://fakepay.test/charges")


def test_attempts_are_counted_on_a_retried_call(caplog: pytest.LogCaptureFixture) -> None:
    answers = [httpx.Response(503), httpx.Response(503)]

    def flaky(req: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else api()(req)

    client = httpx.Client(transport=httpx.MockTransport(flaky))
    fast = RetryPolicy(initial_wait=0.001, max_wait=0.002, jitter=0.0)
    gw = Gateway(providers={"fakepay": provider()}, http_client=client, retry=fast)
    with caplog.at_level(logging.INFO, logger="paymux.http"):
        gw.retrieve_charge("fakepay", "ch_1")
    records = [r.__dict__ for r in caplog.records if r.name == "paymux.http"]
    assert [(r["attempt"], r["http_status"]) for r in records] == [(1, 503), (2, 503), (3, 200)]
    assert {r["operation"] for r in records} == {"retrieve_charge"}


def test_no_secret_in_any_log_attribute(caplog: pytest.LogCaptureFixture) -> None:
    # A provider that echoes the key in its request id and a URL that carries it in the query.
    def leaky(req: httpx.Request) -> httpx.Response:
        if req.method == "GET":
            return httpx.Response(500, headers={"X-Request-Id": f"id-{SECRET}"})
        return httpx.Response(201, json={"id": "ch_1"}, headers={"X-Request-Id": f"r/{SECRET}"})

    settings = FakePaySettings(api_key=SECRET, base_url=f"https://fakepay.test/{SECRET}")
    client = httpx.Client(transport=httpx.MockTransport(leaky))
    gw = Gateway(providers={"fakepay": FakePay(settings)}, http_client=client, retry=NO_RETRY)
    with caplog.at_level(logging.DEBUG, logger="paymux"), pytest.raises(ProviderError):
        gw.create_charge(request())
    records = [r for r in caplog.records if r.name.startswith("paymux")]
    assert any(r.__dict__.get("request_id") == "r/[redacted]" for r in records)
    for record in records:
        for name, value in record.__dict__.items():
            assert SECRET not in repr(value), name
        assert SECRET not in record.getMessage()


def test_a_transport_failure_is_logged_with_its_type(caplog: pytest.LogCaptureFixture) -> None:
    def down(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    with caplog.at_level(logging.INFO, logger="paymux.http"), pytest.raises(TransportError):
        gateway(down).retrieve_charge("fakepay", "ch_1")
    records = [r.__dict__ for r in caplog.records if r.name == "paymux.http"]
    assert records[0]["error_type"] == "ConnectError"
    assert records[0]["http_status"] is None
    assert records[-1]["levelname"] == "WARNING" and records[-1]["provider"] == "fakepay"


# -- spans ---------------------------------------------------------------------------------------


def _check_charge_spans(otel: Otel) -> None:
    (operation,) = otel.operations("create_charge")
    assert operation.attributes is not None
    assert dict(operation.attributes) == {
        "paymux.provider": "fakepay",
        "paymux.operation": "create_charge",
        "paymux.reference": "order-7",
    }
    assert operation.status.status_code is StatusCode.UNSET
    calls = otel.children(operation)
    assert [(c.name, c.kind) for c in calls] == [
        ("POST", SpanKind.CLIENT),
        ("GET", SpanKind.CLIENT),
    ]
    statuses = []
    for call in calls:
        attrs = dict(call.attributes or {})
        assert attrs["paymux.provider"] == "fakepay"
        assert attrs["paymux.reference"] == "order-7"
        assert attrs["paymux.request_id"] == "req-123"
        assert attrs["paymux.attempt"] == 1
        assert attrs["server.address"] == "fakepay.test"
        assert attrs["url.full"].startswith("https://fakepay.test/charges")
        statuses.append((attrs["paymux.operation"], attrs["http.response.status_code"]))
    assert statuses == [("create_charge", 201), ("retrieve_charge", 200)]


def test_sync_gateway_spans_an_operation_and_its_http_calls(otel: Otel) -> None:
    gateway(api()).create_charge(request())
    _check_charge_spans(otel)


def test_async_gateway_spans_an_operation_and_its_http_calls(otel: Otel) -> None:
    async def go() -> None:
        async with async_gateway(api()) as gw:
            await gw.create_charge(request())

    asyncio.run(go())
    _check_charge_spans(otel)


def test_the_operation_span_is_current_while_the_provider_is_called(otel: Otel) -> None:
    from opentelemetry import trace

    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        # An httpx instrumentation would start its span here: it must nest under ours.
        span = trace.get_current_span()
        seen.append(getattr(span, "name", "?"))
        return api()(req)

    gateway(handler).create_charge(request())
    assert seen == ["POST", "GET"]
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_a_refused_call_marks_both_spans_as_errors(otel: Otel) -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text=f"boom {SECRET}")

    with pytest.raises(ProviderError):
        gateway(refuse).create_charge(request())
    (operation,) = otel.operations("create_charge")
    assert operation.status.status_code is StatusCode.ERROR
    assert operation.attributes is not None
    assert operation.attributes["error.type"] == "paymux.errors.ProviderError"
    (call,) = otel.children(operation)
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes is not None
    assert call.attributes["http.response.status_code"] == 500
    assert call.attributes["error.type"] == "500"
    for span in otel.finished():
        assert SECRET not in repr(span.to_json())


def test_a_transport_failure_records_its_type_only(otel: Otel) -> None:
    def down(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused by {SECRET}", request=req)

    with pytest.raises(TransportError):
        gateway(down).retrieve_charge("fakepay", "ch_1")
    (operation,) = otel.operations("retrieve_charge")
    (call,) = otel.children(operation)
    assert call.attributes is not None
    assert call.attributes["error.type"] == "httpx.ConnectError"
    assert "http.response.status_code" not in call.attributes
    assert operation.attributes is not None
    assert operation.attributes["error.type"] == "paymux.errors.TransportError"
    for span in otel.finished():
        assert SECRET not in repr(span.to_json())


def test_no_spans_once_turned_off(otel: Otel) -> None:
    telemetry.configure(enabled=False)
    gateway(api()).create_charge(request())
    assert otel.finished() == []


# -- metrics -------------------------------------------------------------------------------------


def test_request_duration_and_outcomes_by_provider_method_and_status(otel: Otel) -> None:
    def refuse_reads(req: httpx.Request) -> httpx.Response:
        return httpx.Response(404) if req.method == "GET" else api()(req)

    gw = gateway(api())
    gw.create_charge(request())
    gw.create_charge(request("order-8"))
    with pytest.raises(ProviderError):
        gateway(refuse_reads).retrieve_charge("fakepay", "ch_1")

    counts = {
        (a["http.request.method"], a["http.response.status_code"]): p.value
        for a, p in otel.points("paymux.provider.requests")
    }
    assert counts == {("POST", 201): 2, ("GET", 200): 2, ("GET", 404): 1}
    durations = otel.points("paymux.provider.request.duration")
    assert {a["paymux.provider"] for a, _ in durations} == {"fakepay"}
    assert sum(p.count for _, p in durations) == 5
    assert all(p.sum >= 0 for _, p in durations)


def test_webhook_verifications_by_result(otel: Otel) -> None:
    gw = gateway(api())
    body, headers = signed(
        {"id": "ch_1", "ref": "o", "amount": 1, "currency": "KRW", "state": "paid"}
    )
    gw.parse_webhook("fakepay", body, headers)
    gw.parse_webhook("fakepay", body, headers)
    with pytest.raises(WebhookVerificationError):
        gw.parse_webhook("fakepay", body, {"X-Signature": "forged"})
    bad = b"not json"
    signature = hmac.new(SECRET.encode(), bad, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookParseError):
        gw.parse_webhook("fakepay", bad, {"X-Signature": signature})
    results = {
        a["paymux.webhook.result"]: p.value for a, p in otel.points("paymux.webhook.verifications")
    }
    assert results == {"verified": 2, "rejected": 1, "malformed": 1}
    (verified, *_) = otel.operations("parse_webhook")
    assert verified.attributes is not None
    assert verified.attributes["paymux.reference"] == "o"


# -- the provider's request id -------------------------------------------------------------------


def test_ecommpay_names_an_answer_by_the_gates_request_id() -> None:
    from paymux_ecommpay.provider import EcommpayProvider

    gate: Any = EcommpayProvider.configure({"project_id": 210, "secret_key": "s3cret-value"})
    accepted = {"status": "success", "request_id": "2f56-495c-01", "payment_id": "order-1"}
    assert gate.response_request_id(httpx.Response(200, json=accepted)) == "2f56-495c-01"
    # A status answer names no request of its own; a page that is not JSON falls back to headers.
    assert gate.response_request_id(httpx.Response(200, json={"payment": {}})) is None
    html = httpx.Response(502, text="<html>", headers={"X-Request-Id": "edge-1"})
    assert gate.response_request_id(html) == "edge-1"


def test_a_request_id_that_is_not_printable_text_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="paymux.http"):
        gateway(api("bad\nid")).retrieve_charge("fakepay", "ch_1")
        gateway(api("x" * 500)).retrieve_charge("fakepay", "ch_1")
    ids = [r.__dict__["request_id"] for r in caplog.records if r.name == "paymux.http"]
    assert ids == [None, "x" * 128]
