"""The sandbox's merchant HTTP API in process: the delivery log, fault settings, references."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from paymux import ChargeRequest, Customer, Gateway, Money
from paymux.models import ReturnUrls
from paymux.sandbox import Sandbox
from paymux.sandbox.app import fault_settings
from paymux.sandbox.server import free_port


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def test_the_delivery_log_keeps_every_attempt_and_its_answer(sandbox: Sandbox) -> None:
    sandbox.hub.callbacks.retry_spacing = 0.01
    closed = f"http://127.0.0.1:{free_port()}/hooks/omise"
    sandbox.hub.callbacks.submit(closed, b'{"n": 1}', {"content-type": "application/json"})
    sandbox.hub.callbacks.submit(
        sandbox.hub.merchant_url("omise"), b'{"n": 2}', {"content-type": "application/json"}
    )
    assert sandbox.hub.callbacks.wait_idle(10)
    log = httpx.get(f"{sandbox.base_url}/merchant/api/callbacks", trust_env=False).json()
    refused = [d for d in log if d["url"] == closed]
    assert [d["attempt"] for d in refused] == [1, 2, 3], "each retry is listed"
    assert all(d["status"] is None and d["error"] == "ConnectError" for d in refused)
    # Neither a forward URL nor the inbox: the log does not guess whose it was.
    assert all(d["provider"] is None for d in refused)
    inbox = [d for d in log if d["url"] == sandbox.hub.merchant_url("omise")]
    assert len(inbox) == 1
    assert inbox[0]["status"] == 200 and inbox[0]["provider"] == "omise"
    assert inbox[0]["body"] == '{"n": 2}'


def test_fault_settings_are_checked() -> None:
    assert fault_settings({"callback_drop": 0.5, "latency_ms": 10}) == {
        "callback_drop": 0.5,
        "latency_ms": 10,
    }
    for bad in (
        {"drop": 1.5},
        {"drop": True},
        {"latency_ms": -1},
        {"latency_ms": 1.5},
        {"once": [["/omise", "boom"]]},
        {"once": "x"},
        ["drop"],
    ):
        with pytest.raises(ValueError):
            fault_settings(bad)


def test_the_customer_api_finds_an_omise_charge_by_the_shops_reference(
    sandbox: Sandbox,
) -> None:
    request = ChargeRequest(
        reference="by-ref-1",
        amount=Money(1_500, "SGD"),
        method="kakaopay",
        country="SG",
        customer=Customer(id="c", ip_address="192.0.2.1"),
        return_urls=ReturnUrls(
            success="https://shop.example/ok", decline="https://shop.example/no"
        ),
    )
    with Gateway(providers=sandbox.provider_settings()) as gw:
        charge = gw.create_charge(request)
    assert charge.id != "by-ref-1"
    assert sandbox.hub.payment("omise", "by-ref-1") is sandbox.hub.payment("omise", charge.id)
    assert sandbox.hub.payment("ecommpay", "by-ref-1") is None, "one provider's payments only"
    answer = httpx.post(
        f"{sandbox.base_url}/customer/api/omise/by-ref-1/pay", trust_env=False
    ).json()
    assert answer == {"provider": "omise", "id": charge.id, "reference": "by-ref-1", "state": "pay"}
