"""The same guarantees on PostgreSQL, where instances really run in parallel."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
from ledger_support import Clock, charge_request
from ledgerpay import LedgerPayApi, gateway

from paymux import ChargeStatus, Ledger, Money
from paymux.errors import RefundNotAllowed
from paymux.ledger import SCHEMA_VERSION

pytestmark = pytest.mark.postgres


def test_create_webhook_refund_reconcile(postgres_url: str) -> None:
    api, clock = LedgerPayApi(), Clock()
    with Ledger(gateway(api), url=postgres_url, clock=clock) as ledger:
        charge = ledger.create_charge(charge_request())
        assert ledger.create_charge(charge_request()) == charge
        api.set_state(charge.id, "paid")
        result = ledger.handle_webhook("ledgerpay", api.outbox[-1].body, api.outbox[-1].headers)
        assert result.changed
        assert ledger.refund("order-1", Money(4_000, "KRW")).amount == Money(4_000, "KRW")
        api.drop_callbacks = True
        other = ledger.create_charge(charge_request(reference="order-2"))
        api.set_state(other.id, "failed")
        clock.advance(minutes=10)
        assert ledger.reconcile(older_than=timedelta(minutes=5)).changed == 1
        assert ledger.get("order-2").status is ChargeStatus.FAILED  # type: ignore[union-attr]
        assert ledger.get("order-1").status is ChargeStatus.PARTIALLY_REFUNDED  # type: ignore[union-attr]
        assert ledger.schema_version() >= 1
    assert api.count("POST /charges") == 2


def test_concurrent_instances_create_once_and_never_over_refund(postgres_url: str) -> None:
    api = LedgerPayApi()
    release = threading.Event()

    def slow_post(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path == "/charges":
            release.wait(0.2)  # widen the window in which the others arrive; not asserted on
        return None

    api.fault = slow_post
    instances = [Ledger(gateway(api), url=postgres_url) for _ in range(4)]
    instances[0].schema_version()  # create tables once, before the race
    charges: list[object] = []
    start = threading.Barrier(4)

    def create(ledger: Ledger) -> None:
        start.wait(30)
        charges.append(ledger.create_charge(charge_request()))

    threads = [threading.Thread(target=create, args=(led,)) for led in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(charges) == 4 and all(c == charges[0] for c in charges)
    assert api.count("POST /charges") == 1

    api.fault = None
    api.set_state(api.by_ref("order-1")["id"], "paid")
    instances[0].handle_webhook("ledgerpay", api.outbox[-1].body, api.outbox[-1].headers)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def refund(ledger: Ledger) -> None:
        start.wait(30)
        try:
            ledger.refund("order-1", Money(3_000, "KRW"))
            outcomes.append("refunded")
        except RefundNotAllowed:
            outcomes.append("refused")

    threads = [threading.Thread(target=refund, args=(led,)) for led in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for led in instances:
        led.close()
    assert sorted(outcomes) == ["refunded"] * 3 + ["refused"]
    assert api.charges[api.by_ref("order-1")["id"]]["refunded"] == 9_000


def test_instances_starting_together_create_the_schema_once(postgres_url: str) -> None:
    instances = [Ledger(gateway(LedgerPayApi()), url=postgres_url) for _ in range(4)]
    versions: list[int] = []
    start = threading.Barrier(4)

    def boot(ledger: Ledger) -> None:
        start.wait(30)
        versions.append(ledger.schema_version())

    threads = [threading.Thread(target=boot, args=(led,)) for led in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for led in instances:
        led.close()
    assert versions == [SCHEMA_VERSION] * 4
