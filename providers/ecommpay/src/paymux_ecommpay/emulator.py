"""A loopback emulator of ECommPay Gate for KakaoPay, Payco and card-partner.

Like the Gate, it checks the project id and each request's signature, answers synchronously only
"accepted" (or an error code), and reports everything else in signed callbacks: an intermediate one
saying what the customer must do (a QR code, a redirect to the wallet or card partner, or which
details are missing), then the final one; refunds likewise. It also serves the signed Payment Page
links paymux builds.

It signs and verifies with ECommPay's official SDK (:mod:`.emulator_sdk`), never with paymux's
signer, so a signing bug in paymux shows up as a refusal here. Needs the ``sandbox`` extra:
``pip install 'paymux-ecommpay[sandbox]'``.

Knobs (:class:`.emulator_books.Knobs`) steer the platform for tests and the fault campaign: the QR
code's form, refunds that complete late or are declined. :meth:`EcommpayEmulator.books` is what the
platform holds, to compare with the Ledger.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from paymux.money import Money
from paymux.sandbox import Emulator, PendingPayment
from paymux.sandbox.emulator import CustomerAction

from . import emulator_sdk as sdk
from .emulator_books import (
    BookedPayment,
    Dice,
    Knobs,
    PaymentRecord,
    RefundRecord,
    booked,
    check_overrides,
    qr_data,
)
from .emulator_page import page_error, read_page_link
from .emulator_tables import (
    ACCOUNT_HOLDER,
    ACCOUNT_NUMBER,
    AWAITING,
    CARD_PARTNER_CUSTOMER_FIELDS,
    DECLINE_CODES,
    METHODS,
    REFUND_DECLINE,
    TIMEOUT_DECLINE,
    WALLET_DECLINE,
    limits_error,
    loopback,
    new_request_id,
    now,
    obj,
)

PROJECT_ID = 210
SECRET_KEY = "paymux-sandbox-ecommpay-secret"


class EcommpayEmulator(Emulator):
    name = "ecommpay"
    refund_callbacks = True

    def __init__(self, hub: Any) -> None:
        sdk.require_sdk()
        super().__init__(hub)
        self.payments: dict[str, PaymentRecord] = {}
        self.knobs = Knobs()
        self._payment_knobs: dict[str, dict[str, Any]] = {}
        self._refund_knobs: dict[str, dict[str, Any]] = {}
        self._dice = Dice()
        self._held: list[tuple[str, RefundRecord]] = []
        self._operation_ids = itertools.count(1_000_000_000_001)

    # -- knobs and books (for tests and the fault campaign) ------------------------------------

    def configure(self, *, seed: int | None = None, **knobs: Any) -> None:
        """Change the defaults for every payment, e.g. ``configure(qr="png", refund_delay=0.5)``."""
        with self.lock:
            self.knobs = self.knobs.with_overrides(check_overrides(knobs))
            if seed is not None:
                self._dice = Dice(seed)

    def plan_payment(self, payment_id: str, **knobs: Any) -> None:
        """Knobs for one payment (before or after it is created), e.g. ``qr="png"``."""
        with self.lock:
            self._payment_knobs.setdefault(payment_id, {}).update(check_overrides(knobs))

    def plan_refund(self, merchant_refund_id: str, **knobs: Any) -> None:
        """Knobs for the refund with this ``merchant_refund_id`` (paymux's refund reference)."""
        with self.lock:
            self._refund_knobs.setdefault(merchant_refund_id, {}).update(check_overrides(knobs))

    def knobs_for(self, payment_id: str, merchant_refund_id: str = "") -> Knobs:
        with self.lock:
            knobs = self.knobs.with_overrides(self._payment_knobs.get(payment_id, {}))
            return knobs.with_overrides(self._refund_knobs.get(merchant_refund_id, {}))

    def books(self) -> dict[str, BookedPayment]:
        """What the platform holds: every payment with its refunds, amounts and statuses."""
        with self.lock:
            return {pid: booked(payment) for pid, payment in self.payments.items()}

    def settle_refunds(self, payment_id: str | None = None) -> int:
        """Complete the refunds held by ``refund_hold`` (all, or one payment's); how many."""
        with self.lock:
            due = [(p, r) for p, r in self._held if payment_id is None or p == payment_id]
            self._held = [item for item in self._held if item not in due]
        for pid, record in due:
            self._settle_refund(pid, record)
        return len(due)

    def write_paths(self) -> list[str]:
        """The sandbox paths of every write endpoint (e.g. for ``FaultPlan.drop_paths``)."""
        base = f"/{self.name}/v2/payment"
        paths = [f"{base}/{p}/{op}" for p in METHODS for op in ("sale", "refund")]
        return [*paths, f"{base}/clarification"]

    # -- the emulator contract -----------------------------------------------------------------

    def provider_settings(self) -> dict[str, Any]:
        return {
            "project_id": PROJECT_ID,
            "secret_key": SECRET_KEY,
            "base_url": self.base_url,
            "payment_page_url": f"{self.base_url}/payment-page",
            "callback_url": self.hub.merchant_url(self.name),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "project_id": PROJECT_ID,
            "payments": len(self.payments),
            "knobs": vars(self.knobs),
        }

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v2/payment/wallet/{wallet}/sale", self.sale, methods=["POST"]),
            Route("/v2/payment/card-partner/sale", self.sale, methods=["POST"]),
            Route("/v2/payment/wallet/{wallet}/refund", self.refund, methods=["POST"]),
            Route("/v2/payment/card-partner/refund", self.refund, methods=["POST"]),
            Route("/v2/payment/status", self.status, methods=["POST"]),
            Route("/v2/payment/clarification", self.clarification, methods=["POST"]),
            Route("/payment-page/payment", self.payment_page, methods=["GET"]),
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
                "request_id": new_request_id(),
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
        except ClientDisconnect:
            # The client gave up before sending the whole body: the Gate never saw the request.
            return self._error("702", "Malformed request")
        if not isinstance(body, dict) or not isinstance(body.get("general"), dict):
            return self._error("2004", "Required field not provided: general")
        general = body["general"]
        if not general.get("signature"):
            return self._error("3262", "Empty signature", general.get("payment_id"))
        if general.get("project_id") != PROJECT_ID:
            return self._error("2442", "Project ID not found", general.get("payment_id"))
        if not sdk.check_request(body, SECRET_KEY):
            return self._error("3261", "Invalid signature", general.get("payment_id"))
        if not isinstance(general.get("payment_id"), str) or not general["payment_id"]:
            return self._error("2004", "Required field not provided: general.payment_id")
        return body

    @staticmethod
    def _accepted(payment_id: str, request_id: str) -> JSONResponse:
        return JSONResponse(
            {
                "status": "success",
                "request_id": request_id,
                "project_id": PROJECT_ID,
                "payment_id": payment_id,
            }
        )

    # -- operations and callbacks ----------------------------------------------------------------

    def _operation(self, kind: str, amount: int, currency: str, request_id: str) -> dict[str, Any]:
        stamp = now()
        return {
            "id": next(self._operation_ids),
            "type": kind,
            "status": "processing",
            "date": stamp,
            "created_date": stamp,
            "request_id": request_id,
            "sum_initial": {"amount": amount, "currency": currency},
            "sum_converted": {"amount": amount, "currency": currency},
            "code": AWAITING[0],
            "message": AWAITING[1],
            "provider": {"id": 4242, "payment_id": "", "auth_code": ""},
        }

    @staticmethod
    def _advance(operation: dict[str, Any], status: str, code: tuple[str, str]) -> None:
        operation.update(status=status, date=now(), code=code[0], message=code[1])

    @staticmethod
    def _payment_object(payment: PaymentRecord) -> dict[str, Any]:
        return {
            "id": payment.id,
            "type": "purchase",
            "status": payment.status,
            "date": now(),
            "method": payment.method,
            # After refunds the Gate states what is left of the payment.
            "sum": {"amount": payment.amount - payment.refunded, "currency": payment.currency},
            "description": payment.description,
        }

    @staticmethod
    def _customer_object(payment: PaymentRecord) -> dict[str, Any]:
        return {"id": str(payment.customer.get("id") or "")}

    def _callback(
        self, payment: PaymentRecord, operation: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> None:
        body: dict[str, Any] = {
            "project_id": PROJECT_ID,
            "payment": self._payment_object(payment),
            "customer": self._customer_object(payment),
            "operation": json.loads(json.dumps(operation)),  # as it is now, not as it will be
        }
        body.update(extra or {})
        # Merchant callbacks carry the signature at the top level.
        body["signature"] = sdk.sign(body, SECRET_KEY)
        self.hub.callbacks.submit(
            payment.callback_url, json.dumps(body).encode(), {"content-type": "application/json"}
        )

    @staticmethod
    def _account() -> dict[str, Any]:
        return {"account": {"holder": ACCOUNT_HOLDER, "number": ACCOUNT_NUMBER}}

    def _customer_step(self, payment: PaymentRecord) -> None:
        """The intermediate callback: what the customer must do next."""
        missing = [
            name
            for name in CARD_PARTNER_CUSTOMER_FIELDS
            if payment.path == "card-partner" and not payment.customer.get(name)
        ]
        if missing:
            payment.status = "awaiting clarification"
            payment.customer_step = {"clarification_fields": {"customer": missing}}
        elif payment.path == "wallet/kakaopay":
            payment.status = "awaiting customer action"
            knobs = self.knobs_for(payment.id)
            url = self.hub.customer_url(self.name, payment.id)
            if knobs.qr_empty_first:
                # Seed 001's example: the same status, nothing to show yet; the QR follows.
                self._advance(payment.operation, payment.status, AWAITING)
                empty = {"type": "qr_img", "title": "QR code", "data": ""}
                self._callback(payment, payment.operation, {"display_data": [empty]})
            payment.customer_step = {
                "display_data": [
                    {"type": "qr_img", "title": "QR code", "data": qr_data(url, knobs.qr)},
                    {"type": "add_info", "title": "expired_timestamp", "data": "600"},
                ]
            }
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
            self._register(payment)
        self._advance(payment.operation, payment.status, AWAITING)
        self._callback(payment, payment.operation, dict(payment.customer_step))

    def _register(self, payment: PaymentRecord) -> None:
        self.hub.register_payment(
            PendingPayment(
                provider=self.name,
                id=payment.id,
                amount=Money(payment.amount, payment.currency),
                description=payment.description or f"Payment {payment.id}",
                on_action=lambda action: self._finish(payment.id, action),
                details={
                    "method": f"{payment.method} (ECommPay"
                    + (" Payment Page)" if payment.via_payment_page else ")"),
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
            self._advance(payment.operation, payment.status, code)
            self._callback(payment, payment.operation, self._account())

    # -- sales -----------------------------------------------------------------------------------

    def _new_payment(
        self,
        payment_id: str,
        path: str,
        amount: int,
        currency: str,
        customer: dict[str, Any],
        description: str,
        callback_url: str,
        return_url: dict[str, str],
    ) -> PaymentRecord:
        request_id = new_request_id()
        record = PaymentRecord(
            id=payment_id,
            path=path,
            method=str(METHODS[path]["method"]),
            amount=amount,
            currency=currency,
            customer=customer,
            description=description,
            callback_url=callback_url,
            return_url=return_url,
            request_id=request_id,
            operation=self._operation("sale", amount, currency, request_id),
        )
        self.payments[payment_id] = record
        return record

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
            or type(payment.get("amount")) is not int
            or not isinstance(payment.get("currency"), str)
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
        return_url = obj(body, "return_url")
        if path.startswith("wallet/") and not return_url.get("success"):
            return self._error("2004", "Required field not provided: return_url", payment_id)
        refused = limits_error(path, payment["amount"], payment["currency"])
        if refused is not None:
            return self._error(*refused, payment_id)
        with self.lock:
            if payment_id in self.payments:
                return self._error("3041", "Payment ID already exists", payment_id)
            record = self._new_payment(
                payment_id,
                path,
                payment["amount"],
                payment["currency"],
                dict(customer),
                str(payment.get("description") or ""),
                loopback(body["general"].get("merchant_callback_url"))
                or self.hub.merchant_url(self.name),
                {k: str(v) for k, v in return_url.items()},
            )
            self._customer_step(record)
            return self._accepted(payment_id, record.request_id)

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
            asked = obj(payment.customer_step, "clarification_fields").get("customer", [])
            given = obj(body, "customer")
            missing = [
                f"customer.{name}"
                for name in asked
                if not isinstance(given.get(name), str) or not given[name].strip()
            ]
            if missing:
                return self._error(
                    "2004", f"Required field not provided: {', '.join(missing)}", payment_id
                )
            payment.customer.update({name: given[name] for name in asked})
            # The clarification continues the sale operation: same request id throughout.
            self._customer_step(payment)
            return self._accepted(payment_id, payment.request_id)

    # -- refunds -----------------------------------------------------------------------------

    async def refund(self, request: Request) -> Response:
        body = await self._signed_body(request)
        if isinstance(body, JSONResponse):
            return body
        payment_id = body["general"]["payment_id"]
        details = obj(body, "payment")
        with self.lock:
            payment = self.payments.get(payment_id)
            if payment is None:
                return self._error("3061", "Transaction not found", payment_id, 404)
            # A repeated merchant_refund_id is recognised as a repeat first, whatever the
            # payment's status now is (a full refund has since moved it to "refunded").
            refund_id = details.get("merchant_refund_id") or ""
            if not isinstance(refund_id, str):
                return self._error("2004", "Invalid field: payment.merchant_refund_id", payment_id)
            if refund_id and refund_id in payment.refund_ids:
                return self._error(
                    "3230", "The operation with such merchant_refund_id already exists", payment_id
                )
            if payment.status not in ("success", "partially refunded"):
                return self._error(
                    "3060", "Current payment status does not allow this action", payment_id
                )
            # Refunds still in flight count: the platform will not promise the same money twice.
            left = payment.amount - payment.reserved
            amount = details.get("amount", left)
            if "amount" in details and details.get("currency") != payment.currency:
                return self._error("3284", "Refund currency mismatched or empty", payment_id)
            if type(amount) is not int or not 0 < amount <= left:
                return self._error("3283", "Refund amount more than init amount", payment_id)
            if amount != payment.amount and not METHODS[payment.path]["partial_refunds"]:
                return self._error("310", "Operation not allowed: partial refunds", payment_id)
            knobs = self.knobs_for(payment_id, refund_id)
            request_id = new_request_id()
            record = RefundRecord(
                request_id=request_id,
                merchant_refund_id=refund_id,
                amount=amount,
                operation=self._operation("refund", amount, payment.currency, request_id),
                declines=self._dice.roll(knobs.refund_decline),
            )
            payment.refunds.append(record)
            if knobs.refund_hold:
                self._held.append((payment_id, record))
            elif knobs.refund_delay > 0:
                timer = threading.Timer(
                    knobs.refund_delay, self._settle_refund, (payment_id, record)
                )
                timer.daemon = True
                timer.start()
            else:
                self._settle_refund(payment_id, record)
            return self._accepted(payment_id, request_id)

    def _settle_refund(self, payment_id: str, record: RefundRecord) -> None:
        with self.lock:
            payment = self.payments[payment_id]
            if record.status != "processing":
                return
            if record.declines:
                # The payment stays as it was (seed example: payment "success", sum unchanged).
                record.status = "decline"
                self._advance(record.operation, "decline", REFUND_DECLINE)
            else:
                record.status = "success"
                self._advance(record.operation, "success", ("0", "Success"))
                payment.status = (
                    "refunded" if payment.refunded == payment.amount else "partially refunded"
                )
            extra: dict[str, Any] = self._account()
            if record.merchant_refund_id:
                extra["payment"] = {
                    **self._payment_object(payment),
                    "merchant_refund_id": record.merchant_refund_id,
                }
            self._callback(payment, record.operation, extra)

    # -- reads -----------------------------------------------------------------------------------

    async def status(self, request: Request) -> Response:
        body = await self._signed_body(request)
        if isinstance(body, JSONResponse):
            return body
        payment_id = body["general"]["payment_id"]
        with self.lock:
            payment = self.payments.get(payment_id)
            if payment is None:
                # The Gate's form: HTTP 200, an error status and the code in ``errors``.
                return JSONResponse(
                    {
                        "payment": {"status": "error"},
                        "errors": [{"code": "3061", "message": "Transaction not found"}],
                    }
                )
            answer: dict[str, Any] = {
                "project_id": PROJECT_ID,
                "payment": self._payment_object(payment),
                "customer": self._customer_object(payment),
                # Every operation, refunds included, each with its own sum_initial.
                "operations": json.loads(json.dumps(payment.operations)),
                "errors": [],
                **payment.customer_step,
            }
        answer["signature"] = sdk.sign(answer, SECRET_KEY)
        return JSONResponse(answer)

    # -- pages the customer's browser opens ------------------------------------------------------

    async def partner_page(self, request: Request) -> Response:
        payment_id = request.path_params["payment_id"]
        if payment_id not in self.payments:
            return JSONResponse({"error": "unknown payment"}, 404)
        # The wallet or card partner's own page; here the simulated customer's page.
        return RedirectResponse(self.hub.customer_url(self.name, payment_id), 303)

    async def payment_page(self, request: Request) -> Response:
        """The hosted Payment Page: checks the link's signature, then starts the payment."""
        order = read_page_link(request.query_params.multi_items(), PROJECT_ID, SECRET_KEY)
        if isinstance(order, Response):
            return order
        with self.lock:
            if order.payment_id in self.payments:
                return page_error("3041", "Payment ID already exists")
            record = self._new_payment(
                order.payment_id,
                order.path,
                order.amount,
                order.currency,
                order.customer,
                order.description,
                loopback(order.callback_url) or self.hub.merchant_url(self.name),
                order.return_url,
            )
            record.via_payment_page = True
            record.status = (
                "awaiting customer action" if order.path == "wallet/kakaopay" else "processing"
            )
            self._advance(record.operation, record.status, AWAITING)
            self._register(record)
        return RedirectResponse(self.hub.customer_url(self.name, order.payment_id), 303)
