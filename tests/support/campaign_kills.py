"""Checkout workers killed (SIGKILL) after the provider accepted a write and before the Ledger
recorded the answer; then restarted, retrying the same operation, and reconciled.

Each armed worker runs one operation; its transport tells the parent the moment a 2xx answer to
that operation's write arrives, then waits to die. The parent kills it, checks that the kill fell
in the window (the books hold the object, the Ledger row still says ``sending``/``reserved``),
and later starts one unarmed worker that retries every killed operation.

Lives in tests/support so ``multiprocessing`` (spawn) children can import it by name.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from typing import Any

import httpx
from campaign_wire import Write, write_of

from paymux import ChargeRequest, Gateway, Ledger, Money
from paymux.errors import DuplicateRequest, PaymuxError, RefundNotAllowed
from paymux.runner import RetryPolicy

ATTEMPTS = 12
LEASE = timedelta(seconds=0.5)
"""The workers' create lease: short, so a restarted worker and reconcile reach a killed create
while Omise's search still lags behind it."""


@dataclass(frozen=True)
class Job:
    """One operation a worker performs: a create, or a refund of a charge the Ledger holds."""

    kind: str
    """``create`` | ``refund``."""
    request: ChargeRequest
    refund_reference: str = ""
    refund_amount: int = 0

    @property
    def reference(self) -> str:
        return self.request.reference

    def matches(self, write: Write) -> bool:
        if self.kind == "create":
            return write.key == self.reference and " refund" not in write.endpoint
        return write.key in (self.refund_reference, f"{self.reference}/{self.refund_reference}")


def ledger_state(ledger: Ledger, job: Job) -> str:
    """What the Ledger holds about the job's write: the create state, or the refund's status."""
    entry = ledger.entry(job.reference)
    if entry is None:
        return "no row"
    if job.kind == "create":
        return entry.create_state
    record = next((r for r in entry.refunds if r.reference == job.refund_reference), None)
    return record.status if record is not None else "no refund row"


class _KillSwitch(httpx.HTTPTransport):
    def __init__(self, job: Job, conn: Connection) -> None:
        super().__init__()
        self.job = job
        self.conn = conn
        self.ledger: Ledger | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        write = write_of(request)
        if write is not None and self.job.matches(write) and 200 <= response.status_code < 300:
            response.read()
            # The provider has accepted: tell the parent what the Ledger holds now, and wait for
            # SIGKILL before the answer can reach the Ledger.
            state = ledger_state(self.ledger, self.job) if self.ledger is not None else "?"
            self.conn.send(("accepted", write.endpoint, state))
            time.sleep(600)
        return response


def _ledger(settings: dict[str, Any], url: str, transport: httpx.BaseTransport) -> Ledger:
    client = httpx.Client(transport=transport, timeout=httpx.Timeout(0.5))
    gw = Gateway(
        providers=settings,
        http_client=client,
        retry=RetryPolicy(attempts=3, initial_wait=0.002, max_wait=0.01, jitter=0.002),
    )
    return Ledger(gw, url, create_lease=LEASE)


def _perform(ledger: Ledger, job: Job) -> str:
    """Run one job to an outcome, retrying what the network or the faults broke."""
    outcome = "gave up"
    for _ in range(ATTEMPTS):
        try:
            if job.kind == "create":
                charge = ledger.create_charge(job.request)
                return f"created {charge.status.value}"
            amount = Money(job.refund_amount, job.request.amount.currency)
            refund = ledger.refund(job.reference, amount, reference=job.refund_reference)
            return f"refund {refund.status.value}"
        except (RefundNotAllowed, DuplicateRequest) as error:
            return type(error).__name__
        except PaymuxError as error:
            outcome = type(error).__name__
    return outcome


def armed_worker(settings: dict[str, Any], url: str, job: Job, conn: Connection) -> None:
    """Worker process: performs ``job`` and is killed by the parent once the provider accepted."""
    switch = _KillSwitch(job, conn)
    ledger = switch.ledger = _ledger(settings, url, switch)
    outcome = _perform(ledger, job)
    conn.send(("done", outcome, ""))


def restarted_worker(settings: dict[str, Any], url: str, jobs: list[Job], conn: Connection) -> None:
    """Worker process: a fresh instance retries every operation a killed worker left behind."""
    ledger = _ledger(settings, url, httpx.HTTPTransport())
    conn.send(("done", [_perform(ledger, job) for job in jobs], ""))


def _receive(conn: Connection, timeout: float) -> Any:
    """The worker's next message; None if it said nothing in time or died without a word."""
    try:
        return conn.recv() if conn.poll(timeout) else None
    except EOFError:
        return None


@dataclass
class KillReport:
    started: int = 0
    killed: int = 0
    in_window: int = 0
    """Kills the books and the Ledger prove fell between the provider's acceptance and the
    Ledger's write."""
    missed: list[str] = field(default_factory=list)
    restarted: Counter[str] = field(default_factory=Counter)


def kill_and_restart(
    settings: dict[str, Any],
    url: str,
    jobs: list[Job],
    in_window: Any,
    between: Any = None,
    after_kill: Any = None,
) -> KillReport:
    """Run each job in an armed worker (all at once), kill each at acceptance, then retry them
    all in one restarted worker. ``in_window(job, ledger_state)`` checks a kill against the books
    and what the Ledger held when the answer arrived; ``after_kill(job)`` runs right after each
    kill, ``between()`` after all of them, before the restart."""
    context = multiprocessing.get_context("spawn")
    report = KillReport()
    running = []
    for job in jobs:
        parent, child = context.Pipe()
        process = context.Process(target=armed_worker, args=(settings, url, job, child))
        process.start()
        running.append((job, process, parent))
        report.started += 1
    for job, process, parent in running:
        message = _receive(parent, 60) or ("silent", "", "")
        if message[0] == "accepted" and process.pid is not None:
            os.kill(process.pid, signal.SIGKILL)
            process.join(10)
            report.killed += 1
            if in_window(job, message[2]):
                report.in_window += 1
            else:
                report.missed.append(
                    f"{job.kind} {job.reference}: killed outside the window (ledger: {message[2]})"
                )
            if after_kill is not None:
                after_kill(job)
        else:
            report.missed.append(f"{job.kind} {job.reference}: not killed ({message[1]})")
            process.join(10)
            if process.is_alive():
                process.kill()
        parent.close()
    if between is not None:
        between()
    parent, child = context.Pipe()
    process = context.Process(target=restarted_worker, args=(settings, url, jobs, child))
    process.start()
    answer = _receive(parent, 120)
    outcomes = answer[1] if answer is not None else ["no answer"] * len(jobs)
    process.join(10)
    report.restarted.update(outcomes)
    return report
