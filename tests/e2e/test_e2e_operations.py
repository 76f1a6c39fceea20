"""After the charge, end to end on the sandbox (real loopback HTTP, both emulators), with the
Ledger, sync and async: cancel, list, refund look-ups and metadata, or the declared typed error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paymux import (
    AsyncGateway,
    Charge,
    ChargeRequest,
    ChargeStatus,
    Customer,
    Gateway,
    Ledger,
    Money,
    RedirectToUrl,
    ReturnUrls,
)
from paymux.errors import OperationNotSupported, ProviderError
from paymux.ledger import AsyncLedger
from paymux.sandbox import Sandbox

SHOP = "https://shop.example/orders"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def _request(reference: str, provider: str, **metadata: str) -> ChargeRequest:
    if provider == "omise":
        amount, country = Money(1500, "SGD"), "SG"
    else:
        amount, country = Money(10_000, "KRW"), "KR"
    return ChargeRequest(
        reference=reference,
        amount=amount,
        method="kakaopay",
        country=country,
        customer=Customer(id="customer-1", ip_address="192.0.2.10", email="c@example.com"),
        return_urls=ReturnUrls(success=f"{SHOP}/ok", decline=f"{SHOP}/failed"),
        metadata=metadata,
    )


def _pay(sandbox: Sandbox, charge: Charge) -> None:
    """The customer opens the payment page (if any) and approves."""
    action = charge.next_action
    if isinstance(action, RedirectToUrl) and action.method == "GET":
        with httpx.Client(follow_redirects=True, trust_env=False) as browser:
            browser.get(action.url).raise_for_status()
    sandbox.hub.act(charge.provider, charge.id, "pay")


def _settled(ledger: Ledger, reference: str) -> Charge:
    """Poll the provider through the ledger until the charge is paid (bounded, no timing)."""
    for _ in range(100):
        charge = ledger.refresh(reference)
        assert charge is not None
        if charge.status.is_final:
            return charge
        time.sleep(0.05)
    raise AssertionError(f"{reference} never settled")


def test_omise_cancel_list_refunds_and_metadata(sandbox: Sandbox, tmp_path: Path) -> None:
    with (
        Gateway(providers=sandbox.provider_settings()) as gw,
        Ledger(gw, url=f"sqlite:///{tmp_path / 'omise.db'}") as ledger,
    ):
        opened = ledger.create_charge(_request("ops-omise-1", "omise", order="1"))
        assert opened.metadata == {"order": "1"}
        canceled = ledger.cancel_charge("ops-omise-1")
        assert canceled.status is ChargeStatus.EXPIRED
        assert ledger.get("ops-omise-1").status is ChargeStatus.EXPIRED  # type: ignore[union-attr]
        assert ledger.abandoned_at("ops-omise-1") is None  # canceled at Omise, not abandoned

        paid = ledger.create_charge(_request("ops-omise-2", "omise", order="2"))
        _pay(sandbox, paid)
        assert _settled(ledger, "ops-omise-2").status is ChargeStatus.SUCCEEDED
        refund = ledger.refund("ops-omise-2", Money(500, "SGD"), reference="ops-omise-2-r1")

        listed = {c.reference: c for c in gw.list_charges("omise")}
        assert listed["ops-omise-1"].status is ChargeStatus.EXPIRED
        assert listed["ops-omise-2"].metadata == {"order": "2"}
        only_paid = [c.reference for c in gw.list_charges("omise", status="partially_refunded")]
        assert "ops-omise-2" in only_paid and "ops-omise-1" not in only_paid

        charge = gw.retrieve_charge("omise", reference="ops-omise-2")
        assert [r.id for r in gw.list_refunds(charge)] == [refund.id]
        assert gw.retrieve_refund(charge, refund.id).amount == Money(500, "SGD")
        rows = ledger.refunds("ops-omise-2")
        assert [(r.reference, r.amount) for r in rows] == [("ops-omise-2-r1", Money(500, "SGD"))]
        page = ledger.charges(reference_prefix="ops-omise-")
        assert [c.reference for c in page] == ["ops-omise-1", "ops-omise-2"]


def test_a_cancel_too_late_is_refused_and_the_ledger_learns_the_payment(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    with (
        Gateway(providers=sandbox.provider_settings()) as gw,
        Ledger(gw, url=f"sqlite:///{tmp_path / 'late.db'}") as ledger,
    ):
        opened = ledger.create_charge(_request("ops-omise-late", "omise"))
        _pay(sandbox, opened)
        for _ in range(100):
            if gw.retrieve_charge(opened).status.is_paid:
                break
            time.sleep(0.05)
        # The ledger has not heard of the payment yet; Omise refuses to expire a paid charge.
        assert ledger.get("ops-omise-late").status is ChargeStatus.REQUIRES_ACTION  # type: ignore[union-attr]
        with pytest.raises(ProviderError):
            ledger.cancel_charge("ops-omise-late")
        assert ledger.get("ops-omise-late").status is ChargeStatus.SUCCEEDED  # type: ignore[union-attr]


def test_ecommpay_declares_no_cancel_and_the_ledger_abandons(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    with (
        Gateway(providers=sandbox.provider_settings()) as gw,
        Ledger(gw, url=f"sqlite:///{tmp_path / 'ecommpay.db'}") as ledger,
    ):
        opened = ledger.create_charge(_request("ops-ecp-1", "ecommpay", order="7"))
        with pytest.raises(OperationNotSupported):
            gw.cancel_charge(opened)
        with pytest.raises(OperationNotSupported):
            gw.list_charges("ecommpay")
        abandoned = ledger.cancel_charge("ops-ecp-1")
        assert not abandoned.status.is_final
        assert ledger.abandoned_at("ops-ecp-1") is not None
        # The customer pays anyway: recorded (the money was taken), and flagged for a human.
        waiting = ledger.refresh("ops-ecp-1")
        assert waiting is not None
        _pay(sandbox, waiting)
        paid = _settled(ledger, "ops-ecp-1")
        assert paid.status is ChargeStatus.SUCCEEDED
        assert [f.kind for f in ledger.flags("ops-ecp-1")] == ["late_success"]
        # The Gate keeps no metadata; the ledger does.
        assert paid.metadata == {"order": "7"}

        ledger.refund("ops-ecp-1", Money(3_000, "KRW"), reference="ops-ecp-1-r1")
        for _ in range(100):
            refunds = gw.list_refunds(paid)
            if refunds:
                break
            time.sleep(0.05)
        assert [r.amount for r in refunds] == [Money(3_000, "KRW")]
        assert gw.retrieve_refund(paid, refunds[0].id) == refunds[0]
        assert [r.reference for r in ledger.refunds("ops-ecp-1")] == ["ops-ecp-1-r1"]


def test_the_async_gateway_and_ledger(sandbox: Sandbox, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            AsyncGateway(providers=sandbox.provider_settings()) as gw,
            AsyncLedger(gw, url=f"sqlite:///{tmp_path / 'async.db'}") as ledger,
        ):
            omise = await ledger.create_charge(_request("ops-async-1", "omise", k="v"))
            ecommpay = await ledger.create_charge(_request("ops-async-2", "ecommpay", k="w"))
            assert (await ledger.cancel_charge("ops-async-1")).status is ChargeStatus.EXPIRED
            assert not (await ledger.cancel_charge("ops-async-2")).status.is_final
            with pytest.raises(OperationNotSupported):
                await gw.cancel_charge(ecommpay)
            with pytest.raises(OperationNotSupported):
                gw.list_charges("ecommpay")
            found = [c async for c in gw.list_charges("omise") if c.id == omise.id]
            assert [(c.status, c.metadata) for c in found] == [(ChargeStatus.EXPIRED, {"k": "v"})]
            assert await gw.list_refunds(found[0]) == []
            page = await ledger.charges(reference_prefix="ops-async-")
            assert [(c.reference, c.metadata) for c in page] == [
                ("ops-async-1", {"k": "v"}),
                ("ops-async-2", {"k": "w"}),
            ]
            assert [c.reference for c in await ledger.charges(abandoned=True)] == ["ops-async-2"]

    asyncio.run(scenario())
