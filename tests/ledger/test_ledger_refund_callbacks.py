"""A refund callback adopts no charge with an amount the provider did not state (issue 11.3).

An unconfirmed ECommPay refund callback says what is left of the payment and what this refund
is. The issue's example: 12,000 KRW paid, 2,000 refunded, the callback reaching a Ledger that
never saw the payment recorded a 10,000 KRW charge, so the wrong amount stayed refundable.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import httpx
from ledger_support import Clock
from refund_books import EcommpayBooks

from paymux import ChargeStatus, Gateway, Ledger, Money
from paymux.runner import RetryPolicy

SNIPPETS = Path(__file__).resolve().parents[2] / "docs" / "snippets"
NO_RETRY = RetryPolicy(attempts=1, initial_wait=0.001, max_wait=0.001, jitter=0.0)


def _recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_store", SNIPPETS / "webhook_store.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECIPE = _recipe()


def _ledger(books: EcommpayBooks, tmp_path: Path, *, confirm: bool) -> Ledger:
    gw = Gateway(
        providers={"ecommpay": books.settings(confirm_callbacks=confirm)},
        http_client=httpx.Client(transport=httpx.MockTransport(books)),
        retry=NO_RETRY,
    )
    return Ledger(gw, url=f"sqlite:///{tmp_path / 'l.db'}", clock=Clock())


def test_an_unconfirmed_refund_callback_adopts_nothing(tmp_path: Path) -> None:
    books = EcommpayBooks()
    paid = books.pay("order-9", 12_000)
    late = books.refund_at_gate("order-9", 2_000, "order-9-r1")
    with _ledger(books, tmp_path, confirm=False) as ledger:
        result = ledger.handle_webhook("ecommpay", late.body, late.headers)
        assert result.event.charge is None
        assert result.event.remaining_amount == Money(10_000, "KRW")
        # Kept for when the charge becomes known, not turned into a 10,000 KRW charge.
        assert result.verdict == "orphan"
        assert ledger.get("order-9") is None
        assert ledger.entry("order-9") is None
        # The payment's own callback arrives (reordered): the kept refund applies to it.
        ledger.handle_webhook("ecommpay", paid, {})
        charge = ledger.get("order-9")
        assert charge is not None
        assert (charge.amount, charge.refunded_amount, charge.status) == (
            Money(12_000, "KRW"),
            Money(2_000, "KRW"),
            ChargeStatus.PARTIALLY_REFUNDED,
        )
        assert ledger.flags() == ()


def test_a_confirmed_refund_callback_adopts_the_amount_the_gate_states(tmp_path: Path) -> None:
    books = EcommpayBooks()
    books.pay("order-9", 12_000)
    late = books.refund_at_gate("order-9", 2_000, "order-9-r1")
    with _ledger(books, tmp_path, confirm=True) as ledger:
        result = ledger.handle_webhook("ecommpay", late.body, late.headers)
        charge = ledger.get("order-9")
        assert charge is not None
        assert result.event.verified_by == "signature+refetch"
        assert (charge.amount, charge.refunded_amount, charge.status) == (
            Money(12_000, "KRW"),
            Money(2_000, "KRW"),
            ChargeStatus.PARTIALLY_REFUNDED,
        )
        assert charge.refundable_amount == Money(10_000, "KRW")
        assert ledger.flags() == ()


def test_what_is_left_counts_refunds_whose_callbacks_were_lost(tmp_path: Path) -> None:
    """Two refunds made in the dashboard; the first one's callback never comes. The second says
    what is left of the payment, which accounts for both, in the Ledger and in the recipe."""
    books = EcommpayBooks()
    paid = books.pay("order-9", 12_000)
    books.refund_at_gate("order-9", 2_000, "order-9-r1")  # its callback is lost
    second = books.refund_at_gate("order-9", 1_000, "order-9-r2")
    store = RECIPE.PaymentStore(str(tmp_path / "recipe.sqlite3"))
    with _ledger(books, tmp_path, confirm=False) as ledger:
        for body in (paid, second.body):
            event = ledger.gateway.parse_webhook("ecommpay", body, {})
            ledger.apply_event(event)
            store.apply(event)
        charge = ledger.get("order-9")
        assert charge is not None
        assert charge.refunded_amount == Money(3_000, "KRW")
        assert charge.refundable_amount == Money(9_000, "KRW")
        assert ledger.flags() == ()
    assert store.refunded("ecommpay", "order-9") == 3_000
