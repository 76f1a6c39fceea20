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

import itertools
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
from campaign_sandbox import (
    arm_one_shots,
    fault_counts,
    look_up,
    make_decoys,
    merchant_settings,
    pause_lost_answers,
    resume_lost_answers,
    settle_late_refunds,
    turn_knobs,
)
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
ALLOWED_WEBHOOK_ERRORS = frozenset({"CallbackNotConfirmed"})
"""A final ECommPay callback the Gate's status answer does not confirm (yet, or any more: a late
or reordered one) is refused without a change, for the Gate to send again; reconcile catches up."""


class Clock:
    """The ledger's clock; moved forward so reconcile sees every charge as stale."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class CampaignResult:
    checkouts: int = 0
    instances: int = 1
    wire: WireLog = field(default_factory=WireLog)
    request_faults: Counter[str] = field(default_factory=Counter)
    callbacks: dict[str, int] = field(default_factory=dict)
    search_lag: float = 0.0
    asks: dict[str, list[Ask]] = field(default_factory=dict)
    refused_asks: list[Ask] = field(default_factory=list)
    late_refunds: Counter[str] = field(default_factory=Counter)
    """Refunds the provider accepted and completed later, by provider (seen in its books)."""
    declined_refunds: Counter[str] = field(default_factory=Counter)
    lagging_reconcile_misses: int = 0
    """Searches by the reconcile right after the kills that missed a killed create's charge."""
    lookups: int = 0
    """Omise look-ups by reference at the end, each held against the books."""
    lookup_misses: list[str] = field(default_factory=list)
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
        return {
            key: count
            for key, count in self.errors.items()
            if key.split()[-1] not in ALLOWED_ERRORS
            and not (key.startswith("webhook ") and key.split()[-1] in ALLOWED_WEBHOOK_ERRORS)
        }

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
        kinds["omise search read beyond page 1"] = self.wire.search_later_pages
        kinds["reconcile missed a killed create in the lagging search"] = (
            self.lagging_reconcile_misses
        )
        for provider in ("ecommpay", "omise"):
            kinds[f"late refund ({provider})"] = self.late_refunds[provider]
            kinds[f"declined refund ({provider})"] = self.declined_refunds[provider]
        kinds["worker killed between acceptance and the ledger's write"] = self.kills.in_window
        return kinds

    def summary(self) -> str:
        asks = [len(v) for v in self.asks.values()]
        kinds = "\n".join(f"    {k}: {v}" for k, v in self.fault_kinds().items())
        return (
            f"{self.checkouts} checkouts on {self.instances} checkout instances in"
            f" {self.seconds:.1f} s, {self.wire.requests} API requests"
            f" ({sum(self.wire.writes.values())} writes)\n"
            f"  faults by kind:\n{kinds}\n"
            f"  omise search lag {self.search_lag:.1f} s: {self.wire.searches} searches,"
            f" {self.wire.search_misses} missed a charge the books held,"
            f" {self.wire.search_later_pages} read a later page; {self.lookups} look-ups by"
            f" reference at the end, {len(self.lookup_misses)} wrong\n"
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


class _Campaign:
    """The merchant: several checkout instances (each its own Ledger on the one database), a
    webhook endpoint that hands each callback to one of them, and the customers."""

    def __init__(
        self,
        sandbox: Sandbox,
        ledgers: list[Ledger],
        gw: Gateway,
        client: httpx.Client,
        result: CampaignResult,
    ) -> None:
        self.sandbox = sandbox
        self.client = client
        self.ledgers = ledgers
        self.gw = gw
        self.result = result
        self.lock = threading.Lock()
        self.probe = BooksProbe(sandbox)
        self._local = threading.local()

    @property
    def ledger(self) -> Ledger:
        """The instance serving this thread's checkout (the first one outside checkouts)."""
        return getattr(self._local, "ledger", self.ledgers[0])

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
                    self.result.late_refunds[checkout.provider] += 1
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

    def checkout(self, checkout: Checkout, instance: int = 0) -> None:
        self._local.ledger = self.ledgers[instance % len(self.ledgers)]
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
        turns = itertools.cycle(self.ledgers)
        while not stop.is_set() or not self.sandbox.hub.callbacks.idle():
            for provider in ("ecommpay", "omise"):
                received = self.sandbox.hub.wait_for_callback(
                    provider, handled[provider], timeout=0.02
                )
                if received is None:
                    continue
                handled[provider] += 1
                try:
                    next(turns).handle_webhook(provider, received.body, received.headers)
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


def _in_window(campaign: _Campaign, job: Job, ledger_state: str) -> bool:
    """The kill fell after the provider acted (its books hold the object) and before the Ledger
    wrote down the answer (the worker saw its row still ``sending`` / ``reserved``)."""
    entry = campaign.ledger.entry(job.reference)
    if entry is None:
        return False
    provider = entry.provider
    if job.kind == "create":
        held = any(
            c.provider == provider for c in read_books(campaign.sandbox).get(job.reference, [])
        )
        return held and ledger_state == "sending"
    key = job.refund_reference if provider == "omise" else f"{job.reference}/{job.refund_reference}"
    return bool(campaign.probe(Write(f"{provider} refund", key))) and ledger_state == "reserved"


def run_campaign(
    checkouts: int,
    ledger_url: str,
    *,
    seed: int = 20261125,
    threads: int = 6,
    kills: int = 4,
    search_lag: float = 3.0,
    instances: int = 2,
) -> CampaignResult:
    """``instances`` checkout instances (Ledgers) share ``ledger_url``, as on PostgreSQL behind a
    load balancer; the killed workers are more of them."""
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
    result = CampaignResult(checkouts=checkouts, instances=instances)
    started = time.monotonic()
    with Sandbox(faults=plan) as sandbox:
        turn_knobs(sandbox, seed, search_lag)
        result.search_lag = search_lag
        transport = ObservingTransport(BooksProbe(sandbox))
        result.wire = transport.log
        client = httpx.Client(transport=transport, timeout=httpx.Timeout(0.25))
        settings = merchant_settings(sandbox, search_lag)
        gw = Gateway(
            providers=settings,
            http_client=client,
            retry=RetryPolicy(attempts=4, initial_wait=0.002, max_wait=0.01, jitter=0.002),
        )
        clock = Clock()
        ledgers = [Ledger(gw, ledger_url, clock=clock) for _ in range(instances)]
        ledger = ledgers[0]
        campaign = _Campaign(sandbox, ledgers, gw, client, result)
        stop = threading.Event()
        merchant = threading.Thread(target=campaign.merchant, args=(stop,), daemon=True)
        merchant.start()

        plans = plan_checkouts(checkouts, f"{seed:x}", rng)
        killed = plan_kills(kills, f"{seed:x}", rng)
        # The kills first, while the Ledger is small: the reconcile right after a killed create
        # then reaches that charge within the search lag.
        jobs = _kill_jobs(campaign, killed)
        # While the armed workers run, the kill is the fault: a lost answer would let a worker
        # recover by a look-up and finish instead of dying in the window.
        lost_rates = pause_lost_answers(sandbox)

        decoys: list[str] = []

        def reconcile_during_lag(job: Job) -> None:
            # A killed create's lease is short: reconcile it while the search still lags.
            if job.kind != "create" or job.request.country != "SG":
                return
            time.sleep(0.6)
            misses = result.wire.search_misses
            try:
                report = ledger.reconcile(older_than=timedelta(0))
                result.reconcile_errors.update(report.errors)
            except Exception as error:
                campaign.error("reconcile", error)
            result.lagging_reconcile_misses += result.wire.search_misses - misses

        def before_restart() -> None:
            resume_lost_answers(sandbox, lost_rates)
            # Bury each killed Omise charge under newer ones that mention its reference: a
            # look-up must read past the first page of the search.
            buried = [j.reference for j in jobs if j.kind == "create" and j.request.country == "SG"]
            decoys.extend(make_decoys(sandbox, buried, f"{seed:x}"))
            time.sleep(search_lag)

        result.kills = kill_and_restart(
            settings,
            ledger_url,
            jobs,
            lambda job, state: _in_window(campaign, job, state),
            before_restart,
            reconcile_during_lag,
        )
        arm_one_shots(sandbox)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(campaign.checkout, plans, itertools.cycle(range(instances))))

        # Payments nobody finished: the platform gives up on them at the method's limit time.
        for waiting in sandbox.hub.payments():
            if waiting.state == "waiting":
                sandbox.hub.act(waiting.provider, waiting.id, "abandon")
        settle_late_refunds(sandbox)
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
        result.request_faults = fault_counts(sandbox)
        result.callbacks = {k: v for k, v in vars(sandbox.hub.callbacks.stats).items() if v}
        books = read_books(sandbox)
        result.declined_refunds["ecommpay"] = sum(
            1
            for cs in books.values()
            for c in cs
            for r in c.refunds
            if c.provider == "ecommpay" and r.status == "failed"
        )
        # Omise refuses a declined refund in its answer: nothing enters its books.
        omise: Any = sandbox.emulators["omise"]
        result.declined_refunds["omise"] = omise.fault_counts.get("refund_declined", 0)
        result.lookups, result.lookup_misses = look_up(gw, books)
        result.audit = audit_ledger(
            ledger, books, references, result.asks, result.refused_asks, foreign=decoys
        )
        for instance in ledgers:
            instance.close()
        gw.close()
    result.seconds = time.monotonic() - started
    return result
