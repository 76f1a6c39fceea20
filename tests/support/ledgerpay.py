"""A provider and an in-memory emulator of its API, used only by the ledger's tests.

The emulator keeps charges and refunds, answers the provider's requests through
``httpx.MockTransport``, and emits signed callbacks into ``outbox`` as charges change, so tests can
deliver them late, twice, out of order, or not at all (``drop_callbacks``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from paymux import (
    AmountRange,
    AsyncGateway,
    Capability,
    Charge,
    ChargeRequest,
    ChargeStatus,
    Gateway,
    Refund,
    RefundStatus,
    RefundSupport,
    WebhookEvent,
)
from paymux.errors import NotFound, ProviderError, WebhookParseError, WebhookVerificationError
from paymux.money import Money
from paymux.next_action import DisplayQrCode
from paymux.provider import ChargeLookup, Flow, Provider, ProviderSettings, mark, no_io
from paymux.runner import RetryPolicy

SECRET = "lp_secret_9d1f7a"
SIGNATURE_HEADER = "x-ledgerpay-signature"

_STATUS = {
    "new": ChargeStatus.PENDING,
    "action": ChargeStatus.REQUIRES_ACTION,
    "paid": ChargeStatus.SUCCEEDED,
    "failed": ChargeStatus.FAILED,
    "expired": ChargeStatus.EXPIRED,
    "canceled": ChargeStatus.CANCELED,
}


class LedgerPaySettings(ProviderSettings):
    secret: SecretStr
    base_url: str = "https://ledgerpay.test"
    reconcile_after_seconds: int = 60


class LedgerPay(Provider[LedgerPaySettings]):
    plugin_name = "ledgerpay"
    settings_model = LedgerPaySettings

    def capabilities(self) -> list[Capability]:
        return [
            Capability(
                provider=self.name,
                method="qr",
                countries=None,
                amounts=(
                    AmountRange(currency="KRW", minimum=1),
                    AmountRange(currency="USD", minimum=1),
                ),
                refunds=RefundSupport.PARTIAL,
                next_actions=("display_qr_code",),
            )
        ]

    def reconcile_after(self, charge: Charge) -> timedelta:
        return timedelta(seconds=self.settings.reconcile_after_seconds)

    def _request(
        self,
        method: str,
        path: str,
        op: str,
        safe: bool,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        request = httpx.Request(
            method,
            self.settings.base_url + path,
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {self.settings.secret.get_secret_value()}"},
        )
        return mark(request, operation=op, retry_safe=safe)

    def to_charge(self, data: Mapping[str, Any]) -> Charge:
        currency = data["currency"]
        refunded = int(data.get("refunded", 0))
        status = _STATUS[data["state"]]
        if status is ChargeStatus.SUCCEEDED and refunded:
            status = (
                ChargeStatus.REFUNDED
                if refunded >= data["amount"]
                else ChargeStatus.PARTIALLY_REFUNDED
            )
        return Charge(
            provider=self.name,
            id=data["id"],
            reference=data.get("ref"),
            amount=Money(data["amount"], currency),
            method="qr",
            status=status,
            next_action=DisplayQrCode(data=f"ledgerpay://{data['id']}")
            if data["state"] == "action"
            else None,
            refunded_amount=Money(refunded, currency),
            provider_status=data["state"],
            refunds=tuple(self.to_refund(r) for r in data["refunds"])
            if "refunds" in data
            else None,
        )

    def to_refund(self, data: Mapping[str, Any]) -> Refund:
        return Refund(
            provider=self.name,
            id=data["id"],
            charge_id=data["charge"],
            reference=data.get("ref"),
            amount=Money(data["amount"], data["currency"]),
            status=RefundStatus(data["state"]),
        )

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 404:
            # Looked up by id or by an exact reference, with no lag: a miss is certain.
            raise NotFound(
                response.json().get("error", "not found"),
                provider=self.name,
                code="404",
                http_status=status,
                conclusive=True,
            )
        if status >= 400:
            raise ProviderError(
                response.json().get("error", "error"),
                provider=self.name,
                code=str(status),
                http_status=status,
                # 4xx: the emulated API validates before it acts; a 5xx may come after acting.
                nothing_done=status < 500,
            )

    def create_charge(self, request: ChargeRequest) -> Flow[Charge]:
        body = {
            "ref": request.reference,
            "amount": request.amount.amount,
            "currency": request.amount.currency,
        }
        response = yield self._request("POST", "/charges", "create_charge", False, body)
        self._check(response)
        return self.to_charge(response.json())

    def retrieve_charge(self, lookup: ChargeLookup) -> Flow[Charge]:
        if lookup.charge_id is not None:
            response = yield self._request(
                "GET", f"/charges/{lookup.charge_id}", "retrieve_charge", True
            )
        else:
            response = yield self._request(
                "GET", "/charges", "retrieve_charge", True, params={"ref": lookup.reference or ""}
            )
        self._check(response)
        return self.to_charge(response.json())

    def refund(
        self, charge: Charge, amount: Money, *, reason: str | None, reference: str
    ) -> Flow[Refund]:
        response = yield self._request(
            "POST",
            f"/charges/{charge.id}/refunds",
            "refund",
            True,
            {"amount": amount.amount, "ref": reference},
        )
        self._check(response)
        return self.to_refund(response.json())

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[WebhookEvent]:
        # Overridden whole on purpose, the way plugins were written before verify_webhook and
        # translate_webhook: the ledger suites keep that path (still supported) covered.
        return no_io(lambda: self._event_of(body, headers))

    def _event_of(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        expected = sign(body, self.settings.secret.get_secret_value())
        if not hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, "")):
            raise WebhookVerificationError("ledgerpay: bad signature")
        try:
            data = json.loads(body)
            kind, obj = data["type"], data["data"]
            if kind == "charge.updated":
                return WebhookEvent(
                    provider=self.name,
                    id=data["id"],
                    charge=self.to_charge(obj),
                    provider_data={"event": kind},
                )
            return WebhookEvent(
                provider=self.name,
                id=data["id"],
                refund=self.to_refund(obj),
                provider_data={"event": kind},
            )
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookParseError(
                f"ledgerpay: unreadable callback ({type(error).__name__})"
            ) from None


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Callback:
    body: bytes
    headers: dict[str, str]
    event_id: str


@dataclass
class LedgerPayApi:
    """The emulated API. Thread-safe: the ledger's concurrency tests call it from many threads."""

    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: list[Callback] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    drop_callbacks: bool = False
    list_refunds: bool = True
    """Answer a charge with its refunds, as both real providers do; off: the refunded total only."""
    fault: Callable[[httpx.Request], httpx.Response | None] | None = None
    """Called before each request; return a response (or raise) to inject a failure."""

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    # -- HTTP ---------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(f"{request.method} {request.url.path}")
        if self.fault is not None:
            answer = self.fault(request)
            if answer is not None:
                return answer
        with self._lock:
            return self._answer(request)

    def process(self, request: httpx.Request) -> httpx.Response:
        """Answer without logging or faults (for a fault that lets the provider act first)."""
        with self._lock:
            return self._answer(request)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == "/charges":
            body = json.loads(request.content)
            charge = {
                "id": f"ch_{next(self._ids)}",
                "ref": body["ref"],
                "amount": body["amount"],
                "currency": body["currency"],
                "state": "action",
                "refunded": 0,
            }
            self.charges[charge["id"]] = charge
            self._emit("charge.updated", charge)
            return httpx.Response(201, json=charge)
        if request.method == "GET" and path == "/charges":
            ref = request.url.params.get("ref")
            found = [c for c in self.charges.values() if c["ref"] == ref]
            if not found:
                return httpx.Response(404, json={"error": "no such charge"})
            return httpx.Response(200, json=self._with_refunds(found[-1]))
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "charges" and parts[1] in self.charges:
            charge = self.charges[parts[1]]
            if request.method == "GET" and len(parts) == 2:
                return httpx.Response(200, json=self._with_refunds(charge))
            if request.method == "POST" and parts[2:] == ["refunds"]:
                body = json.loads(request.content)
                existing = [r for r in self.refunds.values() if r["ref"] == body["ref"]]
                if existing:
                    return httpx.Response(200, json=existing[0])
                if (
                    charge["state"] != "paid"
                    or charge["refunded"] + body["amount"] > charge["amount"]
                ):
                    return httpx.Response(422, json={"error": "refund exceeds the charge"})
                refund = self.refund(charge["id"], body["amount"], ref=body["ref"])
                return httpx.Response(200, json=refund)
        return httpx.Response(404, json={"error": "not found"})

    def _with_refunds(self, charge: Mapping[str, Any]) -> dict[str, Any]:
        if not self.list_refunds:
            return dict(charge)
        refunds = [dict(r) for r in self.refunds.values() if r["charge"] == charge["id"]]
        return {**charge, "refunds": refunds}

    # -- the simulated customer and back office ----------------------------------------------

    def _emit(self, kind: str, obj: Mapping[str, Any]) -> None:
        payload = {"id": f"evt_{next(self._ids)}", "type": kind, "data": dict(obj)}
        body = json.dumps(payload).encode()
        if not self.drop_callbacks:
            self.outbox.append(Callback(body, {SIGNATURE_HEADER: sign(body)}, payload["id"]))

    def set_state(self, charge_id: str, state: str) -> None:
        with self._lock:
            self.charges[charge_id]["state"] = state
            self._emit("charge.updated", self.charges[charge_id])

    def refund(self, charge_id: str, amount: int, *, ref: str | None = None) -> dict[str, Any]:
        """A refund made at the provider (its dashboard, or the API above)."""
        with self._lock:
            charge = self.charges[charge_id]
            refund = {
                "id": f"rf_{next(self._ids)}",
                "charge": charge_id,
                "ref": ref,
                "amount": amount,
                "currency": charge["currency"],
                "state": "succeeded",
            }
            self.refunds[refund["id"]] = refund
            charge["refunded"] += amount
            self._emit("refund.updated", refund)
            self._emit("charge.updated", charge)
            return refund

    def by_ref(self, ref: str) -> dict[str, Any]:
        return next(c for c in self.charges.values() if c["ref"] == ref)

    def count(self, entry: str) -> int:
        return sum(1 for r in self.requests if r == entry)


FAST = RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.002, jitter=0.0)


def gateway(api: LedgerPayApi, **settings: Any) -> Gateway:
    provider = LedgerPay.configure({"secret": SECRET, **settings}, name="ledgerpay")
    client = httpx.Client(transport=httpx.MockTransport(api))
    return Gateway(providers={"ledgerpay": provider}, http_client=client, retry=FAST)


def async_gateway(api: LedgerPayApi, **settings: Any) -> AsyncGateway:
    """:func:`gateway` for the async API: the same emulated LedgerPay behind an AsyncGateway."""
    provider = LedgerPay.configure({"secret": SECRET, **settings}, name="ledgerpay")
    client = httpx.AsyncClient(transport=httpx.MockTransport(api))
    return AsyncGateway(providers={"ledgerpay": provider}, http_client=client, retry=FAST)
