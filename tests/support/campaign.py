"""A fault campaign: many checkouts through the Ledger while both providers and the network misbehave.

What goes wrong, all at once: API requests fail before processing (5xx), slowly, or after the
provider acted with the answer lost (on every write endpoint of both providers, proven against the
emulators' books); Omise's search lags behind new charges and pages its results; refunds complete
late or are declined; callbacks are dropped, duplicated, delayed and reordered; checkout workers are
killed (SIGKILL) between the provider's acceptance and the Ledger's write, then restarted.

Customers pay, decline or walk away; the merchant asks several partial refunds of amounts it
chooses. Afterwards the Ledger reconciles, and :mod:`campaign_audit` holds it against the books
and the merchant's asks.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from campaign_audit import Ask, Audit, audit_ledger
from campaign_books import BooksProbe, read_books
from campaign_kills import Job, KillReport, kill_and_restart
from campaign_plans import Checkout, plan_checkouts, plan_kills
from campaign_wire import WRITE_ENDPOINTS, ObservingTransport, WireLog, Write

from paymux import Gateway, Ledger, Money, ProvideInformation
from paymux.errors import (
    DuplicateRequest,
    PaymuxError,
    ProviderError,
    RefundNotAllowed,
    TransportError,
)
from paymux.runner import RetryPolicy
from paymux.sandbox import FaultPlan, Sandbox

ATTEMPTS = 12
ALLOWED_ERRORS = frozenset(
    {
        "TransportError",
        "ProviderError",
        "DuplicateRequest",
        "NotFound",
        "RateLimited",
        "OutcomeUnknown",
    }
)
"""What the faults may make the Ledger raise to the merchant; anything else is a finding."""


class Clock:
    """The ledger's clock; moved forward so reconcile sees every charge as stale."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class CampaignResult:
    checkouts: int = 0
    wire: WireLog = field(default_factory=WireLog)
    request_faults: Counter[str] = field(default_factory=Counter)
    callbacks: dict[str, int] = field(default_factory=dict)
    search_lag: float = 0.0
    asks: dict[str, list[Ask]] = field(default_factory=dict)
    refused_asks: list[Ask] = field(default_factory=list)
    late_refunds: int = 0
    declined_refunds: int = 0
    clarified: int = 0
    kills: KillReport = field(default_factory=KillReport)
    reconcile_rounds: int = 0
    reconcile_errors: dict[str, str] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    """What the Ledger raised to the merchant, by operation and class."""
    crashes: list[str] = field(default_factory=list)
    """Exceptions that are no PaymuxError: always a finding."""
    audit: Audit = field(default_factory=Audit)
    seconds: float = 0.0

    @property
    def unexpected_errors(self) -> dict[str, int]:
        return {k: v for k, v in self.errors.items() if k.split()[-1] not in ALLOWED_ERRORS}

    def fault_kinds(self) -> dict[str, int]:
        """Every kind of fault the campaign means to inject, and how often it really happened."""
        kinds = {
            f"request {k}": self.request_faults.get(k, 0)
            for k in ("error", "drop", "late", "latency")
        }
        kinds.update(
            {
                f"answer lost after acting: {e}": self.wire.lost_after_acting[e]
                for e in WRITE_ENDPOINTS
            }
        )
        kinds.update(
            {
                f"callback {k}": self.callbacks.get(k, 0)
                for k in ("dropped", "duplicated", "reordered", "delayed")
            }
        )
        kinds["omise search missed a charge (lag)"] = self.wire.search_misses
        kinds["late refund"] = self.late_refunds
        kinds["declined refund"] = self.declined_refunds
        kinds["worker killed between acceptance and the ledger's write"] = self.kills.in_window
        return kinds

    def summary(self) -> str:
        asks = [len(v) for v in self.asks.values()]
        kinds = "\n".join(f"    {k}: {v}" for k, v in self.fault_kinds().items())
        return (
            f"{self.checkouts} checkouts in {self.seconds:.1f} s, {self.wire.requests} API requests"
            f" ({sum(self.wire.writes.values())} writes)\n"
            f"  faults by kind:\n{kinds}\n"
            f"  omise search lag {self.search_lag:.1f} s: {self.wire.searches} searches,"
            f" {self.wire.search_misses} missed a charge the books held\n"
            f"  partial refunds: {sum(asks)} asked on {len(asks)} charges"
            f" (asks per charge {dict(sorted(Counter(asks).items()))}),"
            f" {len(self.refused_asks)} refused by the ledger; charges by refunds the provider"
            f" completed {dict(sorted(self.audit.refunds_per_charge.items()))}\n"
            f"  killed workers: {self.kills.killed} of {self.kills.started} (in the window"
            f" {self.kills.in_window}), restarted: {dict(self.kills.restarted)}\n"
            f"  clarifications {self.clarified}; reconcile rounds {self.reconcile_rounds};"
            f" errors raised to the merchant {dict(self.errors)}\n"
            f"  outcomes {dict(self.audit.outcomes)}\n"
            f"  {self.audit.summary()}"
        )


def _fault_counts(sandbox: Sandbox) -> Counter[str]:
    applied = getattr(sandbox.faults, "applied", None)
    if applied is not None:
        return Counter(fault for _, fault in applied)
    app: Any = sandbox.app
    stack = app.middleware_stack
    while stack is not None and not hasattr(stack, "counts"):
        stack = getattr(stack, "app", None)
    return Counter(stack.counts) if stack is not None else Counter()


def _write_paths(sandbox: Sandbox) -> list[str]:
    paths: list[str] = []
    for emulator in sandbox.emulators.values():
        write_paths = getattr(emulator, "write_paths", None)
        if callable(write_paths):
            paths += write_paths()
    return paths


def _turn_knobs(sandbox: Sandbox, seed: int, search_lag: float) -> float:
    """Late and declined refunds on both providers, Omise's search lag; the lag in effect."""
    ecommpay: Any = sandbox.emulators["ecommpay"]
    ecommpay.configure(seed=seed, refund_decline=0.15, refund_delay=0.3)
    omise: Any = sandbox.emulators["omise"]
    configure = getattr(omise, "configure", None)
    if callable(configure):
        configure(seed=seed, search_lag=search_lag, refund_decline=0.15, refund_delay=0.3)
        return float(getattr(omise, "search_lag", search_lag))
    return 0.0


class _Campaign:
    def __init__(
        self,
        sandbox: Sandbox,
        ledger: Ledger,
        gw: Gateway,
        client: httpx.Client,
        result: CampaignResult,
    ) -> None:
        self.sandbox = sandbox
        self.client = client
        self.ledger = ledger
        self.gw = gw
        self.result = result
        self.lock = threading.Lock()
        self.probe = BooksProbe(sandbox)

    def error(self, operation: str, error: BaseException) -> None:
        with self.lock:
            if isinstance(error, PaymuxError):
                self.result.errors[f"{operation} {type(error).__name__}"] += 1
            else:
                self.result.crashes.append(f"{operation}: {type(error).__name__}: {error}")

    def create(self, checkout: Checkout) -> Any:
        for _ in range(ATTEMPTS):
            try:
                return self.ledger.create_charge(checkout.request)
            except Exception as error:
                self.error("create", error)
                if not isinstance(error, PaymuxError):
                    return None
        return None

    def clarify(self, checkout: Checkout, charge: Any) -> bool:
        """Card-partner payments without the customer's phone and e-mail wait for them."""
        reference = checkout.request.reference

        def asked(c: Any) -> bool:
            return isinstance(c.next_action, ProvideInformation) or c.status.is_final

        current = self.ledger.wait(reference, until=asked, timeout=2)
        if current is None or not isinstance(current.next_action, ProvideInformation):
            try:
                current = self.ledger.refresh(reference)
            except Exception as error:
                self.error("refresh", error)
                return False
        if current is None or not isinstance(current.next_action, ProvideInformation):
            return False
        answers = {"customer.phone": "+254700000002", "customer.email": "buyer@example.com"}
        fields = {f.name: answers.get(f.name, "x") for f in current.next_action.fields}
        for _ in range(ATTEMPTS):
            try:
                self.gw.clarify(current, fields)
                break
            except ProviderError as error:
                self.error("clarify", error)
                if not isinstance(error, TransportError) and (error.http_status or 500) < 500:
                    break  # e.g. "status does not allow": an earlier, lost answer went through
            except Exception as error:
                self.error("clarify", error)
                if not isinstance(error, PaymuxError):
                    return False
        with self.lock:
            self.result.clarified += 1
        return True

    def customer(self, provider: str, payment_id: str, action: str) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.sandbox.hub.payment(provider, payment_id) is not None:
                self.sandbox.hub.act(provider, payment_id, action)  # type: ignore[arg-type]
                return True
            time.sleep(0.01)
        return False

    def paid(self, reference: str) -> bool:
        settled = self.ledger.wait(reference, until=lambda c: c.status.is_final, timeout=3)
        if settled is None or not settled.status.is_paid:
            try:
                settled = self.ledger.refresh(reference)
            except Exception as error:
                self.error("refresh", error)
        return settled is not None and settled.status.is_paid

    def refund(self, checkout: Checkout, ask: Ask) -> None:
        currency = checkout.request.amount.currency
        with self.lock:
            self.result.asks.setdefault(ask.charge, []).append(ask)
        for _ in range(ATTEMPTS):
            try:
                refund = self.ledger.refund(
                    ask.charge, Money(ask.amount, currency), reference=ask.reference
                )
            except RefundNotAllowed:
                with self.lock:
                    self.result.refused_asks.append(ask)
                return
            except DuplicateRequest as error:
                self.error("refund", error)  # an earlier, lost attempt went through
                return
            except Exception as error:
                self.error("refund", error)
                if not isinstance(error, PaymuxError):
                    return
                if (
                    isinstance(error, ProviderError)
                    and not isinstance(error, TransportError)
                    and (error.http_status or 500) < 500
                ):
                    return
                continue
            write = Write(
                f"{checkout.provider} refund",
                ask.reference if checkout.provider == "omise" else f"{ask.charge}/{ask.reference}",
            )
            if refund.status.value == "pending" and self.probe(write) and self._pending(ask):
                with self.lock:
                    self.result.late_refunds += 1
            return

    def _pending(self, ask: Ask) -> bool:
        books = read_books(self.sandbox).get(ask.charge, [])
        return any(
            r.reference == ask.reference and r.status == "pending" for c in books for r in c.refunds
        )

    def source(self, checkout: Checkout) -> Checkout | None:
        """Omise.js in the browser: the source first (public key), then the charge uses it."""
        settings = self.sandbox.emulators["omise"].provider_settings()
        amount = checkout.request.amount
        body = {"type": "kakaopay", "amount": amount.amount, "currency": amount.currency}
        for _ in range(ATTEMPTS):
            try:
                answer = self.client.post(
                    f"{settings['base_url']}/sources", json=body, auth=(settings["public_key"], "")
                )
            except httpx.TransportError:
                with self.lock:
                    self.result.errors["source TransportError"] += 1
                continue
            if answer.status_code == 200:
                request = checkout.request.model_copy(
                    update={"provider_options": {"source_id": answer.json()["id"]}}
                )
                return replace(checkout, request=request)
            with self.lock:
                self.result.errors["source ProviderError"] += 1
            if answer.status_code < 500:
                return None
        return None

    def checkout(self, checkout: Checkout) -> None:
        if checkout.provider == "omise" and checkout.clarify:
            sourced = self.source(checkout)
            if sourced is None:
                return
            checkout = sourced
        charge = self.create(checkout)
        if charge is None:
            return
        if (
            checkout.provider == "ecommpay"
            and checkout.clarify
            and not self.clarify(checkout, charge)
        ):
            return
        if not self.customer(charge.provider, charge.id, checkout.action):
            return
        if checkout.action != "pay" or not checkout.refunds:
            return
        if not self.paid(checkout.request.reference):
            return
        for ask in checkout.refunds:
            self.refund(checkout, ask)

    def merchant(self, stop: threading.Event) -> None:
        """The merchant's webhook endpoint: every callback that arrives goes to the Ledger."""
        handled = Counter[str]()
        while not stop.is_set() or not self.sandbox.hub.callbacks.idle():
            for provider in ("ecommpay", "omise"):
                received = self.sandbox.hub.wait_for_callback(
                    provider, handled[provider], timeout=0.02
                )
                if received is None:
                    continue
                handled[provider] += 1
                try:
                    self.ledger.handle_webhook(provider, received.body, received.headers)
                except Exception as error:
                    # A re-fetch or confirmation that met a fault: a real provider would retry
                    # the callback; here reconcile has to make up for it.
                    self.error("webhook", error)


def _kill_jobs(campaign: _Campaign, plans: list[Checkout]) -> list[Job]:
    """Half creates (killed after the provider created the payment), half refunds of paid charges
    (killed after the provider accepted the refund), on both providers."""
    half = (len(plans) + 1) // 2
    jobs = [Job("create", c.request) for c in plans[:half]]
    for checkout in plans[half:]:
        charge = campaign.create(checkout)
        if charge is None or not campaign.customer(charge.provider, charge.id, "pay"):
            continue
        if not campaign.paid(checkout.request.reference):
            continue
        ask = checkout.refunds[0]
        with campaign.lock:
            campaign.result.asks.setdefault(ask.charge, []).append(ask)
        jobs.append(Job("refund", checkout.request, ask.reference, ask.amount))
    return jobs


def _in_window(campaign: _Campaign, job: Job) -> bool:
    """The kill fell after the provider acted and before the Ledger wrote down its answer."""
    entry = campaign.ledger.entry(job.reference)
    if entry is None:
        return False
    provider = entry.provider
    if job.kind == "create":
        held = (
            campaign.probe(Write(f"{provider} charge", job.reference))
            if provider == "omise"
            else (job.reference in read_books(campaign.sandbox))
        )
        return bool(held) and entry.create_state == "sending" and entry.charge is None
    key = job.refund_reference if provider == "omise" else f"{job.reference}/{job.refund_reference}"
    record = next((r for r in entry.refunds if r.reference == job.refund_reference), None)
    return bool(campaign.probe(Write(f"{provider} refund", key))) and (
        record is not None and record.status == "reserved"
    )


def run_campaign(
    checkouts: int,
    ledger_url: str,
    *,
    seed: int = 20261125,
    threads: int = 6,
    kills: int = 4,
    search_lag: float = 2.0,
) -> CampaignResult:
    rng = random.Random(seed)  # a reproducible simulation, not security
    plan = FaultPlan(
        error=0.06,
        drop=0.12,
        late=0.06,
        latency=0.04,
        latency_ms=400,
        callback_drop=0.2,
        callback_duplicate=0.2,
        callback_reorder=0.2,
        callback_delay=0.1,
        seed=seed,
    )
    result = CampaignResult(checkouts=checkouts)
    started = time.monotonic()
    with Sandbox(faults=plan) as sandbox:
        plan.update({"drop_paths": _write_paths(sandbox)})
        result.search_lag = _turn_knobs(sandbox, seed, search_lag)
        transport = ObservingTransport(BooksProbe(sandbox))
        result.wire = transport.log
        client = httpx.Client(transport=transport, timeout=httpx.Timeout(0.25))
        gw = Gateway(
            providers=sandbox.provider_settings(),
            http_client=client,
            retry=RetryPolicy(attempts=4, initial_wait=0.002, max_wait=0.01, jitter=0.002),
        )
        clock = Clock()
        ledger = Ledger(gw, ledger_url, clock=clock)
        campaign = _Campaign(sandbox, ledger, gw, client, result)
        stop = threading.Event()
        merchant = threading.Thread(target=campaign.merchant, args=(stop,), daemon=True)
        merchant.start()

        plans = plan_checkouts(checkouts, f"{seed:x}", rng)
        killed = plan_kills(kills, f"{seed:x}", rng)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(campaign.checkout, plans))
        jobs = _kill_jobs(campaign, killed)

        def reconcile_during_lag() -> None:
            # The killed creates' leases are short: reconcile them while the search still lags.
            time.sleep(0.6)
            try:
                report = ledger.reconcile(older_than=timedelta(0))
                result.reconcile_errors.update(report.errors)
            except Exception as error:
                campaign.error("reconcile", error)

        result.kills = kill_and_restart(
            sandbox.provider_settings(),
            ledger_url,
            jobs,
            lambda job: _in_window(campaign, job),
            reconcile_during_lag,
        )

        # Payments nobody finished: the platform gives up on them at the method's limit time.
        for waiting in sandbox.hub.payments():
            if waiting.state == "waiting":
                sandbox.hub.act(waiting.provider, waiting.id, "abandon")
        _settle_late_refunds(sandbox)
        sandbox.hub.callbacks.wait_idle(timeout=30)
        stop.set()
        merchant.join(timeout=30)

        plan.update({"error": 0.0, "drop": 0.0, "late": 0.0, "latency": 0.0})
        clock.offset = timedelta(hours=1)
        references = [p.request.reference for p in plans + killed]
        for _ in range(5):
            result.reconcile_rounds += 1
            try:
                report = ledger.reconcile(older_than=timedelta(0))
            except Exception as error:
                campaign.error("reconcile", error)
                continue
            if not report.errors and report.changed == 0:
                break
        result.request_faults = _fault_counts(sandbox)
        result.callbacks = {k: v for k, v in vars(sandbox.hub.callbacks.stats).items() if v}
        books = read_books(sandbox)
        result.declined_refunds = sum(
            1
            for charges in books.values()
            for c in charges
            for r in c.refunds
            if r.status == "failed"
        )
        result.audit = audit_ledger(ledger, books, references, result.asks, result.refused_asks)
        ledger.close()
        gw.close()
    result.seconds = time.monotonic() - started
    return result


def _settle_late_refunds(sandbox: Sandbox) -> None:
    """Late refunds complete in the end: wait for the timers, then release any held ones."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        books = read_books(sandbox)
        if not any(r.status == "pending" for cs in books.values() for c in cs for r in c.refunds):
            return
        for emulator in sandbox.emulators.values():
            settle = getattr(emulator, "settle_refunds", None)
            if callable(settle):
                settle()
        time.sleep(0.1)
