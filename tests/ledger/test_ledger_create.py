"""create_charge: recorded first, idempotent per reference, safe after network failures."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import httpx
import pytest
from ledger_support import Clock, charge_request
from ledgerpay import LedgerPayApi, async_gateway

from paymux import Charge, ChargeStatus, Gateway, Ledger
from paymux.errors import (
    DuplicateRequest,
    NotFound,
    OutcomeUnknown,
    ProviderError,
    TransportError,
)
from paymux.ledger import AsyncLedger
from paymux.provider import ChargeLookup, Flow, no_io


def test_a_second_call_returns_the_first_charge_without_a_second_payment(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    first = ledger.create_charge(charge_request())
    second = ledger.create_charge(charge_request())
    assert second == first
    assert first.status is ChargeStatus.REQUIRES_ACTION
    assert api.count("POST /charges") == 1
    assert ledger.get("order-1") == first


def test_the_same_reference_for_a_different_charge_is_a_duplicate_request(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    """The meanings table's reference-reused row: the class the gateway raises for it, found in
    the ledger's own books, so nothing is sent, looked up or written."""
    first = ledger.create_charge(charge_request(amount=10_000))
    before = ledger.entry("order-1")
    with pytest.raises(DuplicateRequest, match="held by another request") as info:
        ledger.create_charge(charge_request(amount=20_000))
    refused = info.value
    assert (refused.provider, refused.code, refused.nothing_done) == (
        "ledgerpay",
        "reference_reused",
        True,
    )
    assert "amount" in refused.message and "order-1" in refused.message
    # Not adopted as the provider's duplicate would be: no POST, no look-up by reference.
    assert api.count("POST /charges") == 1
    assert api.count("GET /charges") == 0
    assert ledger.entry("order-1") == before
    # The identical request still answers with the charge already made.
    assert ledger.create_charge(charge_request(amount=10_000)) == first
    assert api.count("POST /charges") == 1


async def test_the_async_ledger_refuses_a_reused_reference_alike(
    tmp_path: Path, api: LedgerPayApi
) -> None:
    async with (
        async_gateway(api) as agw,
        AsyncLedger(agw, url=f"sqlite:///{tmp_path / 'a.db'}") as ledger,
    ):
        await ledger.create_charge(charge_request(amount=10_000))
        with pytest.raises(DuplicateRequest) as info:
            await ledger.create_charge(charge_request(amount=10_001))
    assert info.value.code == "reference_reused"
    assert api.count("POST /charges") == 1


def test_a_new_ledger_on_the_same_database_still_remembers(
    gw: Gateway, db_url: str, api: LedgerPayApi
) -> None:
    with Ledger(gw, url=db_url) as one:
        first = one.create_charge(charge_request())
    with Ledger(gw, url=db_url) as two:
        assert two.create_charge(charge_request()) == first
    assert api.count("POST /charges") == 1


def _timeout_after_processing(api: LedgerPayApi) -> None:
    """The provider creates the payment, then the answer is lost (read timeout)."""

    def fault(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path == "/charges":
            api.fault = None
            api.process(request)
            raise httpx.ReadTimeout("answer lost", request=request)
        return None

    api.fault = fault


def test_a_lost_answer_is_recovered_by_reference_not_by_posting_again(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    _timeout_after_processing(api)
    charge = ledger.create_charge(charge_request())
    assert charge.id == api.by_ref("order-1")["id"]
    assert api.count("POST /charges") == 1
    assert api.count("GET /charges") == 1  # the look-up by reference
    assert ledger.entry("order-1").create_state == "created"  # type: ignore[union-attr]


def test_when_the_look_up_fails_too_the_next_call_recovers_instead_of_posting(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    def fault(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            api.fault = lookup_down
            api.process(request)
            raise httpx.ReadTimeout("answer lost", request=request)
        return None

    def lookup_down(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ConnectError("network down", request=request)

    api.fault = fault
    with pytest.raises(TransportError) as info:
        ledger.create_charge(charge_request())
    assert info.value.request_sent
    assert ledger.get("order-1") is None
    assert ledger.entry("order-1").create_state == "unknown"  # type: ignore[union-attr]

    api.fault = None
    charge = ledger.create_charge(charge_request())
    assert charge.id == api.by_ref("order-1")["id"]
    assert api.count("POST /charges") == 1


def test_a_request_that_never_left_is_sent_on_the_next_call(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ConnectError("connection refused", request=request)

    api.fault = refuse
    with pytest.raises(TransportError) as info:
        ledger.create_charge(charge_request())
    assert not info.value.request_sent
    api.fault = None
    assert ledger.create_charge(charge_request()).status is ChargeStatus.REQUIRES_ACTION
    assert api.count("POST /charges") == 2  # the first never reached the provider
    assert len(api.charges) == 1


def test_a_provider_refusal_is_raised_and_the_reference_can_be_used_again(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    api.fault = lambda request: httpx.Response(422, json={"error": "bad amount"})
    with pytest.raises(ProviderError):
        ledger.create_charge(charge_request())
    assert ledger.entry("order-1").create_state == "rejected"  # type: ignore[union-attr]
    api.fault = None
    assert ledger.create_charge(charge_request()).reference == "order-1"
    assert len(api.charges) == 1


def test_a_server_error_is_looked_up_before_any_new_attempt(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    def crash_after_processing(request: httpx.Request) -> httpx.Response | None:
        api.fault = None
        api.process(request)
        return httpx.Response(500, json={"error": "internal"})

    api.fault = crash_after_processing
    with pytest.raises(ProviderError):
        ledger.create_charge(charge_request())
    charge = ledger.create_charge(charge_request())
    assert charge.id == api.by_ref("order-1")["id"]
    assert api.count("POST /charges") == 1


class _WaitSeen(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "being created by another caller" in record.getMessage():
            self.seen.set()


def test_concurrent_calls_for_one_reference_make_one_payment(
    gw: Gateway, db_url: str, api: LedgerPayApi
) -> None:
    release = threading.Event()

    def slow_create(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            assert release.wait(30)
        return None

    api.fault = slow_create
    handler = _WaitSeen()
    logger = logging.getLogger("paymux.ledger")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    results: dict[str, object] = {}
    try:
        with Ledger(gw, url=db_url) as one, Ledger(gw, url=db_url) as two:
            first = threading.Thread(
                target=lambda: results.update(a=one.create_charge(charge_request()))
            )
            first.start()
            while api.count("POST /charges") == 0:
                threading.Event().wait(0.005)
            second = threading.Thread(
                target=lambda: results.update(b=two.create_charge(charge_request()))
            )
            second.start()
            assert handler.seen.wait(30), "the second caller should wait for the first"
            release.set()
            first.join(30)
            second.join(30)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert results["a"] == results["b"]
    assert api.count("POST /charges") == 1


def test_a_callback_that_overtakes_the_create_answer_is_kept(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    """The customer pays and the webhook lands before the create call has returned."""

    def pay_before_answering(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            api.fault = None
            created = api.process(request)
            charge_id = created.json()["id"]
            api.set_state(charge_id, "paid")
            for callback in api.outbox:
                ledger.handle_webhook("ledgerpay", callback.body, callback.headers)
            return created  # the (older) create answer: requires_action
        return None

    api.fault = pay_before_answering
    charge = ledger.create_charge(charge_request())
    assert charge.status is ChargeStatus.SUCCEEDED
    assert ledger.get("order-1").status is ChargeStatus.SUCCEEDED  # type: ignore[union-attr]


def test_an_event_for_a_charge_not_yet_known_is_applied_when_it_appears(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    from paymux import Charge, Money, WebhookEvent

    # The provider's answer carries no reference and the event arrives first: no way to match yet.
    paid = Charge(
        provider="ledgerpay", id="ch_1", amount=Money(10_000, "KRW"), status=ChargeStatus.SUCCEEDED
    )
    early = ledger.apply_event(WebhookEvent(provider="ledgerpay", id="evt_early", charge=paid))
    assert (early.verdict, early.charge) == ("orphan", None)
    charge = ledger.create_charge(charge_request())
    assert charge.id == "ch_1"
    assert charge.status is ChargeStatus.SUCCEEDED


async def test_async_create_is_idempotent_too(
    tmp_path: Path, api: LedgerPayApi, clock: Clock
) -> None:
    async with (
        async_gateway(api) as agw,
        AsyncLedger(agw, url=f"sqlite:///{tmp_path / 'a.db'}", clock=clock) as ledger,
    ):
        first = await ledger.create_charge(charge_request())
        assert await ledger.create_charge(charge_request()) == first
        assert await ledger.get("order-1") == first
    assert api.count("POST /charges") == 1


# -- what a look-up miss allows ------------------------------------------------------------------


def _uncertain_lookups(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make look-ups by reference miss the way a lagging search does (not conclusive)."""
    provider = gw.provider("ledgerpay")
    looked: list[str] = []

    def not_yet() -> Charge:
        raise NotFound("not in the search yet", provider="ledgerpay", conclusive=False)

    def retrieve(lookup: ChargeLookup) -> Flow[Charge]:
        looked.append(lookup.reference or "")
        return no_io(not_yet)

    monkeypatch.setattr(provider, "retrieve_charge", retrieve)
    return looked


def _lose_answer_after_processing(api: LedgerPayApi) -> None:
    def fault(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            api.fault = None
            api.process(request)
            raise httpx.ReadTimeout("answer lost", request=request)
        return None

    api.fault = fault


def test_an_uncertain_miss_never_sends_the_create_again(
    ledger: Ledger, gw: Gateway, api: LedgerPayApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked = _uncertain_lookups(gw, monkeypatch)
    _lose_answer_after_processing(api)
    with pytest.raises(TransportError):
        ledger.create_charge(charge_request())
    assert ledger.entry("order-1").create_state == "unknown"  # type: ignore[union-attr]
    with pytest.raises(OutcomeUnknown) as caught:
        ledger.create_charge(charge_request())
    assert (caught.value.provider, caught.value.reference) == ("ledgerpay", "order-1")
    assert ledger.entry("order-1").create_state == "unknown"  # type: ignore[union-attr]
    assert looked == ["order-1", "order-1"]
    assert api.count("POST /charges") == 1
    assert len(api.charges) == 1


def test_a_provider_that_refuses_reused_references_may_be_sent_again_after_any_miss(
    ledger: Ledger, gw: Gateway, api: LedgerPayApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    _uncertain_lookups(gw, monkeypatch)
    monkeypatch.setattr(gw.provider("ledgerpay"), "unique_references", True)
    api.fault = lambda request: httpx.Response(500, json={"error": "internal"})
    with pytest.raises(ProviderError) as caught:
        ledger.create_charge(charge_request())
    assert not caught.value.nothing_done
    assert ledger.entry("order-1").create_state == "unknown"  # type: ignore[union-attr]
    api.fault = None
    # The provider would answer a repeat with "duplicate", so resending cannot charge twice.
    assert ledger.create_charge(charge_request()).reference == "order-1"
    assert len(api.charges) == 1


def test_a_refusal_that_proves_nothing_was_made_is_rejected_not_unknown(
    ledger: Ledger, api: LedgerPayApi
) -> None:
    api.fault = lambda request: httpx.Response(422, json={"error": "bad amount"})
    with pytest.raises(ProviderError) as caught:
        ledger.create_charge(charge_request())
    assert caught.value.nothing_done
    entry = ledger.entry("order-1")
    assert entry is not None and entry.create_state == "rejected"
    api.fault = None
    ledger.create_charge(charge_request())
    assert api.count("GET /charges") == 0  # sent at once: nothing to look up
