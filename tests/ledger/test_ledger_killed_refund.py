"""A worker killed after the provider accepted a refund and before the Ledger wrote the answer,
then a fresh worker retrying that refund after a reconcile, against the real plugins' emulators.

Found by the 1,000-checkout fault campaign (kill-1352905-011): the refund's callback was lost,
reconcile read the provider's total (which already held the refund) into the charge, and the
retry's resend was refused by the gateway's own "more than is left" check before it was sent, so
the Ledger marked failed a refund the provider had made. The kill is simulated by an answer that
never arrives: the worker's thread waits forever while a new Ledger on the same database (no
in-memory state) carries on, as the restarted worker does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from campaign_books import BookCharge, read_books
from ledger_support import emulator_request
from postgres_db import fresh_database

from paymux import Charge, Gateway, Ledger, Money
from paymux.errors import PaymuxError
from paymux.ledger.reservations import resend_view
from paymux.runner import RetryPolicy
from paymux.sandbox import Sandbox
from paymux.status import ChargeStatus

PROVIDERS = ["ecommpay", "omise"]


class _DiesAfterRefund(httpx.HTTPTransport):
    """Passes every request on; once a refund is accepted, never answers (the worker is dead)."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted = threading.Event()
        self.dead = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        is_refund = request.method == "POST" and request.url.path.endswith(("/refund", "/refunds"))
        if is_refund and response.is_success:
            response.read()
            self.accepted.set()
            self.dead.wait()
            raise RuntimeError("worker killed")
        return response


def _gateway(sandbox: Sandbox, transport: httpx.BaseTransport) -> Gateway:
    return Gateway(
        providers=sandbox.provider_settings(),
        http_client=httpx.Client(transport=transport, timeout=httpx.Timeout(2.0)),
        retry=RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.002, jitter=0.0),
    )


def _book(sandbox: Sandbox, reference: str) -> BookCharge:
    charges = read_books(sandbox).get(reference, [])
    assert len(charges) == 1
    return charges[0]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    with fresh_database() as url:
        yield url


def _paid(sandbox: Sandbox, ledger: Ledger, provider: str, reference: str, amount: int) -> None:
    charge = ledger.create_charge(emulator_request(provider, reference, amount))
    deadline = time.monotonic() + 10
    while sandbox.hub.payment(charge.provider, charge.id) is None:
        assert time.monotonic() < deadline, "the customer never saw the payment"
        time.sleep(0.01)
    sandbox.hub.act(charge.provider, charge.id, "pay")
    paid = ledger.refresh(reference)
    assert paid is not None and paid.status.is_paid


@contextlib.contextmanager
def _killed_refund(
    sandbox: Sandbox, database: str, provider: str, amount: int
) -> Iterator[tuple[Ledger, Money]]:
    """A paid charge whose refund of ``amount`` (reference ``order-k-1``) the provider accepted
    while its worker died; yields the restarted worker's Ledger and the amount to retry."""
    # The campaign's kill: no callback tells the Ledger either.
    sandbox.faults.update({"callback_drop": 1.0})
    dying = _DiesAfterRefund()
    with _gateway(sandbox, dying) as gw, Ledger(gw, database) as first:
        _paid(sandbox, first, provider, "order-k", 1_000)
        money = Money(amount, _book(sandbox, "order-k").currency)

        def killed_worker() -> None:
            # Its answer only comes once the test is over: whatever it says then is moot.
            with contextlib.suppress(Exception):
                first.refund("order-k", money, reference="order-k-1")

        worker = threading.Thread(target=killed_worker, daemon=True)
        worker.start()
        assert dying.accepted.wait(10)
        try:
            with (
                _gateway(sandbox, httpx.HTTPTransport()) as gw2,
                # Ahead of the first worker's clock, as the campaign's: reconcile sees the
                # charge as stale (its refund is long under refund_release_after still).
                Ledger(
                    gw2, database, clock=lambda: datetime.now(UTC) + timedelta(minutes=1)
                ) as restarted,
            ):
                before = restarted.entry("order-k")
                assert before is not None
                assert [r.status for r in before.refunds] == ["reserved"]  # the kill's window
                # Reconcile reads the provider's refunded total into the charge first.
                restarted.reconcile(older_than=timedelta(0))
                yield restarted, money
        finally:
            dying.dead.set()
            worker.join(10)


def _settled(sandbox: Sandbox, ledger: Ledger, amount: int) -> None:
    """The provider made the refund once, and the Ledger has it succeeded, by its reference."""
    ledger.reconcile(older_than=timedelta(0))
    book = _book(sandbox, "order-k")
    assert [(r.reference, r.amount, r.status) for r in book.refunds] == [
        ("order-k-1", amount, "succeeded")
    ]
    entry = ledger.entry("order-k")
    assert entry is not None
    assert [(r.reference, r.amount.amount, r.status) for r in entry.refunds] == [
        ("order-k-1", amount, "succeeded")
    ]
    assert entry.refunded.amount == book.refunded == amount


@pytest.mark.parametrize("amount", [700, 1_000], ids=["partial", "full"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refund_whose_worker_was_killed_is_settled_by_the_restarted_worker(
    database: str, provider: str, amount: int
) -> None:
    with (
        Sandbox() as sandbox,
        _killed_refund(sandbox, database, provider, amount) as (ledger, money),
    ):
        refund = ledger.refund("order-k", money, reference="order-k-1")
        assert refund.reference == "order-k-1"
        _settled(sandbox, ledger, amount)


@pytest.mark.parametrize("amount", [700, 1_000], ids=["partial", "full"])
def test_a_refused_resend_leaves_the_refund_held_not_failed(database: str, amount: int) -> None:
    # The resend's own refusal says nothing of the earlier attempt, which the Gate holds.
    with (
        Sandbox() as sandbox,
        _killed_refund(sandbox, database, "ecommpay", amount) as (ledger, money),
    ):
        sandbox.faults.update(
            {
                "error_status": 400,
                "once": [("/ecommpay/v2/payment/wallet/kakaopay/refund", "error")],
            }
        )
        with pytest.raises(PaymuxError):
            ledger.refund("order-k", money, reference="order-k-1")
        entry = ledger.entry("order-k")
        assert entry is not None
        assert [r.status for r in entry.refunds] == ["unknown"]
        sandbox.faults.update({"error_status": 503})
        ledger.refund("order-k", money, reference="order-k-1")
        _settled(sandbox, ledger, amount)


@pytest.mark.parametrize(
    ("total", "amount", "shown"),
    [(0, 300, 0), (200, 300, 200), (300, 300, 0), (1_000, 300, 700), (1_000, 1_000, 0)],
)
def test_a_resend_is_shown_without_its_own_amount_only_when_the_total_can_hold_it(
    total: int, amount: int, shown: int
) -> None:
    charge = Charge(
        provider="ecommpay",
        id="order-k",
        amount=Money(1_000, "KRW"),
        status=ChargeStatus.PARTIALLY_REFUNDED if total else ChargeStatus.SUCCEEDED,
        refunded_amount=Money(total, "KRW"),
    )
    view = resend_view(charge, Money(amount, "KRW"))
    assert view.refunded_amount == Money(shown, "KRW")
    assert view.model_copy(update={"refunded_amount": charge.refunded_amount}) == charge
