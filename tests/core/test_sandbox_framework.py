"""The sandbox machinery (customer, callbacks, faults) over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fakepay_emulator import FakePayEmulator

from paymux import ChargeRequest, ChargeStatus, Customer, DisplayQrCode, Gateway, Money
from paymux.errors import TransportError
from paymux.runner import RetryPolicy
from paymux.sandbox import FaultPlan, Sandbox

pytestmark = pytest.mark.usefixtures("fakepay_installed")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(emulators={"fakepay": FakePayEmulator}, faults=FaultPlan(seed=7)) as running:
        yield running


@pytest.fixture
def gw(sandbox: Sandbox) -> Iterator[Gateway]:
    with Gateway(
        providers=sandbox.provider_settings(),
        retry=RetryPolicy(initial_wait=0.01, max_wait=0.02, jitter=0),
    ) as gateway:
        yield gateway


def request(reference: str = "order-1") -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=Money(5000, "KRW"),
        method="kakaopay",
        country="KR",
        customer=Customer(id="c1", ip_address="192.0.2.10"),
    )


def test_customer_pays_and_the_verified_callback_arrives(sandbox: Sandbox, gw: Gateway) -> None:
    charge = gw.create_charge(request())
    assert isinstance(charge.next_action, DisplayQrCode)
    page = httpx.get(charge.next_action.data or "", trust_env=False)
    assert page.status_code == 200
    assert 'id="pay"' in page.text
    assert "5,000 KRW" in page.text

    answer = httpx.post(f"{sandbox.base_url}/customer/api/fakepay/{charge.id}/pay", trust_env=False)
    assert answer.json()["state"] == "pay"
    received = sandbox.hub.wait_for_callback("fakepay", 0, timeout=5)
    assert received is not None
    event = gw.parse_webhook("fakepay", received.body, received.headers)
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.SUCCEEDED

    again = httpx.post(
        f"{sandbox.base_url}/customer/api/fakepay/{charge.id}/decline", trust_env=False
    )
    assert again.status_code == 409, "a customer cannot act twice on one payment"


def test_5xx_on_a_safe_read_is_retried_through(sandbox: Sandbox, gw: Gateway) -> None:
    charge = gw.create_charge(request())
    sandbox.faults.update({"once": [("/fakepay/charges/", "error")]})
    assert gw.retrieve_charge(charge).id == charge.id


def test_connection_dropped_after_processing(sandbox: Sandbox, gw: Gateway) -> None:
    sandbox.faults.update({"once": [("/fakepay/charges", "drop")]})
    with pytest.raises(TransportError) as info:
        gw.create_charge(request())
    assert info.value.request_sent is True
    emulator = sandbox.emulators["fakepay"]
    assert isinstance(emulator, FakePayEmulator)
    assert len(emulator.charges) == 1, (
        "the provider processed the charge although the answer was lost"
    )


def test_duplicated_and_dropped_callbacks(sandbox: Sandbox, gw: Gateway) -> None:
    sandbox.faults.update({"callback_duplicate": 1.0})
    first = gw.create_charge(request("order-dup"))
    sandbox.hub.act("fakepay", first.id, "pay")
    assert sandbox.hub.callbacks.wait_idle()
    bodies = [c.body for c in sandbox.hub.inbox("fakepay")]
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]

    sandbox.faults.update({"callback_duplicate": 0.0, "callback_drop": 1.0})
    second = gw.create_charge(request("order-drop"))
    sandbox.hub.act("fakepay", second.id, "pay")
    assert sandbox.hub.callbacks.wait_idle()
    assert len(sandbox.hub.inbox("fakepay")) == 2
    assert sandbox.hub.callbacks.stats.dropped == 1
    assert gw.retrieve_charge(second).status is ChargeStatus.SUCCEEDED, (
        "polling still finds the truth"
    )


def test_fault_controls_over_http(sandbox: Sandbox) -> None:
    answer = httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"error": 0.5}, trust_env=False)
    assert answer.json()["error"] == 0.5
    bad = httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"nonsense": 1}, trust_env=False)
    assert bad.status_code == 400
