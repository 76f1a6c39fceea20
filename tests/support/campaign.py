"""A fault campaign: many checkouts through the ledger while the sandbox misbehaves.

Requests to the emulators fail (5xx before processing, connections dropped after processing,
answers slower than the client's timeout) and callbacks are dropped, duplicated and reordered.
A merchant thread feeds every callback that arrives to the ledger; customers pay, decline or walk
away; some paid charges are refunded. Afterwards the ledger reconciles, and the campaign compares
the ledger with what the emulators actually did.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from paymux import ChargeRequest, ChargeStatus, Customer, Gateway, Ledger, Money, ReturnUrls
from paymux.errors import DuplicateRequest, PaymuxError, RefundNotAllowed
from paymux.runner import RetryPolicy
from paymux.sandbox import FaultPlan, Sandbox

ATTEMPTS = 12
PLANS = [
    # (method, country, amount, refund: None = none, "full", or an amount)
    ("kakaopay", "KR", Money(12_000, "KRW"), Money(2_000, "KRW")),
    ("payco", "KR", Money(30_000, "KRW"), "full"),
    ("card", "KE", Money(250_000, "KES"), "full"),
    ("kakaopay", "SG", Money(1_500, "SGD"), Money(500, "SGD")),
]


class Clock:
    """The ledger's clock; moved forward so reconcile sees every charge as stale."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class CampaignResult:
    checkouts: int = 0
    requests: int = 0
    request_faults: Counter[str] = field(default_factory=Counter)
    callbacks: dict[str, int] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    create_retries: int = 0
    refund_retries: int = 0
    refunds_asked: int = 0
    reconcile_rounds: int = 0
    not_final: list[str] = field(default_factory=list)
    double_charges: list[str] = field(default_factory=list)
    lost_refunds: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        faults = sum(self.request_faults.values())
        share = faults / self.requests if self.requests else 0.0
        return (
            f"{self.checkouts} checkouts in {self.seconds:.1f} s; {self.requests} API requests,"
            f" {faults} failed ({share:.0%}: {dict(self.request_faults)}); callbacks {self.callbacks};"
            f" outcomes {dict(self.outcomes)}; {self.refunds_asked} refunds;"
            f" retries: {self.create_retries} creates, {self.refund_retries} refunds;"
            f" reconcile rounds {self.reconcile_rounds}; not final {len(self.not_final)},"
            f" double charges {len(self.double_charges)}, lost refunds {len(self.lost_refunds)},"
            f" disagreements {len(self.disagreements)}"
        )


class _Counting(httpx.HTTPTransport):
    def __init__(self, result: CampaignResult) -> None:
        super().__init__()
        self.result = result
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.result.requests += 1
        return super().handle_request(request)


def _request(index: int, run: str) -> tuple[ChargeRequest, Money | str]:
    method, country, amount, refund = PLANS[index % len(PLANS)]
    reference = f"camp-{run}-{index:05d}"
    request = ChargeRequest(
        reference=reference,
        amount=amount,
        method=method,
        country=country,
        customer=Customer(id=f"cust-{index}", ip_address="192.0.2.50", phone="+254700000002"),
        return_urls=ReturnUrls(success=f"https://shop.example/{reference}"),
    )
    return request, refund


def run_campaign(
    checkouts: int, ledger_url: str, *, seed: int = 20261125, threads: int = 8
) -> CampaignResult:
    rng = random.Random(seed)  # a reproducible simulation, not security
    run = f"{seed:x}"
    # 10% 5xx, then 12% dropped after processing, then 13% slower than the client waits:
    # together about 30% of API requests fail.
    plan = FaultPlan(
        error=0.10,
        drop=0.12,
        latency=0.13,
        latency_ms=400,
        callback_drop=0.2,
        callback_duplicate=0.2,
        callback_reorder=0.2,
        seed=seed,
    )
    result = CampaignResult(checkouts=checkouts)
    started = time.monotonic()
    with Sandbox(faults=plan) as sandbox:
        client = httpx.Client(transport=_Counting(result), timeout=httpx.Timeout(0.25))
        gw = Gateway(
            providers=sandbox.provider_settings(),
            http_client=client,
            retry=RetryPolicy(attempts=4, initial_wait=0.002, max_wait=0.01, jitter=0.002),
        )
        clock = Clock()
        ledger = Ledger(gw, ledger_url, clock=clock)
        stop = threading.Event()

        def merchant() -> None:
            handled = Counter[str]()
            while not stop.is_set() or not sandbox.hub.callbacks.idle():
                for provider in ("ecommpay", "omise"):
                    received = sandbox.hub.wait_for_callback(
                        provider, handled[provider], timeout=0.02
                    )
                    if received is None:
                        continue
                    handled[provider] += 1
                    try:
                        ledger.handle_webhook(provider, received.body, received.headers)
                    except PaymuxError as error:
                        # A re-fetch that met a fault: the callback is retried by the provider
                        # in real life; here reconcile has to make up for it.
                        result.errors[f"webhook {type(error).__name__}"] += 1

        merchant_thread = threading.Thread(target=merchant, daemon=True)
        merchant_thread.start()
        actions = ["pay"] * 8 + ["decline", "abandon"]
        choices = [(rng.choice(actions), rng.random() < 0.6) for _ in range(checkouts)]

        def checkout(index: int) -> None:
            request, refund_plan = _request(index, run)
            action, refund_it = choices[index]
            charge = None
            for attempt in range(ATTEMPTS):
                try:
                    charge = ledger.create_charge(request)
                    break
                except PaymuxError as error:
                    result.errors[f"create {type(error).__name__}"] += 1
                    result.create_retries += attempt == 0
            if charge is None:
                return
            # The customer acts once the provider shows them something (QR, redirect page).
            payment = None
            deadline = time.monotonic() + 10
            while payment is None and time.monotonic() < deadline:
                payment = sandbox.hub.payment(charge.provider, charge.id)
                if payment is None:
                    time.sleep(0.01)
            if payment is None:
                return
            sandbox.hub.act(charge.provider, charge.id, action)
            if action != "pay" or not refund_it:
                return
            settled = ledger.wait(request.reference, until=lambda c: c.status.is_final, timeout=3)
            if settled is None or not settled.status.is_paid:
                try:
                    settled = ledger.refresh(request.reference)
                except PaymuxError as error:
                    result.errors[f"refresh {type(error).__name__}"] += 1
            if settled is None or not settled.status.is_paid:
                return
            amount = None if refund_plan == "full" else refund_plan
            result.refunds_asked += 1
            for attempt in range(ATTEMPTS):
                try:
                    ledger.refund(
                        request.reference,
                        amount if isinstance(amount, Money) else None,
                        reference=f"{request.reference}-r1",
                    )
                    break
                except (RefundNotAllowed, DuplicateRequest):
                    # Not allowed: nothing left to refund. Duplicate: an earlier attempt whose
                    # answer was lost went through; its callback or reconcile settles it.
                    break
                except PaymuxError as error:
                    result.errors[f"refund {type(error).__name__}"] += 1
                    result.refund_retries += attempt == 0

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(checkout, range(checkouts)))

        # Payments nobody finished: the platform gives up on them at the method's limit time.
        for waiting in sandbox.hub.payments():
            if waiting.state == "waiting":
                sandbox.hub.act(waiting.provider, waiting.id, "abandon")
        sandbox.hub.callbacks.wait_idle(timeout=30)
        stop.set()
        merchant_thread.join(timeout=30)

        sandbox.faults.update({"error": 0.0, "drop": 0.0, "latency": 0.0})
        clock.offset = timedelta(hours=1)
        references = [_request(i, run)[0].reference for i in range(checkouts)]
        for _ in range(5):
            result.reconcile_rounds += 1
            ledger.reconcile(older_than=timedelta(0))
            open_ones = [r for r in references if _open(ledger, r)]
            if not open_ones:
                break
        result.not_final = [r for r in references if _open(ledger, r)]
        _compare(result, ledger, sandbox, references)
        result.request_faults = Counter({k: v for k, v in _fault_counts(sandbox).items() if v})
        result.callbacks = {k: v for k, v in vars(sandbox.hub.callbacks.stats).items() if v}
        ledger.close()
        gw.close()
    result.seconds = time.monotonic() - started
    return result


def _open(ledger: Ledger, reference: str) -> bool:
    entry = ledger.entry(reference)
    if entry is None or entry.charge is None:
        return False
    return not entry.charge.status.is_final


def _fault_counts(sandbox: Sandbox) -> dict[str, int]:
    app: Any = sandbox.app
    stack = app.middleware_stack
    while stack is not None and not hasattr(stack, "counts"):
        stack = getattr(stack, "app", None)
    return dict(stack.counts) if stack is not None else {}


ECOMMPAY_STATES = {
    "success": ChargeStatus.SUCCEEDED,
    "decline": ChargeStatus.FAILED,
    "partially refunded": ChargeStatus.PARTIALLY_REFUNDED,
    "refunded": ChargeStatus.REFUNDED,
}
OMISE_STATES = {"failed": ChargeStatus.FAILED, "expired": ChargeStatus.EXPIRED}


def _compare(
    result: CampaignResult, ledger: Ledger, sandbox: Sandbox, references: list[str]
) -> None:
    ecommpay: Any = sandbox.emulators["ecommpay"]
    omise: Any = sandbox.emulators["omise"]
    omise_by_ref: dict[str, list[dict[str, Any]]] = {}
    for charge in omise.charges.values():
        omise_by_ref.setdefault(charge["metadata"].get("paymux_reference", ""), []).append(charge)
    for reference in references:
        entry = ledger.entry(reference)
        known = entry.charge if entry is not None else None
        if reference in ecommpay.payments:
            payment = ecommpay.payments[reference]
            truth = ECOMMPAY_STATES.get(payment.status)
            refunded = payment.refunded
        elif reference in omise_by_ref:
            charges = omise_by_ref[reference]
            if len(charges) > 1:
                result.double_charges.append(reference)
            charge = charges[0]
            refunded = charge["refunded_amount"]
            truth = OMISE_STATES.get(charge["status"])
            if charge["status"] == "successful":
                truth = (
                    ChargeStatus.SUCCEEDED
                    if refunded == 0
                    else ChargeStatus.REFUNDED
                    if refunded >= charge["amount"]
                    else ChargeStatus.PARTIALLY_REFUNDED
                )
        else:
            if known is not None:
                result.disagreements.append(f"{reference}: ledger has it, the provider does not")
            continue
        if known is None:
            result.disagreements.append(f"{reference}: provider has it, the ledger does not")
            continue
        result.outcomes[known.status.value] += 1
        assert known.refunded_amount is not None
        if known.refunded_amount.amount != refunded:
            result.lost_refunds.append(
                f"{reference}: provider refunded {refunded}, ledger {known.refunded_amount.amount}"
            )
        if truth is not None and known.status is not truth:
            result.disagreements.append(
                f"{reference}: provider {truth.value}, ledger {known.status.value}"
            )
