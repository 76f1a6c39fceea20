"""The demo's checkouts as end-to-end tests: real loopback HTTP, both emulators, sync and async."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from async_on_loop import AsyncGatewayOnALoop

from paymux import ChargeStatus, Gateway
from paymux.cli import main
from paymux.errors import TransportError
from paymux.sandbox import Sandbox
from paymux.sandbox.checkout import Shopper
from paymux.sandbox.demo import Scenario, scenarios
from paymux_ecommpay.emulator import EcommpayEmulator
from paymux_omise.emulator import OmiseEmulator

EXPECTED_ACTIONS = {
    "KakaoPay KR": (["QR code"], "ecommpay"),
    "Payco KR": (["POST redirect"], "ecommpay"),
    "Card KE": (["clarify", "POST redirect"], "ecommpay"),
    "KakaoPay SG": (["GET redirect"], "omise"),
    # Omise's QR methods, each through the account of its country (the router, no rules).
    "PromptPay TH": (["QR code"], "omise_th"),
    "PayNow SG": (["QR code"], "omise"),
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # The demo's two providers only: another installed plugin must not take their checkouts.
    with Sandbox(emulators={"ecommpay": EcommpayEmulator, "omise": OmiseEmulator}) as running:
        assert set(running.emulators) == {"ecommpay", "omise", "omise_th"}
        yield running


def _check(scenario: Scenario, shopper: Shopper) -> None:
    result = shopper.checkout(scenario.request, refunds=scenario.refunds)
    actions, provider = EXPECTED_ACTIONS[scenario.title]
    assert result.provider == provider
    assert result.next_actions == actions
    assert result.charge.status is scenario.expected
    assert result.charge.refunded_amount == scenario.expected_refunded
    assert result.callbacks >= 1, "the outcome came from a verified callback"


@pytest.mark.parametrize("index", range(6), ids=[s.title for s in scenarios("ids")])
def test_demo_checkout_with_the_sync_gateway(sandbox: Sandbox, index: int) -> None:
    scenario = scenarios("sync")[index]
    with Gateway(providers=sandbox.provider_settings()) as gw:
        shopper = Shopper(gw, sandbox.hub)
        try:
            _check(scenario, shopper)
        finally:
            shopper.close()


@pytest.mark.parametrize("index", range(6), ids=[s.title for s in scenarios("ids")])
def test_demo_checkout_with_the_async_gateway(sandbox: Sandbox, index: int) -> None:
    scenario = scenarios("async")[index]
    gw = AsyncGatewayOnALoop(sandbox.provider_settings())
    shopper = Shopper(gw, sandbox.hub)  # type: ignore[arg-type]
    try:
        _check(scenario, shopper)
    finally:
        shopper.close()
        gw.close()


def test_declined_payments_fail_with_a_reason(sandbox: Sandbox) -> None:
    with Gateway(providers=sandbox.provider_settings()) as gw:
        shopper = Shopper(gw, sandbox.hub)
        for scenario in scenarios("declined"):
            result = shopper.checkout(scenario.request, action="decline")
            assert result.charge.status is ChargeStatus.FAILED, scenario.title
            assert result.charge.failure is not None
        shopper.close()


def test_paymux_demo_command_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 checkouts ended as expected" in out


def test_dropped_connection_after_a_gate_sale_does_not_pay_twice(sandbox: Sandbox) -> None:
    scenario = scenarios("drop-ecommpay")[1]
    sandbox.faults.update({"once": [("/ecommpay/v2/payment/wallet/payco/sale", "drop")]})
    with Gateway(providers=sandbox.provider_settings()) as gw:
        # The sale is safe to repeat (its payment id is unique), so paymux sends it again at
        # once; the Gate answers 3041 (no second payment) and paymux answers with the payment
        # it holds: one reference, one attempt.
        charge = gw.create_charge(scenario.request)
        assert charge.id == scenario.request.reference
        assert gw.create_charge(scenario.request).id == charge.id
    emulator: Any = sandbox.emulators["ecommpay"]
    assert scenario.request.reference in emulator.payments


def test_dropped_connection_after_an_omise_charge_does_not_pay_twice(sandbox: Sandbox) -> None:
    scenario = scenarios("drop-omise")[3]
    emulator: Any = sandbox.emulators["omise"]
    before = len(emulator.charges)
    # The emulator's own knob: POST /charges only (a path prefix would also hit the charge list).
    emulator.tune(lose_answers={"charges": 1})
    with Gateway(providers=sandbox.provider_settings()) as gw:
        with pytest.raises(TransportError):
            gw.create_charge(scenario.request)
        # Omise has no idempotency key; paymux finds the first charge by its reference instead.
        charge = gw.create_charge(scenario.request)
        assert charge.reference == scenario.request.reference
    assert len(emulator.charges) == before + 1
