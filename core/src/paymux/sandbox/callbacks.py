"""Delivers emulator callbacks to the merchant, applying callback faults."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import httpx

from .faults import FaultPlan

log = logging.getLogger("paymux.sandbox.callbacks")


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    attempt: int = field(default=1, compare=False)


@dataclass
class CallbackStats:
    submitted: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    delayed: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a callback: where it went and what the merchant answered."""

    url: str
    attempt: int
    status: int | None
    """The merchant's HTTP status; None when no answer came (refused, timed out)."""
    error: str | None
    body: bytes
    headers: dict[str, str]
    at: float
    """Unix time of the attempt."""


class CallbackDispatcher:
    """A worker thread that posts callbacks in due-time order.

    Dropped callbacks are never sent (reconcile must find the payment); duplicates are sent twice;
    reordered ones are held back long enough for the next callback to overtake them. A merchant
    answer other than 2xx is retried a few times, as providers do.
    """

    retries = 3
    retry_spacing = 0.2

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.stats = CallbackStats()
        # Bounded: a sandbox left running for days keeps the recent history only.
        self._deliveries: deque[Delivery] = deque(maxlen=10_000)
        self._heap: list[_Scheduled] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stopped = False
        self._in_flight = 0
        self._client = httpx.Client(timeout=5.0, trust_env=False)
        self._thread = threading.Thread(
            target=self._work, name="paymux-sandbox-callbacks", daemon=True
        )
        self._thread.start()

    def submit(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        self.stats.submitted += 1
        if self.plan.chance(self.plan.callback_drop):
            self.stats.dropped += 1
            log.info("sandbox: dropped a callback to %s", url)
            return
        delay = 0.0
        if self.plan.chance(self.plan.callback_reorder):
            self.stats.reordered += 1
            delay += 0.25
        if self.plan.chance(self.plan.callback_delay):
            self.stats.delayed += 1
            delay += self.plan.callback_delay_ms / 1000
        self._schedule(url, body, headers, delay)
        if self.plan.chance(self.plan.callback_duplicate):
            self.stats.duplicated += 1
            self._schedule(url, body, headers, delay + 0.05)

    def _schedule(
        self, url: str, body: bytes, headers: dict[str, str], delay: float, attempt: int = 1
    ) -> None:
        with self._cv:
            heapq.heappush(
                self._heap,
                _Scheduled(time.monotonic() + delay, next(self._seq), url, body, headers, attempt),
            )
            self._cv.notify()

    def idle(self) -> bool:
        with self._cv:
            return not self._heap and self._in_flight == 0

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.01)
        return self.idle()

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (
                    not self._heap or self._heap[0].due > time.monotonic()
                ):
                    timeout = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cv.wait(timeout)
                if self._stopped:
                    return
                item = heapq.heappop(self._heap)
                self._in_flight += 1
            try:
                self._deliver(item)
            finally:
                with self._cv:
                    self._in_flight -= 1

    def deliveries(self) -> list[Delivery]:
        """Every delivery attempt so far, oldest first."""
        with self._cv:
            return list(self._deliveries)

    def _deliver(self, item: _Scheduled) -> None:
        status: int | None = None
        problem: str | None = None
        try:
            response = self._client.post(item.url, content=item.body, headers=item.headers)
            status = response.status_code
            ok = 200 <= status < 300
        except httpx.HTTPError as error:
            log.info("sandbox: callback to %s failed: %s", item.url, type(error).__name__)
            problem = type(error).__name__
            ok = False
        with self._cv:
            self._deliveries.append(
                Delivery(
                    item.url,
                    item.attempt,
                    status,
                    problem,
                    item.body,
                    dict(item.headers),
                    time.time(),
                )
            )
        if ok:
            self.stats.delivered += 1
        elif item.attempt < self.retries:
            self._schedule(
                item.url,
                item.body,
                item.headers,
                self.retry_spacing * item.attempt,
                item.attempt + 1,
            )
        else:
            self.stats.failed += 1

    def close(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify()
        self._thread.join(timeout=5)
        self._client.close()
