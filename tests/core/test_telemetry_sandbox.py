"""A sandbox checkout on each provider, sync and async, seen through an in-memory OpenTelemetry SDK."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from async_on_loop import AsyncGatewayOnALoop
from opentelemetry.sdk.trace import ReadableSpan
from otel_support import Otel, otel

from paymux import Gateway
from paymux.sandbox import Sandbox
from paymux.sandbox.checkout import Shopper
from paymux.sandbox.demo import Scenario, scenarios

__all__ = ["otel"]  # the fixture, imported for pytest

# KakaoPay KR (ECommPay: QR by callback, partial refund), KakaoPay SG (Omise: redirect).
CHECKOUTS = {"ecommpay": 0, "omise": 3}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def _secrets(settings: dict[str, dict[str, Any]]) -> list[str]:
    gw = Gateway(providers=settings)
    try:
        return [s for name in gw.providers for s in gw.provider(name).secret_values()]
    finally:
        gw.close()


def _check_logs_and_secrets(
    records: list[logging.LogRecord], otel: Otel, provider: str, secrets: list[str]
) -> None:
    calls = [r.__dict__ for r in records if r.name == "paymux.http"]
    mine = [c for c in calls if c["provider"] == provider]
    assert mine, "every provider call logs a record"
    for call in mine:
        assert call["attempt"] >= 1
        assert isinstance(call["http_status"], int)
        assert call["operation"] and call["provider_operation"]
    assert any(c["operation"] == "refund" for c in mine)
    assert secrets
    texts = [repr(r.__dict__) for r in records] + [s.to_json() for s in otel.finished()]
    for secret in secrets:
        assert not [t for t in texts if secret in t]


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _check(otel: Otel, provider: str, scenario: Scenario) -> None:
    operations = [s for s in otel.operations() if _attrs(s)["paymux.provider"] == provider]
    names = {_attrs(s)["paymux.operation"] for s in operations}
    assert {"create_charge", "parse_webhook", "refund"} <= names, names
    (create,) = [s for s in operations if s.name == "paymux create_charge"]
    assert _attrs(create)["paymux.reference"] == scenario.request.reference
    calls = otel.children(create)
    assert calls, "the create's HTTP call is a child of the operation"
    for call in calls:
        attrs = _attrs(call)
        assert attrs["paymux.provider"] == provider
        assert attrs["paymux.reference"] == scenario.request.reference
        assert attrs["http.response.status_code"] in (200, 201)
    if provider == "ecommpay":
        # The Gate names an accepted sale by its request_id.
        assert all(_attrs(call).get("paymux.request_id") for call in calls)
    (refund,) = [s for s in operations if s.name == "paymux refund"]
    assert _attrs(refund)["paymux.reference"] == scenario.request.reference
    assert otel.children(refund)
    # Every HTTP span hangs under an operation span; none is left without a status code.
    ids = {s.context.span_id for s in otel.operations() if s.context is not None}
    for span in otel.finished():
        if not span.name.startswith("paymux "):
            assert span.parent is not None and span.parent.span_id in ids
            assert "http.response.status_code" in _attrs(span)

    requests = [a for a, _ in otel.points("paymux.provider.requests")]
    assert any(a["paymux.provider"] == provider for a in requests)
    durations = otel.points("paymux.provider.request.duration")
    assert sum(p.count for a, p in durations if a["paymux.provider"] == provider) == len(
        [s for s in otel.finished() if _attrs(s).get("paymux.provider") == provider]
    ) - len(operations)
    verified = {
        a["paymux.provider"]: p.value
        for a, p in otel.points("paymux.webhook.verifications")
        if a["paymux.webhook.result"] == "verified"
    }
    assert verified.get(provider, 0) >= 1


@pytest.mark.parametrize("provider", list(CHECKOUTS))
def test_a_sync_checkout_produces_spans_and_metrics(
    sandbox: Sandbox, otel: Otel, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = scenarios(f"otel-sync-{provider}")[CHECKOUTS[provider]]
    with (
        caplog.at_level(logging.INFO, logger="paymux.http"),
        Gateway(providers=sandbox.provider_settings()) as gw,
    ):
        shopper = Shopper(gw, sandbox.hub)
        try:
            result = shopper.checkout(scenario.request, refunds=scenario.refunds)
        finally:
            shopper.close()
    assert result.provider == provider
    assert result.charge.status is scenario.expected
    _check(otel, provider, scenario)
    _check_logs_and_secrets(caplog.records, otel, provider, _secrets(sandbox.provider_settings()))


@pytest.mark.parametrize("provider", list(CHECKOUTS))
def test_an_async_checkout_produces_spans_and_metrics(
    sandbox: Sandbox, otel: Otel, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = scenarios(f"otel-async-{provider}")[CHECKOUTS[provider]]
    gw = AsyncGatewayOnALoop(sandbox.provider_settings())
    shopper = Shopper(gw, sandbox.hub)  # type: ignore[arg-type]
    try:
        with caplog.at_level(logging.INFO, logger="paymux.http"):
            result = shopper.checkout(scenario.request, refunds=scenario.refunds)
    finally:
        shopper.close()
        gw.close()
    assert result.provider == provider
    assert result.charge.status is scenario.expected
    _check(otel, provider, scenario)
    _check_logs_and_secrets(caplog.records, otel, provider, _secrets(sandbox.provider_settings()))
