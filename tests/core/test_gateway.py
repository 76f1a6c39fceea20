from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from paymux import (
    AsyncGateway,
    ChargeRequest,
    ChargeStatus,
    Customer,
    DisplayQrCode,
    Gateway,
    Money,
    RefundStatus,
)
from paymux.errors import (
    InvalidRequest,
    NoRouteError,
    ProviderError,
    RefundNotAllowed,
    TransportError,
)
from paymux.runner import RetryPolicy

pytestmark = pytest.mark.usefixtures("fakepay_installed")

FAST = RetryPolicy(initial_wait=0.001, max_wait=0.002, jitter=0.0)


def request(**overrides: Any) -> ChargeRequest:
    fields: dict[str, Any] = {
        "reference": "order-1",
        "amount": Money(5000, "KRW"),
        "method": "kakaopay",
        "country": "KR",
        "customer": Customer(id="c1", ip_address="192.0.2.10"),
    }
    fields.update(overrides)
    return ChargeRequest(**fields)


class FakeApi:
    """The fakepay HTTP API in memory, recording every request it sees."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []
        self.failures: list[Callable[[httpx.Request], httpx.Response | None]] = []

    def __call__(self, req: httpx.Request) -> httpx.Response:
        self.seen.append(req)
        if self.failures:
            answer = self.failures.pop(0)(req)
            if answer is not None:
                return answer
        if req.method == "POST" and req.url.path == "/charges":
            return httpx.Response(201, json={"id": "ch_1"})
        if req.method == "GET" and req.url.path == "/charges/ch_1":
            return httpx.Response(
                200,
                json={
                    "id": "ch_1",
                    "ref": "order-1",
                    "amount": 5000,
                    "currency": "KRW",
                    "method": "kakaopay",
                    "state": "qr",
                    "qr": "kakao://pay/ch_1",
                },
            )
        if req.url.path == "/charges/ch_1/refunds":
            return httpx.Response(
                200, json={"id": "rf_1", "amount": json.loads(req.content)["amount"]}
            )
        return httpx.Response(404, json={"error": "not_found"})

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.seen]


def gateway(api: FakeApi, **kw: Any) -> Gateway:
    client = httpx.Client(transport=httpx.MockTransport(api))
    return Gateway(
        providers={"fakepay": {"api_key": "k_test_SECRET"}},
        http_client=client,
        retry=kw.pop("retry", FAST),
        **kw,
    )


def async_gateway(api: FakeApi) -> AsyncGateway:
    client = httpx.AsyncClient(transport=httpx.MockTransport(api))
    return AsyncGateway(
        providers={"fakepay": {"api_key": "k_test_SECRET"}}, http_client=client, retry=FAST
    )


def test_two_step_flow_sync_and_async_give_the_same_charge() -> None:
    sync_api, async_api = FakeApi(), FakeApi()
    charge = gateway(sync_api).create_charge(request())

    async def go() -> Any:
        async with async_gateway(async_api) as agw:
            return await agw.create_charge(request())

    import asyncio

    assert asyncio.run(go()) == charge
    assert charge.status is ChargeStatus.REQUIRES_ACTION
    assert charge.next_action == DisplayQrCode(data="kakao://pay/ch_1")
    assert sync_api.paths() == async_api.paths() == ["POST /charges", "GET /charges/ch_1"]


def test_safe_read_is_retried_on_503_and_connect_error() -> None:
    api = FakeApi()
    gw = gateway(api)
    charge = gw.create_charge(request())

    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    api.seen.clear()
    api.failures = [lambda r: httpx.Response(503), refuse]
    assert gw.retrieve_charge(charge).id == "ch_1"
    assert api.paths() == ["GET /charges/ch_1"] * 3


def test_safe_read_is_retried_after_a_timeout_or_a_cut_answer() -> None:
    api = FakeApi()
    gw = gateway(api)
    charge = gw.create_charge(request())

    def slow(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=req)

    def cut(req: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=req)

    api.seen.clear()
    api.failures = [slow, cut]
    assert gw.retrieve_charge(charge).id == "ch_1"
    assert api.paths() == ["GET /charges/ch_1"] * 3


def test_unsafe_post_is_never_retried() -> None:
    api = FakeApi()
    api.failures = [lambda r: httpx.Response(503)]
    with pytest.raises(ProviderError) as info:
        gateway(api).create_charge(request())
    assert info.value.http_status == 503
    assert api.paths() == ["POST /charges"]


def test_post_marked_safe_by_the_provider_is_retried() -> None:
    api = FakeApi()
    api.failures = [lambda r: httpx.Response(502)]
    client = httpx.Client(transport=httpx.MockTransport(api))
    gw = Gateway(
        providers={"fakepay": {"api_key": "k_test_SECRET", "idempotent_create": True}},
        http_client=client,
        retry=FAST,
    )
    assert gw.create_charge(request()).id == "ch_1"
    assert api.paths() == ["POST /charges", "POST /charges", "GET /charges/ch_1"]


def test_unsafe_post_connect_error_says_nothing_was_sent() -> None:
    api = FakeApi()

    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    api.failures = [refuse]
    with pytest.raises(TransportError) as info:
        gateway(api).create_charge(request())
    assert info.value.request_sent is False


def test_read_timeout_after_sending_says_look_it_up() -> None:
    api = FakeApi()

    def slow(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=req)

    api.failures = [slow]
    with pytest.raises(TransportError, match="retrieve_charge by reference") as info:
        gateway(api).create_charge(request())
    assert info.value.request_sent is True
    assert api.paths() == ["POST /charges"]


def test_retry_after_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    api = FakeApi()
    gw = gateway(api)
    charge = gw.create_charge(request())
    api.failures = [lambda r: httpx.Response(429, headers={"Retry-After": "2"})]
    gw.retrieve_charge(charge)
    assert waits == [2.0]


def test_too_long_retry_after_returns_the_answer_instead_of_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    api = FakeApi()
    gw = gateway(api)
    charge = gw.create_charge(request())
    api.failures = [lambda r: httpx.Response(503, headers={"Retry-After": "3600"})]
    with pytest.raises(ProviderError):
        gw.retrieve_charge(charge)
    assert waits == []


def test_validation_happens_before_the_network() -> None:
    api = FakeApi()
    # A detail the capability requires (a customer field): the request's mistake, by field,
    # whether the router or an explicit provider= finds it.
    for provider in (None, "fakepay"):
        with pytest.raises(InvalidRequest, match=r"needs the customer's ip_address") as named:
            gateway(api).create_charge(request(customer=Customer(id="c1")), provider=provider)
        assert named.value.field == "customer.ip_address"
    with pytest.raises(NoRouteError):
        gateway(api).create_charge(request(amount=Money(1, "KRW")))
    with pytest.raises(InvalidRequest):
        gateway(api).create_charge({"reference": "x"})  # type: ignore[arg-type]
    assert api.seen == []


def test_refund_rules_are_checked_locally() -> None:
    api = FakeApi()
    gw = gateway(api)
    charge = gw.create_charge(request())
    with pytest.raises(RefundNotAllowed, match="requires_action"):
        gw.refund(charge)
    paid = charge.model_copy(update={"status": ChargeStatus.SUCCEEDED})
    with pytest.raises(RefundNotAllowed, match="more than"):
        gw.refund(paid, Money(5001, "KRW"))
    with pytest.raises(InvalidRequest):
        gw.refund(paid, Money(100, "USD"))
    api.seen.clear()
    refund = gw.refund(paid, Money(1000, "KRW"), reference="order-1-r1")
    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.amount == Money(1000, "KRW")
    assert json.loads(api.seen[0].content) == {"amount": 1000, "ref": "order-1-r1"}


def test_full_only_capability_refuses_partial_refund() -> None:
    api = FakeApi()
    gw = gateway(api)
    from paymux import Charge

    card = Charge(
        provider="fakepay",
        id="ch_9",
        amount=Money(1000, "USD"),
        method="card",
        status=ChargeStatus.SUCCEEDED,
    )
    with pytest.raises(RefundNotAllowed, match="only in full"):
        gw.refund(card, Money(500, "USD"))
    assert api.seen == []


def test_retrieve_by_provider_and_id() -> None:
    api = FakeApi()
    assert gateway(api).retrieve_charge("fakepay", "ch_1").reference == "order-1"


def test_provider_flow_bug_surfaces_as_paymux_error() -> None:
    api = FakeApi()
    api.failures = [lambda r: httpx.Response(201, json={"no_id": True})]
    with pytest.raises(ProviderError, match="KeyError"):
        gateway(api).create_charge(request())
