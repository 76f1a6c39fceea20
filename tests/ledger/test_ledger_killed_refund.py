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
from postgres_db import fresh_database

from paymux import ChargeRequest, Customer, Gateway, Ledger, Money, ReturnUrls
from paymux.runner import RetryPolicy
from paymux.sandbox import Sandbox

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


def _request(provider: str, reference: str, amount: int) -> ChargeRequest:
    country, currency = ("KR", "KRW") if provider == "ecommpay" else ("SG", "SGD")
    return ChargeRequest(
        reference=reference,
        amount=Money(amount, currency),
        method="kakaopay",
        country=country,
        customer=Customer(id="customer-1", ip_address="192.0.2.10"),
        return_urls=ReturnUrls(
            success=f"https://shop.example/{reference}",
            decline=f"https://shop.example/{reference}/declined",
        ),
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
    charge = ledger.create_charge(_request(provider, reference, amount))
    deadline = time.monotonic() + 10
    while sandbox.hub.payment(charge.provider, charge.id) is None:
        assert time.monotonic() < deadline, "the customer never saw the payment"
        time.sleep(0.01)
    sandbox.hub.act(charge.provider, charge.id, "pay")
    paid = ledger.refresh(reference)
    assert paid is not None and paid.status.is_paid


@pytest.mark.parametrize("amount", [700, 1_000], ids=["partial", "full"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refund_whose_worker_was_killed_is_settled_by_the_restarted_worker(
    database: str, provider: str, amount: int
) -> None:
    with Sandbox() as sandbox:
        # The campaign's kill: no callback tells the Ledger either.
        sandbox.faults.update({"callback_drop": 1.0})
        dying = _DiesAfterRefund()
        with _gateway(sandbox, dying) as gw, Ledger(gw, database) as first:
            _paid(sandbox, first, provider, "order-k", 1_000)
            currency = _book(sandbox, "order-k").currency

            def killed_worker() -> None:
                # Its answer only comes once the test is over: whatever it says then is moot.
                with contextlib.suppress(Exception):
                    first.refund("order-k", Money(amount, currency), reference="order-k-1")

            worker = threading.Thread(target=killed_worker, daemon=True)
            worker.start()
            assert dying.accepted.wait(10)
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
                refund = restarted.refund("order-k", Money(amount, currency), reference="order-k-1")
                restarted.reconcile(older_than=timedelta(0))
                entry = restarted.entry("order-k")
            dying.dead.set()
            worker.join(10)
        book = _book(sandbox, "order-k")
        assert [(r.reference, r.amount, r.status) for r in book.refunds] == [
            ("order-k-1", amount, "succeeded")
        ]
        assert refund.reference == "order-k-1"
        assert entry is not None
        assert [(r.reference, r.amount.amount, r.status) for r in entry.refunds] == [
            ("order-k-1", amount, "succeeded")
        ]
        assert entry.refunded.amount == book.refunded == amount
