"""Refunds are matched by refund id or reference, never by totals (issue 12 item 2).

The real ECommPay and Omise plugins talk to provider books (``refund_books``) over a mock
transport; the Ledger's clock is a test clock, so "held too long" needs no waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ledger_support import Clock, charge_request
from ledgerpay import LedgerPayApi
from refund_books import EcommpayBooks, OmiseBooks

from paymux import ChargeStatus, Gateway, Ledger, Money
from paymux.errors import DuplicateRequest, InvalidRequest, TransportError
from paymux.runner import RetryPolicy

NO_RETRY = RetryPolicy(attempts=1, initial_wait=0.001, max_wait=0.001, jitter=0.0)
RELEASE = timedelta(minutes=15)


def _ledger(books: Any, provider: str, url: str, clock: Clock, **settings: Any) -> Ledger:
    gw = Gateway(
        providers={provider: books.settings(**settings)},
        http_client=httpx.Client(transport=httpx.MockTransport(books)),
        retry=NO_RETRY,
    )
    return Ledger(gw, url=url, clock=clock, refund_release_after=RELEASE)


@pytest.fixture
def ecommpay(tmp_path: Path, clock: Clock) -> Iterator[tuple[Ledger, EcommpayBooks]]:
    books = EcommpayBooks()
    with _ledger(books, "ecommpay", f"sqlite:///{tmp_path / 'e.db'}", clock) as ledger:
        ledger.handle_webhook("ecommpay", books.pay("order-1", 10_000))
        yield ledger, books


@pytest.fixture
def omise(tmp_path: Path, clock: Clock) -> Iterator[tuple[Ledger, OmiseBooks, str]]:
    books = OmiseBooks()
    with _ledger(books, "omise", f"sqlite:///{tmp_path / 'o.db'}", clock) as ledger:
        charge_id, paid = books.pay("order-1", 10_000)
        ledger.handle_webhook("omise", paid.body, paid.headers)
        yield ledger, books, charge_id


def _refunded(ledger: Ledger) -> int:
    charge = ledger.get("order-1")
    assert charge is not None
    assert charge.refunded_amount is not None
    return charge.refunded_amount.amount


def _statuses(ledger: Ledger) -> list[tuple[int, str]]:
    entry = ledger.entry("order-1")
    assert entry is not None
    return [(r.amount.amount, r.status) for r in entry.refunds]


def _lost_refund_story(ledger: Ledger, books: Any, provider: str, clock: Clock) -> None:
    """Refund A never reaches the provider; refund B succeeds and its webhook is late."""
    assert ledger.get("order-1") is not None
    books.fates = ["lost_before"]
    with pytest.raises(TransportError):
        ledger.refund("order-1", Money(5_000, "KRW" if provider == "ecommpay" else "THB"))
    currency = "KRW" if provider == "ecommpay" else "THB"
    ledger.refund("order-1", Money(5_000, currency))
    assert len(books.outbox) == 1  # B's webhook, not delivered yet

    clock.advance(minutes=5)
    ledger.reconcile(older_than=timedelta(0))
    # B is named by the provider (its refund id): succeeded. A is named by nobody: still held.
    assert _statuses(ledger) == [(5_000, "unknown"), (5_000, "succeeded")]
    assert _refunded(ledger) == 5_000 == books.refunded(_charge_id(ledger))
    assert ledger.flags() == ()

    clock.advance(minutes=15)
    report = ledger.reconcile(older_than=timedelta(0))
    assert report.errors == {}
    # Held past refund_release_after and absent from the provider's complete list: failed.
    assert _statuses(ledger) == [(5_000, "failed"), (5_000, "succeeded")]
    assert _refunded(ledger) == 5_000

    # Its amount is refundable again; the late webhook of B changes nothing.
    ledger.refund("order-1", Money(5_000, currency))
    for delivery in books.outbox:
        ledger.handle_webhook(provider, delivery.body, delivery.headers)
    charge = ledger.get("order-1")
    assert charge is not None
    assert charge.status is ChargeStatus.REFUNDED
    assert _refunded(ledger) == 10_000 == books.refunded(_charge_id(ledger))
    assert ledger.flags() == ()


def _refund_posts_time_out(request: httpx.Request) -> httpx.Response | None:
    """A fault: a refund request times out before it reaches the provider."""
    if request.method == "POST" and request.url.path.endswith("/refunds"):
        raise httpx.ReadTimeout("lost", request=request)
    return None


def _charge_id(ledger: Ledger) -> str:
    charge = ledger.get("order-1")
    assert charge is not None
    return charge.id


def test_lost_refund_is_not_credited_with_another_refund_ecommpay(
    ecommpay: tuple[Ledger, EcommpayBooks], clock: Clock
) -> None:
    ledger, books = ecommpay
    _lost_refund_story(ledger, books, "ecommpay", clock)


def test_lost_refund_is_not_credited_with_another_refund_omise(
    omise: tuple[Ledger, OmiseBooks, str], clock: Clock
) -> None:
    ledger, books, _ = omise
    _lost_refund_story(ledger, books, "omise", clock)


def test_a_refund_done_but_unanswered_stays_held_and_flagged_until_named(
    ecommpay: tuple[Ledger, EcommpayBooks], clock: Clock
) -> None:
    """The Gate refunded, the answer was lost: its status answer lists an operation with a
    request id the ledger never saw and no merchant_refund_id. Nothing may guess which refund
    that is; the held one is neither credited nor released, however long it waits."""
    ledger, books = ecommpay
    books.fates = ["lost_after"]
    with pytest.raises(TransportError):
        ledger.refund("order-1", Money(3_000, "KRW"))
    for _ in range(3):
        clock.advance(minutes=20)
        ledger.reconcile(older_than=timedelta(0))
    assert _statuses(ledger) == [(3_000, "unknown")]
    flags = ledger.flags("order-1")
    assert [f.kind for f in flags] == ["unattributed_refund"]  # once, not once per poll
    # Still held: only what no refund could be is refundable.
    charge = ledger.get("order-1")
    assert charge is not None
    with pytest.raises(Exception, match="still refundable"):
        ledger.refund("order-1", Money(7_001, "KRW"))
    # The late callback names it by merchant_refund_id: settled, totals exact.
    (delivery,) = books.outbox
    ledger.handle_webhook("ecommpay", delivery.body, delivery.headers)
    assert _statuses(ledger) == [(3_000, "succeeded")]
    assert _refunded(ledger) == 3_000 == books.refunded("order-1")


def test_a_refund_done_but_unanswered_is_named_by_omise_metadata(
    omise: tuple[Ledger, OmiseBooks, str], clock: Clock
) -> None:
    ledger, books, charge_id = omise
    books.fates = ["lost_after"]
    with pytest.raises(TransportError):
        ledger.refund("order-1", Money(3_000, "THB"))
    clock.advance(minutes=20)
    ledger.reconcile(older_than=timedelta(0))
    # Omise keeps our reference in the refund's metadata: the poll alone attributes it.
    assert _statuses(ledger) == [(3_000, "succeeded")]
    assert _refunded(ledger) == 3_000 == books.refunded(charge_id)
    assert ledger.flags() == ()


def test_a_provider_total_without_a_list_is_flagged_and_the_refund_stays_held(
    ledger: Ledger, api: LedgerPayApi, clock: Clock
) -> None:
    """LedgerPay answers with a refunded total only: the total cannot say which refund."""
    charge = ledger.create_charge(charge_request())
    api.set_state(charge.id, "paid")
    ledger.handle_webhook("ledgerpay", api.outbox[-1].body, api.outbox[-1].headers)
    api.list_refunds = False
    api.refund(charge.id, 4_000)  # made in the provider's dashboard; its webhook is lost
    api.drop_callbacks = True

    api.fault = _refund_posts_time_out
    with pytest.raises(TransportError):
        ledger.refund("order-1", Money(4_000, "KRW"))
    clock.advance(hours=2)
    ledger.reconcile(older_than=timedelta(0))
    entry = ledger.entry("order-1")
    assert entry is not None
    assert [r.status for r in entry.refunds] == ["unknown"]
    assert [f.kind for f in ledger.flags("order-1")] == ["unattributed_refund"]


def test_a_listed_refund_made_elsewhere_is_recorded_and_a_held_one_released(
    ledger: Ledger, api: LedgerPayApi, clock: Clock
) -> None:
    """The provider lists a refund of a different amount that no ledger refund names (made in
    its dashboard): recorded as it is; the held refund it cannot be is released in time."""
    charge = ledger.create_charge(charge_request())
    api.set_state(charge.id, "paid")
    ledger.handle_webhook("ledgerpay", api.outbox[-1].body, api.outbox[-1].headers)
    api.drop_callbacks = True
    api.refund(charge.id, 1_500)

    api.fault = _refund_posts_time_out
    with pytest.raises(TransportError):
        ledger.refund("order-1", Money(4_000, "KRW"))
    clock.advance(minutes=5)
    ledger.reconcile(older_than=timedelta(0))
    entry = ledger.entry("order-1")
    assert entry is not None
    assert [(r.amount.amount, r.status) for r in entry.refunds] == [
        (4_000, "unknown"),
        (1_500, "succeeded"),
    ]
    clock.advance(minutes=15)
    ledger.reconcile(older_than=timedelta(0))
    entry = ledger.entry("order-1")
    assert entry is not None
    assert [r.status for r in entry.refunds] == ["failed", "succeeded"]
    assert entry.refunded == Money(1_500, "KRW")
    assert ledger.flags() == ()
    api.fault = None
    assert ledger.refund("order-1").amount == Money(8_500, "KRW")


def test_a_duplicate_answer_names_the_one_unnamed_refund(
    ecommpay: tuple[Ledger, EcommpayBooks], clock: Clock
) -> None:
    """ECommPay answers a retry with 3230 (the merchant_refund_id exists): the Gate holds this
    reference. Its status answer names every other refund, so the one left unnamed is this one."""
    ledger, books = ecommpay
    ledger.refund("order-1", Money(2_000, "KRW"))  # named by its request id
    books.fates = ["lost_after"]
    with pytest.raises(TransportError):
        ledger.refund("order-1", Money(3_000, "KRW"), reference="order-1-late")
    refund = ledger.refund("order-1", Money(3_000, "KRW"), reference="order-1-late")
    assert (refund.reference, refund.amount, refund.status.value) == (
        "order-1-late",
        Money(3_000, "KRW"),
        "succeeded",
    )
    assert _statuses(ledger) == [(2_000, "succeeded"), (3_000, "succeeded")]
    assert _refunded(ledger) == 5_000 == books.refunded("order-1")
    # The poll before the resend saw an unnamed refund, but the resend was about to settle it.
    assert ledger.flags() == ()
    clock.advance(hours=1)
    ledger.reconcile(older_than=timedelta(0))
    assert _statuses(ledger) == [(2_000, "succeeded"), (3_000, "succeeded")]


def test_two_unnamed_refunds_are_not_told_apart_by_a_duplicate_answer(
    ecommpay: tuple[Ledger, EcommpayBooks], clock: Clock
) -> None:
    ledger, books = ecommpay
    books.fates = ["lost_after", "lost_after"]
    for reference in ("order-1-a", "order-1-b"):
        with pytest.raises(TransportError):
            ledger.refund("order-1", Money(1_000, "KRW"), reference=reference)
    with pytest.raises(DuplicateRequest):
        ledger.refund("order-1", Money(1_000, "KRW"), reference="order-1-a")
    assert _statuses(ledger) == [(1_000, "unknown"), (1_000, "unknown")]
    assert {f.kind for f in ledger.flags()} == {"unattributed_refund"}
    # Their callbacks name them.
    for delivery in books.outbox:
        ledger.handle_webhook("ecommpay", delivery.body, delivery.headers)
    assert _statuses(ledger) == [(1_000, "succeeded"), (1_000, "succeeded")]
    assert _refunded(ledger) == 2_000 == books.refunded("order-1")


@pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=-1), 900, None])
def test_refund_release_after_must_be_a_positive_timedelta(
    gw: Gateway, db_url: str, value: Any
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        Ledger(gw, url=db_url, refund_release_after=value)
    assert caught.value.field == "refund_release_after"


def test_the_ledgers_charge_carries_no_stale_provider_refund_list(
    omise: tuple[Ledger, OmiseBooks, str], clock: Clock
) -> None:
    ledger, _books, _ = omise
    ledger.refund("order-1", Money(1_000, "THB"))
    clock.advance(minutes=5)
    ledger.reconcile(older_than=timedelta(0))
    charge = ledger.get("order-1")
    assert charge is not None
    # The refund rows (ledger.entry) are the record; a poll's list would go stale beside them.
    assert charge.refunds is None
    assert charge.refunded_amount == Money(1_000, "THB")
