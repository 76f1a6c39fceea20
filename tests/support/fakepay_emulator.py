"""An emulator of the fakepay test API, to exercise the sandbox framework itself."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from paymux.money import Money
from paymux.sandbox import Emulator, PendingPayment
from paymux.sandbox.emulator import CustomerAction

API_KEY = "k_sandbox_fakepay"


class FakePayEmulator(Emulator):
    name = "fakepay"

    def __init__(self, hub: Any) -> None:
        super().__init__(hub)
        self.charges: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def provider_settings(self) -> dict[str, Any]:
        return {"api_key": API_KEY, "base_url": self.base_url}

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {API_KEY}"

    def _callback(self, charge: dict[str, Any]) -> None:
        body = json.dumps(charge).encode()
        signature = hmac.new(API_KEY.encode(), body, hashlib.sha256).hexdigest()
        self.hub.callbacks.submit(
            self.hub.merchant_url(self.name), body, {"x-signature": signature}
        )

    def routes(self) -> list[BaseRoute]:
        async def create(request: Request) -> Response:
            if not self._authorised(request):
                return JSONResponse({"error": "unauthorised"}, 401)
            data = json.loads(await request.body())
            with self.lock:
                charge_id = f"ch_{next(self._ids)}"
                charge = {
                    "id": charge_id,
                    "ref": data["ref"],
                    "amount": data["amount"],
                    "currency": data["currency"],
                    "method": data["method"],
                    "state": "qr",
                    "qr": self.hub.customer_url(self.name, charge_id),
                }
                self.charges[charge_id] = charge

            def on_action(action: CustomerAction) -> None:
                with self.lock:
                    charge["state"] = "paid" if action == "pay" else "declined"
                    charge.pop("qr", None)
                self._callback(charge)

            self.hub.register_payment(
                PendingPayment(
                    provider=self.name,
                    id=charge_id,
                    amount=Money(data["amount"], data["currency"]),
                    description=f"Order {data['ref']}",
                    on_action=on_action,
                    details={"method": data["method"]},
                )
            )
            return JSONResponse({"id": charge_id}, 201)

        async def read(request: Request) -> Response:
            if not self._authorised(request):
                return JSONResponse({"error": "unauthorised"}, 401)
            charge = self.charges.get(request.path_params["charge_id"])
            return JSONResponse(charge) if charge else JSONResponse({"error": "not_found"}, 404)

        return [Route("/charges", create, methods=["POST"]), Route("/charges/{charge_id}", read)]
