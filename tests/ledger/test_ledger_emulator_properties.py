"""A property of the Ledger with the real plugins and their emulators: whatever partial refunds
the merchant asks, whichever of them the provider declines, completes late or answers only after
the answer was lost, and however the callbacks arrive (late, twice, out of order), the Ledger ends
with exactly the provider's refunds, each one the merchant asked for once."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from campaign_books import read_books
from hypothesis import given
from hypothesis import strategies as st
from ledger_support import emulator_request
from property_profiles import fast, thorough

from paymux import Gateway, Ledger, Money
from paymux.errors import DuplicateRequest, PaymuxError, RefundNotAllowed
from paymux.runner import RetryPolicy
from paymux.sandbox import Sandbox

ECOMMPAY_REFUND_PATH = "/ecommpay/v2/payment/wallet/kakaopay/refund"
_references = itertools.count()


@dataclass(frozen=True)
class Step:
    share: int
    """Per mille of what is left of the charge (at least one minor unit)."""
    lost: bool
    late: bool
    declined: bool


@dataclass(frozen=True)
class Case:
    provider: str
    amount: int
    steps: tuple[Step, ...]
    shuffle_seed: int


steps = st.builds(
    Step,
    share=st.integers(1, 1000),
    lost=st.booleans(),
    late=st.booleans(),
    declined=st.sampled_from([False, False, True]),
)
cases = st.builds(
    Case,
    provider=st.sampled_from(["ecommpay", "omise"]),
    amount=st.integers(100, 50_000),
    steps=st.lists(steps, min_size=1, max_size=4).map(tuple),
    shuffle_seed=st.integers(0, 2**16),
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def _deliver(sandbox: Sandbox, ledger: Ledger, seen: dict[str, int], seed: int) -> None:
    """Every new callback, some twice, in a shuffled order."""
    sandbox.hub.callbacks.wait_idle(timeout=10)
    rng = random.Random(seed)  # a reproducible delivery order, not security
    batch = []
    for provider in ("ecommpay", "omise"):
        received = sandbox.hub.inbox(provider)
        batch += [(provider, c) for c in received[seen[provider] :]]
        seen[provider] = len(received)
    batch += rng.sample(batch, len(batch) // 2)
    rng.shuffle(batch)
    for provider, callback in batch:
        ledger.handle_webhook(provider, callback.body, callback.headers)


def _knobs(sandbox: Sandbox, provider: str, refund_reference: str, step: Step) -> None:
    emulator: Any = sandbox.emulators[provider]
    if provider == "omise":
        emulator.tune(
            refund_delay=0.05 if step.late else 0.0,
            decline_refunds=int(step.declined),
            lose_answers={"refunds": int(step.lost)},
        )
        return
    emulator.plan_refund(
        refund_reference, refund_decline=float(step.declined), refund_delay=0.05 * step.late
    )
    if step.lost:
        sandbox.faults.update({"once": [(ECOMMPAY_REFUND_PATH, "drop")]})


def _refund(ledger: Ledger, reference: str, amount: Money, refund_reference: str) -> None:
    """As a merchant does: retry what failed on the way, stop at a refusal or a duplicate."""
    for _ in range(3):
        try:
            ledger.refund(reference, amount, reference=refund_reference)
            return
        except (RefundNotAllowed, DuplicateRequest):
            return
        except PaymuxError:
            continue


def check_refunds_agree(sandbox: Sandbox, case: Case) -> None:
    reference = f"prop-{next(_references):05d}"
    settings = sandbox.provider_settings()
    with (
        Gateway(
            providers=settings,
            retry=RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.002, jitter=0.0),
        ) as gw,
        Ledger(gw, "sqlite://") as ledger,
    ):
        seen = {p: len(sandbox.hub.inbox(p)) for p in ("ecommpay", "omise")}
        charge = ledger.create_charge(emulator_request(case.provider, reference, case.amount))
        deadline = time.monotonic() + 10
        while sandbox.hub.payment(charge.provider, charge.id) is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        sandbox.hub.act(charge.provider, charge.id, "pay")
        _deliver(sandbox, ledger, seen, case.shuffle_seed)
        paid = ledger.refresh(reference)
        assert paid is not None and paid.status.is_paid
        asked: dict[str, int] = {}
        left = case.amount
        for n, step in enumerate(case.steps):
            amount = max(1, left * step.share // 1000)
            refund_reference = f"{reference}-{n}"
            asked[refund_reference] = amount
            _knobs(sandbox, case.provider, refund_reference, step)
            _refund(ledger, reference, Money(amount, charge.amount.currency), refund_reference)
            left = max(0, left - amount)
            if left == 0:
                break
        time.sleep(0.1)  # late refunds complete
        _deliver(sandbox, ledger, seen, case.shuffle_seed + 1)
        ledger.reconcile(older_than=timedelta(0))

        book = read_books(sandbox)[reference]
        assert len(book) == 1
        entry = ledger.entry(reference)
        assert entry is not None
        provider_refunds = sorted(
            (r.reference, r.amount) for r in book[0].refunds if r.status == "succeeded"
        )
        ledger_refunds = sorted(
            (r.reference, r.amount.amount) for r in entry.refunds if r.status == "succeeded"
        )
        assert ledger_refunds == provider_refunds
        assert entry.refunded.amount == book[0].refunded <= case.amount
        assert all(asked[ref] == amount for ref, amount in provider_refunds)
        assert len({ref for ref, _ in provider_refunds}) == len(provider_refunds)
        assert [
            r.status for r in entry.refunds if r.status in ("reserved", "unknown", "pending")
        ] == []


@fast(examples=12)
@given(cases)
def test_refunds_agree_with_the_providers_books(sandbox: Sandbox, case: Case) -> None:
    check_refunds_agree(sandbox, case)


@pytest.mark.slow
@thorough()
@given(cases)
def test_refunds_agree_with_the_providers_books_thoroughly(sandbox: Sandbox, case: Case) -> None:
    check_refunds_agree(sandbox, case)
