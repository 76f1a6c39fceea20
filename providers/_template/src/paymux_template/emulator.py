"""An emulator of Template Pay for ``paymux sandbox``: the API the plugin speaks, in memory.

Like a real provider it checks the API key, refuses what the API would refuse, answers a repeated
``Idempotency-Key`` with the first object, lets the sandbox's simulated customer pay, decline or
abandon, and sends every change as a signed webhook. Needs ``paymux[sandbox]`` (Starlette).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from paymux.errors import PaymuxError
from paymux.money import Money
from paymux.sandbox import Emulator, PendingPayment
from paymux.sandbox.emulator import CustomerAction

from .capabilities import capabilities
from .webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

Endpoint = Callable[[Request], Awaitable[Response]]

API_KEY = "tk_test_sandbox_template"
WEBHOOK_SECRET = "whsec_test_sandbox_template"
_OUTCOMES: dict[CustomerAction, tuple[str, str | None]] = {
    "pay": ("succeeded", None),
    "decline": ("failed", "declined"),
    "abandon": ("expired", "expired"),
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


class TemplateEmulator(Emulator):
    name = "template"

    def __init__(self, hub: Any) -> None:
        super().__init__(hub)
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    def provider_settings(self) -> dict[str, Any]:
        return {"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET, "base_url": self.base_url}

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _send(self, kind: str, data: dict[str, Any]) -> None:
        """A signed webhook for the object as it now is (one event id per change)."""
        body = json.dumps({"id": self._id("evt"), "type": kind, "data": data}).encode()
        stamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(WEBHOOK_SECRET.encode(), stamp, body),
            TIMESTAMP_HEADER: stamp,
        }
        self.hub.callbacks.submit(self.hub.merchant_url(self.name), body, headers)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/charges", self._authorised(self.create_charge), methods=["POST"]),
            Route("/charges", self._authorised(self.find_charges), methods=["GET"]),
            Route("/charges/{charge_id}", self._authorised(self.read_charge)),
            Route("/charges/{charge_id}/refunds", self._authorised(self.refund), methods=["POST"]),
            Route("/charges/{charge_id}/refunds", self._authorised(self.list_refunds)),
        ]

    def _authorised(self, endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {API_KEY}":
                return _error(401, "unauthorized", "unknown API key")
            try:
                return await endpoint(request)
            except (ValueError, KeyError, TypeError, PaymuxError):
                return _error(400, "invalid_request", "the body is not a valid request")

        return guarded

    # -- charges -----------------------------------------------------------------------------

    async def create_charge(self, request: Request) -> Response:
        data = json.loads(await request.body())
        reference, amount = str(data["reference"]), data["amount"]
        money = Money(amount, str(data["currency"]))
        capability = capabilities(self.name)[0]
        if data["method"] != capability.method or capability.range_for(money.currency) is None:
            return _error(400, "invalid_request", "unsupported method or currency")
        with self.lock:
            existing = next((c for c in self.charges.values() if c["reference"] == reference), None)
            if existing is not None:
                if existing["amount"] != amount or existing["currency"] != money.currency:
                    return _error(409, "reference_reused", "this reference has another charge")
                return JSONResponse(existing, 200)  # the first answer again (idempotent)
            charge_id = self._id("ch")
            charge: dict[str, Any] = {
                "id": charge_id,
                "reference": reference,
                "amount": amount,
                "currency": money.currency,
                "method": data["method"],
                "status": "pending",
                "refunded_amount": 0,
                "redirect_url": self.hub.customer_url(self.name, charge_id),
                "created_at": datetime.now(UTC).isoformat(),
            }
            self.charges[charge_id] = charge
            self.refunds[charge_id] = []

        def on_action(action: CustomerAction) -> None:
            with self.lock:
                charge["status"], charge["failure_code"] = _OUTCOMES[action]
                charge.pop("redirect_url", None)
                snapshot = dict(charge)
            self._send("charge.updated", snapshot)

        self.hub.register_payment(
            PendingPayment(
                provider=self.name,
                id=charge_id,
                amount=money,
                description=str(data.get("description") or reference),
                on_action=on_action,
                details={"method": data["method"]},
            )
        )
        return JSONResponse(charge, 201)

    async def read_charge(self, request: Request) -> Response:
        charge = self.charges.get(request.path_params["charge_id"])
        return JSONResponse(charge) if charge else _error(404, "not_found", "no such charge")

    async def find_charges(self, request: Request) -> Response:
        reference = request.query_params.get("reference")
        with self.lock:
            found = [c for c in self.charges.values() if c["reference"] == reference]
        return JSONResponse({"data": found})

    # -- refunds -----------------------------------------------------------------------------

    async def refund(self, request: Request) -> Response:
        data = json.loads(await request.body())
        amount, reference = data["amount"], str(data["reference"])
        with self.lock:
            charge = self.charges.get(request.path_params["charge_id"])
            if charge is None:
                return _error(404, "not_found", "no such charge")
            listed = self.refunds[charge["id"]]
            earlier = next((r for r in listed if r["reference"] == reference), None)
            if earlier is not None:
                return JSONResponse(earlier, 200)
            left = charge["amount"] - charge["refunded_amount"]
            if charge["status"] != "succeeded" or not 0 < amount <= left:
                return _error(400, "invalid_request", f"only a paid charge's {left} is refundable")
            refund = {
                "id": self._id("re"),
                "charge_id": charge["id"],
                "reference": reference,
                "amount": amount,
                "currency": charge["currency"],
                "status": "succeeded",
                "created_at": datetime.now(UTC).isoformat(),
            }
            listed.append(refund)
            charge["refunded_amount"] += amount
            snapshot = dict(refund)
        self._send("refund.updated", snapshot)
        return JSONResponse(refund, 201)

    async def list_refunds(self, request: Request) -> Response:
        listed = self.refunds.get(request.path_params["charge_id"])
        if listed is None:
            return _error(404, "not_found", "no such charge")
        return JSONResponse({"data": list(listed)})
