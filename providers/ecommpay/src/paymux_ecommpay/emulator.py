"""A loopback emulator of ECommPay Gate for KakaoPay, Payco and card-partner.

Like the Gate, it checks the project id and each request's signature, answers synchronously only
"accepted" (or an error code), and reports everything else in signed callbacks: an intermediate one
saying what the customer must do (a QR code, a redirect to the wallet or card partner, or which
details are missing), then the final one; refunds likewise. Needs the ``paymux[sandbox]`` extra.
"""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from paymux.money import Money
from paymux.sandbox import Emulator, PendingPayment
from paymux.sandbox.emulator import CustomerAction

from .signing import sign, verify

PROJECT_ID = 210
SECRET_KEY = "paymux-sandbox-ecommpay-secret"

# The emulator's own reading of the seeds (methods, currencies, limits, refund rules), kept apart
# from the plugin's tables so that a mistake in one shows up as a disagreement with the other.
METHODS: dict[str, dict[str, Any]] = {
    "wallet/kakaopay": {
        "method": "kakaopay",
        "limits": {"KRW": (1, None)},
        "partial_refunds": True,
    },
    "wallet/payco": {"method": "payco", "limits": {"KRW": (1, None)}, "partial_refunds": True},
    "card-partner": {
        "method": "card-partner",
        "limits": {"KES": (1_000, 20_000_000), "USD": (100, 300_000)},
        "partial_refunds": False,
    },
}
DECLINE_CODES = {"card-partner": ("10000", "General decline")}
WALLET_DECLINE = ("20000", "General decline")
TIMEOUT_DECLINE = ("20602", "Time-out")


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class _Payment:
    id: str
    path: str
    amount: int
    currency: str
    customer: dict[str, Any]
    description: str
    callback_url: str
    return_url: dict[str, str]
    status: str = "processing"
    operations: list[dict[str, Any]] = field(default_factory=list)
    refund_ids: set[str] = field(default_factory=set)
    refunded: int = 0
    customer_step: dict[str, Any] = field(default_factory=dict)
    """The intermediate callback's display_data / redirect_data / clarification_fields."""

    @property
    def method(self) -> str:
        return str(METHODS[self.path]["method"])


class EcommpayEmulator(Emulator):
    name = "ecommpay"
    refund_callbacks = True

    def __init__(self, hub: Any) -> None:
        super().__init__(hub)
        self.payments: dict[str, _Payment] = {}
        self._operation_ids = itertools.count(1_000_000_000_001)

    def provider_settings(self) -> dict[str, Any]:
        return {
            "project_id": PROJECT_ID,
            "secret_key": SECRET_KEY,
            "base_url": self.base_url,
            "payment_page_url": f"{self.base_url}/payment-page",
            "callback_url": self.hub.merchant_url(self.name),
        }

    def describe(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "project_id": PROJECT_ID, "payments": len(self.payments)}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v2/payment/wallet/{wallet}/sale", self.sale, methods=["POST"]),
            Route("/v2/payment/card-partner/sale", self.sale, methods=["POST"]),
            Route("/v2/payment/wallet/{wallet}/refund", self.refund, methods=["POST"]),
            Route("/v2/payment/card-partner/refund", self.refund, methods=["POST"]),
            Route("/v2/payment/status", self.status, methods=["POST"]),
            Route("/v2/payment/clarification", self.clarification, methods=["POST"]),
            Route("/partner/{payment_id}", self.partner_page, methods=["GET", "POST"]),
        ]

    # -- the Gate's checks -------------------------------------------------------------------

    @staticmethod
    def _error(
        code: str, message: str, payment_id: Any = None, http_status: int = 400
    ) -> JSONResponse:
        return JSONResponse(
            {
                "status": "error",
                "code": code,
                "message": message,
                "request_id": secrets.token_hex(16),
                "project_id": PROJECT_ID,
                "payment_id": payment_id,
            },
            http_status,
        )

    async def _signed_body(self, request: Request) -> dict[str, Any] | JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._error("2003", "Invalid JSON string")
        if not isinstance(body, dict) or not isinstance(body.get("general"), dict):
            return self._error("2004", "Required field not provided: general")
        general = body["general"]
        if not general.get("signature"):
            return self._error("3262", "Empty signature", general.get("payment_id"))
        if general.get("project_id") != PROJECT_ID:
            return self._error("2442", "Project ID not found", general.get("payment_id"))
        if not verify(body, SECRET_KEY):
            return self._error("3261", "Invalid signature", general.get("payment_id"))
        if not isinstance(general.get("payment_id"), str) or not general["payment_id"]:
            return self._error("2004", "Required field not provided: general.payment_id")
        return body

    def _accepted(self, payment_id: str) -> tuple[JSONResponse, str]:
        request_id = f"{secrets.token_hex(20)}-{secrets.token_hex(20)}-00000001"
        return JSONResponse(
            {
                "status": "success",
                "request_id": request_id,
                "project_id": PROJECT_ID,
                "payment_id": payment_id,
            }
        ), request_id

    # -- callbacks ---------------------------------------------------------------------------

    def _operation(
        self,
        kind: str,
        status: str,
        amount: int,
        currency: str,
        request_id: str,
        code: str,
        message: str,
    ) -> dict[str, Any]:
        return {
            "id": next(self._operation_ids),
            "type": kind,
            "status": status,
            "date": _now(),
            "created_date": _now(),
            "request_id": request_id,
            "sum_initial": {"amount": amount, "currency": currency},
            "sum_converted": {"amount": amount, "currency": currency},
            "code": code,
            "message": message,
            "provider": {"id": 4242, "payment_id": "", "auth_code": ""},
        }

    def _payment_object(self, payment: _Payment) -> dict[str, Any]:
        return {
            "id": payment.id,
            "type": "purchase",
            "status": payment.status,
            "date": _now(),
            "method": payment.method,
            # After refunds the Gate states what is left of the payment.
            "sum": {"amount": payment.amount - payment.refunded, "currency": payment.currency},
            "description": payment.description,
        }

    def _callback(
        self, payment: _Payment, operation: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> None:
        body: dict[str, Any] = {
            "project_id": PROJECT_ID,
            "payment": self._payment_object(payment),
            "customer": {"id": payment.customer.get("id")},
            "operation": operation,
        }
        body.update(extra or {})
        # Merchant callbacks carry the signature at the top level.
        body["signature"] = sign(body, SECRET_KEY)
        self.hub.callbacks.submit(
            payment.callback_url, json.dumps(body).encode(), {"content-type": "application/json"}
        )

    def _customer_step(self, payment: _Payment, request_id: str) -> None:
        """The intermediate callback: what the customer must do next."""
        if payment.path == "card-partner" and not payment.customer.get("phone"):
            payment.status = "awaiting clarification"
            payment.customer_step = {"clarification_fields": {"customer": ["phone"]}}
            code = ("9999", "Awaiting processing")
        elif payment.path == "wallet/kakaopay":
            payment.status = "awaiting customer action"
            payment.customer_step = {
                "display_data": [
                    {
                        "type": "qr_img",
                        "title": "QR code",
                        "data": self.hub.customer_url(self.name, payment.id),
                    },
                    {"type": "add_info", "title": "expired_timestamp", "data": "600"},
                ]
            }
            code = ("9999", "Awaiting processing")
            self._register(payment)
        else:
            payment.status = "awaiting redirect result"
            form = {
                "oid": payment.id,
                "amount": str(payment.amount),
                "curr": payment.currency,
                "token": secrets.token_hex(8),
            }
            if payment.customer.get("phone"):
                form["tel"] = str(payment.customer["phone"])
            payment.customer_step = {
                "redirect_data": {
                    "method": "POST",
                    "url": f"{self.base_url}/partner/{payment.id}",
                    "body": form,
                    "encrypted": [],
                }
            }
            code = ("9999", "Awaiting processing")
            self._register(payment)
        operation = self._operation(
            "sale", payment.status, payment.amount, payment.currency, request_id, *code
        )
        self._callback(payment, operation, dict(payment.customer_step))

    def _register(self, payment: _Payment) -> None:
        self.hub.register_payment(
            PendingPayment(
                provider=self.name,
                id=payment.id,
                amount=Money(payment.amount, payment.currency),
                description=payment.description or f"Payment {payment.id}",
                on_action=lambda action: self._finish(payment.id, action),
                details={
                    "method": f"{payment.method} (ECommPay)",
                    "return_url": payment.return_url.get("success", ""),
                },
            )
        )

    def _finish(self, payment_id: str, action: CustomerAction) -> None:
        with self.lock:
            payment = self.payments[payment_id]
            payment.customer_step = {}
            if action == "pay":
                payment.status, code = "success", ("0", "Success")
            elif action == "decline":
                payment.status = "decline"
                code = DECLINE_CODES.get(payment.path, WALLET_DECLINE)
            else:
                # The customer walked away: the platform declines at the method's limit time.
                payment.status, code = "decline", TIMEOUT_DECLINE
            operation = self._operation(
                "sale",
                payment.status,
                payment.amount,
                payment.currency,
                secrets.token_hex(16),
                *code,
            )
            payment.operations.append(operation)
        self._callback(payment, operation)

    # -- endpoints -----------------------------------------------------------------------------

    async def sale(self, request: Request) -> Response:
        path = (
            "card-partner"
            if "card-partner" in request.url.path
            else f"wallet/{request.path_params['wallet']}"
        )
        body = await self._signed_body(request)
        if isinstance(body, JSONResponse):
            return body
        payment_id = body["general"]["payment_id"]
        if path not in METHODS:
            return self._error("2541", "Unknown Payment Method", payment_id)
        customer, payment = body.get("customer"), body.get("payment")
        if (
            not isinstance(payment, dict)
            or not isinstance(payment.get("amount"), int)
            or not payment.get("currency")
        ):
            return self._error(
                "2004", "Required field not provided: payment.amount, payment.currency", payment_id
            )
        if (
            not isinstance(customer, dict)
            or not customer.get("id")
            or not customer.get("ip_address")
        ):
            return self._error(
                "2004", "Required field not provided: customer.id, customer.ip_address", payment_id
            )
        return_url = _obj(body, "return_url")
        if path.startswith("wallet/") and not return_url.get("success"):
            return self._error("2004", "Required field not provided: return_url", payment_id)
        limits = METHODS[path]["limits"].get(payment["currency"])
        if limits is None:
            return self._error(
                "310", f"Operation not allowed: {payment['currency']} is not enabled", payment_id
            )
        low, high = limits
        if payment["amount"] < low or (high is not None and payment["amount"] > high):
            return self._error(
                "310", "Operation not allowed: amount outside the method's limits", payment_id
            )
        with self.lock:
            if payment_id in self.payments:
                return self._error("3041", "Payment ID already exists", payment_id)
            record = _Payment(
                id=payment_id,
                path=path,
                amount=payment["amount"],
                currency=payment["currency"],
                customer=dict(customer),
                description=str(payment.get("description") or ""),
                callback_url=str(
                    body["general"].get("merchant_callback_url") or self.hub.merchant_url(self.name)
                ),
                return_url={k: str(v) for k, v in return_url.items()},
            )
            self.payments[payment_id] = record
            response, request_id = self._accepted(payment_id)
            record.operations.append(
                self._operation(
                    "sale",
                    "processing",
                    record.amount,
                    record.currency,
                    request_id,
                    "9999",
                    "Awaiting processing",
                )
            )
            self._customer_step(record, request_id)
        return response

    async def clarification(self, request: Request) -> Response:
        body = await self._signed_body(request)
        if isinstance(body, JSONResponse):
            return body
        payment_id = body["general"]["payment_id"]
        with self.lock:
            payment = self.payments.get(payment_id)
            if payment is None:
                return self._error("3061", "Transaction not found", payment_id, 404)
            if payment.status != "awaiting clarification":
                return self._error(
                    "3060", "Current payment status does not allow this action", payment_id
                )
            given = _obj(body, "customer")
            if not given.get("phone"):
                return self._error(
                    "2004", "Required field not provided: customer.phone", payment_id
                )
            payment.customer.update(given)
            response, request_id = self._accepted(payment_id)
            self._customer_step(payment, request_id)
        return response

    async def refund(self, request: Request) -> Response:
        body = await self._signed_body(request)
        if isinstance(body, JSONResponse):
            return body
        payment_id = body["general"]["payment_id"]
        details = _obj(body, "payment")
        with self.lock:
            payment = self.payments.get(payment_id)
            if payment is None:
                return self._error("3061", "Transaction not found", payment_id, 404)
            # A repeated merchant_refund_id is recognised as a repeat first, whatever the
            # payment's status now is (a full refund has since moved it to "refunded").
            refund_id = str(details.get("merchant_refund_id") or "")
            if refund_id and refund_id in payment.refund_ids:
                return self._error(
                    "3230", "The operation with such merchant_refund_id already exists", payment_id
                )
            if payment.status not in ("success", "partially refunded"):
                return self._error(
                    "3060", "Current payment status does not allow this action", payment_id
                )
            left = payment.amount - payment.refunded
            amount = details.get("amount", left)
            if "amount" in details and details.get("currency") != payment.currency:
                return self._error("3284", "Refund currency mismatched or empty", payment_id)
            if not isinstance(amount, int) or not 0 < amount <= left:
                return self._error("3283", "Refund amount more than init amount", payment_id)
            if amount != payment.amount and not METHODS[payment.path]["partial_refunds"]:
                return self._error("310", "Operation not allowed: partial refunds", payment_id)
            if refund_id:
                payment.refund_ids.add(refund_id)
            payment.refunded += amount
            payment.status = (
                "refunded" if payment.refunded == payment.amount else "partially refunded"
            )
            response, request_id = self._accepted(payment_id)
            operation = self._operation(
                "refund", "success", amount, payment.currency, request_id, "0", "Success"
            )
            payment.operations.append(operation)
            extra = (
                {"payment": {**self._payment_object(payment), "merchant_refund_id": refund_id}}
                if refund_id
                else None
            )
        self._callback(payment, operation, extra)
        return response

    async def status(self, request: Request) -> Response:
        body = await self._signed_body(request)
        if isinstance(body, JSONResponse):
            return body
        payment_id = body["general"]["payment_id"]
        with self.lock:
            payment = self.payments.get(payment_id)
            if payment is None:
                return JSONResponse(
                    {
                        "payment": {"status": "error"},
                        "errors": [{"code": "3061", "message": "Transaction not found"}],
                    },
                    404,
                )
            answer: dict[str, Any] = {
                "project_id": PROJECT_ID,
                "payment": self._payment_object(payment),
                "customer": {"id": payment.customer.get("id")},
                "operations": list(payment.operations),
                "errors": [],
                **payment.customer_step,
            }
        answer["signature"] = sign(answer, SECRET_KEY)
        return JSONResponse(answer)

    async def partner_page(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        if payment_id not in self.payments:
            return JSONResponse({"error": "unknown payment"}, 404)
        # The wallet or card partner's own page; here the simulated customer's page.
        return RedirectResponse(self.hub.customer_url(self.name, payment_id), 303)
