"""One reference is one payment attempt, on both providers and through both the gateway and the
ledger: a repeat answers with that attempt whatever became of it (never a second payment); a new
attempt for the same order takes a new reference (``paymux.attempt_reference``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paymux import (
    ChargeRequest,
    ChargeStatus,
    Customer,
    Gateway,
    Ledger,
    Money,
    ReturnUrls,
    attempt_reference,
)
from paymux.errors import DuplicateRequest, InvalidRequest
from paymux.runner import RetryPolicy
from paymux.sandbox import Sandbox
from paymux_ecommpay.emulator import EcommpayEmulator
from paymux_omise.emulator import OmiseEmulator

FAST = RetryPolicy(initial_wait=0.0, max_wait=0.0, jitter=0.0)
PROVIDERS = ("omise", "ecommpay")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(emulators={"omise": OmiseEmulator, "ecommpay": EcommpayEmulator}) as running:
        yield running


@pytest.fixture
def gw(sandbox: Sandbox) -> Iterator[Gateway]:
    with Gateway(providers=sandbox.provider_settings(), retry=FAST) as gateway:
        yield gateway


def _request(provider: str, reference: str) -> ChargeRequest:
    where = (Money(1500, "SGD"), "SG") if provider == "omise" else (Money(10_000, "KRW"), "KR")
    return ChargeRequest(
        reference=reference,
        amount=where[0],
        method="kakaopay",
        country=where[1],
        customer=Customer(id="customer-1", ip_address="192.0.2.10"),
        return_urls=ReturnUrls(
            success=f"https://shop.example/{reference}/done",
            decline=f"https://shop.example/{reference}/failed",
        ),
    )


def _held(sandbox: Sandbox, provider: str, reference: str) -> int:
    """How many payments the provider's own books hold for ``reference``."""
    emulator: Any = sandbox.emulators[provider]
    if provider == "omise":
        books = emulator.books().values()
        return sum(1 for c in books if c["metadata"].get("paymux_reference") == reference)
    return sum(1 for payment_id in emulator.books() if payment_id == reference)


def _decline(sandbox: Sandbox, provider: str, charge_id: str) -> None:
    sandbox.hub.act(provider, charge_id, "decline")
    assert sandbox.hub.callbacks.wait_idle()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_gateway_answers_a_repeat_with_that_attempt(
    sandbox: Sandbox, gw: Gateway, provider: str
) -> None:
    order = f"gw-{provider}-order"
    first = gw.create_charge(_request(provider, attempt_reference(order, 1)), provider=provider)
    _decline(sandbox, provider, first.id)
    again = gw.create_charge(_request(provider, attempt_reference(order, 1)), provider=provider)
    assert (again.id, again.status) == (first.id, ChargeStatus.FAILED)
    assert _held(sandbox, provider, attempt_reference(order, 1)) == 1

    second = gw.create_charge(_request(provider, attempt_reference(order, 2)), provider=provider)
    assert second.id != first.id
    assert not second.status.is_final
    assert _held(sandbox, provider, attempt_reference(order, 2)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_ledger_answers_a_repeat_with_that_attempt(
    sandbox: Sandbox, gw: Gateway, provider: str, tmp_path: Path
) -> None:
    order = f"ledger-{provider}-order"
    with Ledger(gw, url=f"sqlite:///{tmp_path / 'refs.db'}") as ledger:
        first = ledger.create_charge(_request(provider, attempt_reference(order, 1)), provider)
        _decline(sandbox, provider, first.id)
        refreshed = ledger.refresh(attempt_reference(order, 1))
        assert refreshed is not None and refreshed.status is ChargeStatus.FAILED
        again = ledger.create_charge(_request(provider, attempt_reference(order, 1)), provider)
        assert (again.id, again.status) == (first.id, ChargeStatus.FAILED)
        second = ledger.create_charge(_request(provider, attempt_reference(order, 2)), provider)
        assert second.id != first.id
    assert _held(sandbox, provider, attempt_reference(order, 1)) == 1
    assert _held(sandbox, provider, attempt_reference(order, 2)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_reference_used_for_another_amount_is_refused_by_the_gateway(
    gw: Gateway, provider: str
) -> None:
    reference = f"other-amount-{provider}"
    gw.create_charge(_request(provider, reference), provider=provider)
    other = _request(provider, reference)
    other = other.model_copy(
        update={"amount": Money(other.amount.amount * 2, other.amount.currency)}
    )
    # One meaning on both providers: the reference is held by a different request.
    with pytest.raises(DuplicateRequest, match="another request"):
        gw.create_charge(other, provider=provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_reference_used_for_another_amount_is_refused_by_the_ledger_alike(
    sandbox: Sandbox, gw: Gateway, provider: str, tmp_path: Path
) -> None:
    reference = f"ledger-other-amount-{provider}"
    request = _request(provider, reference)
    other = request.model_copy(
        update={"amount": Money(request.amount.amount * 2, request.amount.currency)}
    )
    with Ledger(gw, url=f"sqlite:///{tmp_path / 'reused.db'}") as ledger:
        first = ledger.create_charge(request, provider)
        # One class on both surfaces; the ledger finds it in its own books, asking nobody.
        with pytest.raises(DuplicateRequest, match="another request") as caught:
            ledger.create_charge(other, provider)
        assert caught.value.provider == provider
        assert ledger.create_charge(request, provider) == first
    assert _held(sandbox, provider, reference) == 1


def test_attempt_references_are_distinct_and_checked() -> None:
    assert attempt_reference("order-345678", 1) == "order-345678.1"
    made = {attempt_reference(o, n) for o in ("o", "o.1", "o.11") for n in (1, 2, 11)}
    assert len(made) == 9
    for order_id, attempt, field in [
        ("", 1, "order_id"),
        ("order 1", 1, "order_id"),
        ("o" * 63, 1, "order_id"),
        ("order", 0, "attempt"),
        ("order", True, "attempt"),
        ("order", "2", "attempt"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            attempt_reference(order_id, attempt)  # type: ignore[arg-type]
        assert caught.value.field == field
