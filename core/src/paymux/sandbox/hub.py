"""State shared by the emulators: payments awaiting the customer, faults, callbacks, the inbox."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from .callbacks import CallbackDispatcher
from .emulator_types import CustomerAction, MountedEmulator, PendingPayment
from .faults import FaultPlan

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ReceivedCallback:
    """A callback that reached the sandbox's own merchant endpoint (``/merchant/<provider>``)."""

    provider: str
    body: bytes
    headers: dict[str, str]
    received_at: float


def _loopback_urls(urls: dict[str, str]) -> dict[str, str]:
    """The sandbox never calls out: callback URLs must be http(s) on a loopback address."""
    for provider, url in urls.items():
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname not in _LOOPBACK:
            raise ConfigurationError(
                f"callback URL for {provider!r} must be http(s) on 127.0.0.1, localhost or ::1,"
                f" got {url!r}"
            )
    return dict(urls)


class SandboxHub:
    def __init__(
        self,
        base_url: str = "",
        faults: FaultPlan | None = None,
        callback_urls: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.callback_urls = _loopback_urls(callback_urls or {})
        """Where each provider's callbacks go instead of the inbox (e.g. your app's endpoint)."""
        self.faults = faults or FaultPlan()
        self.callbacks = CallbackDispatcher(self.faults)
        self.emulators: dict[str, MountedEmulator] = {}
        self._payments: dict[tuple[str, str], PendingPayment] = {}
        self._inbox: list[ReceivedCallback] = []
        self._cv = threading.Condition()

    # -- the simulated customer --------------------------------------------------------------

    def register_payment(self, payment: PendingPayment) -> None:
        with self._cv:
            self._payments[(payment.provider, payment.id)] = payment
            self._cv.notify_all()

    def payment(self, provider: str, payment_id: str) -> PendingPayment | None:
        """The payment by the provider's id, or by the merchant's reference (``details``)."""
        with self._cv:
            found = self._payments.get((provider, payment_id))
            if found is not None:
                return found
            for (name, _), payment in self._payments.items():
                if name == provider and payment.details.get("reference") == payment_id:
                    return payment
            return None

    def payments(self) -> list[PendingPayment]:
        with self._cv:
            return list(self._payments.values())

    def customer_url(self, provider: str, payment_id: str) -> str:
        return f"{self.base_url}/customer/{provider}/{payment_id}"

    def act(self, provider: str, payment_id: str, action: CustomerAction) -> PendingPayment:
        payment = self.payment(provider, payment_id)
        if payment is None:
            raise KeyError(f"no payment {payment_id} at {provider}")
        if payment.state != "waiting":
            raise ValueError(f"payment {payment_id} was already handled ({payment.state})")
        payment.state = action
        payment.on_action(action)
        return payment

    # -- the merchant's side: callbacks that reached /merchant/<provider> ----------------------

    def merchant_url(self, provider: str) -> str:
        """The provider's callback URL: ``callback_urls[provider]``, else the sandbox's inbox."""
        return self.callback_urls.get(provider) or f"{self.base_url}/merchant/{provider}"

    def receive(self, provider: str, body: bytes, headers: dict[str, str]) -> None:
        with self._cv:
            self._inbox.append(ReceivedCallback(provider, body, headers, time.monotonic()))
            self._cv.notify_all()

    def inbox(self, provider: str | None = None) -> list[ReceivedCallback]:
        with self._cv:
            return [c for c in self._inbox if provider is None or c.provider == provider]

    def wait_for_callback(
        self, provider: str, after: int, timeout: float = 10.0
    ) -> ReceivedCallback | None:
        """The first callback for ``provider`` beyond the first ``after`` ones, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                received = [c for c in self._inbox if c.provider == provider]
                if len(received) > after:
                    return received[after]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cv.wait(remaining)

    def provider_of(self, url: str) -> str | None:
        """Which provider a callback URL belongs to (its forward or inbox URL, else the path)."""
        for name in self.emulators:
            if url == self.merchant_url(name):
                return name
        path = urlsplit(url).path.rstrip("/").split("/")
        return path[-1] if len(path) >= 2 and path[-2] == "merchant" else None

    def deliveries(self) -> list[dict[str, Any]]:
        """Every callback delivery attempt, as ``GET /merchant/api/callbacks`` shows it."""
        return [
            {
                "provider": self.provider_of(d.url),
                "url": d.url,
                "attempt": d.attempt,
                "status": d.status,
                "error": d.error,
                "at": d.at,
                "headers": d.headers,
                "body": d.body.decode("utf-8", "replace"),
            }
            for d in self.callbacks.deliveries()
        ]

    def close(self) -> None:
        self.callbacks.close()
