"""A scripted customer and merchant: drives one checkout on the sandbox through the public API.

Used by ``paymux demo`` and by the end-to-end tests; it only does what a checkout service and a
customer's browser would do: create the charge, read verified callbacks, follow the next action,
press the customer's button, refund.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from ..gateway import Gateway
from ..models import Charge, ChargeRequest, Refund
from ..money import Money
from ..next_action import DisplayQrCode, ProvideInformation, RedirectToUrl
from ..status import ChargeStatus
from .emulator import CustomerAction
from .hub import SandboxHub


@dataclass
class CheckoutResult:
    request: ChargeRequest
    provider: str
    charge: Charge
    next_actions: list[str] = field(default_factory=list)
    callbacks: int = 0
    refunds: list[Refund] = field(default_factory=list)


class Shopper:
    """Plays merchant and customer against a running sandbox."""

    def __init__(
        self,
        gateway: Gateway,
        hub: SandboxHub,
        *,
        timeout: float = 10.0,
        on_qr: Callable[[DisplayQrCode], None] | None = None,
        clarify: dict[str, str] | None = None,
    ) -> None:
        self.gw = gateway
        self.hub = hub
        self.timeout = timeout
        self.on_qr = on_qr
        # What the simulated customer answers when the provider asks (ECommPay's card partner asks
        # for whichever of phone and e-mail the request lacked).
        self.clarify_values = clarify or {
            "customer.phone": "+254700000001",
            "customer.email": "customer@example.com",
        }
        self._seen: dict[str, int] = {}
        self.browser = httpx.Client(follow_redirects=True, timeout=10.0, trust_env=False)

    def close(self) -> None:
        self.browser.close()

    def _next_event_for(self, charge: Charge, wait: float | None = None) -> Charge | None:
        """Wait for the next verified callback about ``charge``; None on timeout."""
        deadline = time.monotonic() + (self.timeout if wait is None else wait)
        while time.monotonic() < deadline:
            index = self._seen.get(charge.provider, 0)
            received = self.hub.wait_for_callback(
                charge.provider, index, deadline - time.monotonic()
            )
            if received is None:
                return None
            self._seen[charge.provider] = index + 1
            event = self.gw.parse_webhook(charge.provider, received.body, received.headers)
            if event.charge is not None and event.charge.id == charge.id:
                return event.charge
        return None

    def _act(self, charge: Charge, action: CustomerAction, result: CheckoutResult) -> Charge:
        """Do what the next action asks (if anything), then wait for the provider's word."""
        next_action = charge.next_action
        if isinstance(next_action, DisplayQrCode):
            result.next_actions.append("QR code")
            if self.on_qr is not None:
                self.on_qr(next_action)
            # Scanning opens the wallet app, where the customer approves or declines.
            self.hub.act(charge.provider, charge.id, action)
        elif isinstance(next_action, RedirectToUrl):
            result.next_actions.append(f"{next_action.method} redirect")
            if next_action.method == "POST":
                page = self.browser.post(next_action.url, data=next_action.form_fields)
            else:
                page = self.browser.get(next_action.url)
            page.raise_for_status()
            self.hub.act(charge.provider, charge.id, action)
        elif isinstance(next_action, ProvideInformation):
            result.next_actions.append("clarify")
            wanted = {f.name: self.clarify_values.get(f.name, "") for f in next_action.fields}
            charge = self.gw.clarify(charge, wanted)
        updated = self._next_event_for(charge)
        if updated is None:
            # The callback never came (dropped): ask the provider, as reconcile would.
            return self.gw.retrieve_charge(charge)
        result.callbacks += 1
        return updated

    def checkout(
        self,
        request: ChargeRequest,
        *,
        action: CustomerAction = "pay",
        refunds: tuple[Money | None, ...] = (),
    ) -> CheckoutResult:
        provider = self.gw.route(request).provider
        charge = self.gw.create_charge(request)
        result = CheckoutResult(request=request, provider=provider, charge=charge)
        for _ in range(8):
            if charge.status.is_final:
                break
            charge = self._act(charge, action, result)
        for amount in refunds:
            result.refunds.append(self.gw.refund(charge, amount))
            charge = self._after_refund(charge)
        result.charge = charge
        return result

    def _after_refund(self, charge: Charge) -> Charge:
        """The charge once the provider has settled the refund (from a callback, else a poll)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for current in (
                self._next_event_for(charge, wait=0.3),
                self.gw.retrieve_charge(charge),
            ):
                if current is not None and current.refunded_amount != charge.refunded_amount:
                    return current
        return self.gw.retrieve_charge(charge)


FINAL_OK = (ChargeStatus.SUCCEEDED, ChargeStatus.PARTIALLY_REFUNDED, ChargeStatus.REFUNDED)
