"""Fault injection: what goes wrong with requests to the emulators and with their callbacks."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

RequestFault = Literal["latency", "error", "drop", "late"]
"""``latency``: a pause before processing; ``error``: a 5xx before processing; ``drop``: the
request is processed, then the connection dies ("processed, answer lost"); ``late``: the request
is processed, then the answer waits ``latency_ms`` (a client that gives up sooner loses it)."""
REQUEST_FAULTS: tuple[RequestFault, ...] = ("latency", "error", "drop", "late")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class FaultPlan:
    """Probabilities (0..1) and sizes of faults. All zero by default: a well-behaved provider."""

    latency: float = 0.0
    latency_ms: int = 200
    error: float = 0.0
    error_status: int = 503
    drop: float = 0.0
    late: float = 0.0
    drop_paths: list[str] = field(default_factory=list)
    """When not empty, random ``drop`` and ``late`` faults hit only these path prefixes (e.g. the
    emulators' write endpoints, where a lost answer is what can pay or refund twice)."""
    callback_drop: float = 0.0
    callback_duplicate: float = 0.0
    callback_reorder: float = 0.0
    callback_delay: float = 0.0
    callback_delay_ms: int = 300
    seed: int | None = None
    once: list[tuple[str, RequestFault]] = field(default_factory=list)
    """One-shot faults: (path prefix, fault) applied to the next matching request. A prefix may
    start with an HTTP method (``"POST /omise/"``): then only a request of that method matches,
    e.g. the first write of a create that reads before it writes."""

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self.applied: list[tuple[str, RequestFault]] = []
        """Every request fault that happened, as (path, fault): proof for tests and campaigns."""

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)} - {"once"}
        unknown = set(values) - names - {"once"}
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            for key, value in values.items():
                if key == "once":
                    self.once.extend((str(p), f) for p, f in value)
                elif key == "drop_paths":
                    self.drop_paths = [str(p) for p in value]
                else:
                    setattr(self, key, value)
            if "seed" in values:
                self._random = random.Random(self.seed)

    def chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self._lock:
            return self._random.random() < probability

    def request_fault(self, path: str, method: str = "") -> RequestFault | None:
        with self._lock:
            for index, (prefix, fault) in enumerate(self.once):
                if path.startswith(prefix) or f"{method} {path}".startswith(prefix):
                    del self.once[index]
                    return fault
        if self.chance(self.error):
            return "error"
        after_processing = not self.drop_paths or path.startswith(tuple(self.drop_paths))
        if after_processing and self.chance(self.drop):
            return "drop"
        if after_processing and self.chance(self.late):
            return "late"
        if self.chance(self.latency):
            return "latency"
        return None

    def record(self, path: str, fault: RequestFault) -> None:
        with self._lock:
            self.applied.append((path, fault))

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class FaultMiddleware:
    """Applies the plan to API requests (not to the customer or merchant pages)."""

    def __init__(self, app: ASGIApp, plan: FaultPlan, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.plan = plan
        self.prefixes = prefixes
        self.counts: dict[str, int] = dict.fromkeys(REQUEST_FAULTS, 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        fault = (
            self.plan.request_fault(path, scope.get("method", ""))
            if scope["type"] == "http" and path.startswith(self.prefixes)
            else None
        )
        if fault is None:
            await self.app(scope, receive, send)
            return
        self.counts[fault] += 1
        self.plan.record(path, fault)
        if fault == "latency":
            await asyncio.sleep(self.plan.latency_ms / 1000)
            await self.app(scope, receive, send)
        elif fault == "error":
            body = b'{"sandbox_fault": "error"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": self.plan.error_status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif fault == "late":
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            # Processed now, answered later: the provider acted even if the client gave up.
            await self.app(scope, receive, hold)
            await asyncio.sleep(self.plan.latency_ms / 1000)
            for message in held:
                await send(message)
        else:

            async def swallow(message: Message) -> None:
                return None

            # The provider processes the request for real; only the answer is lost.
            await self.app(scope, receive, swallow)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"4096")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise ConnectionAbortedError("sandbox fault: connection dropped after processing")
