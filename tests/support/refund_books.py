"""Provider books for refund tests: the real ECommPay and Omise plugins talk to these over an
``httpx.MockTransport``.

Each keeps what the provider would hold (payments, refund operations, callbacks not delivered
yet) and can be told what happens to the next refund request:

* ``ok``: accepted and done; its callback waits in ``outbox`` until the test delivers it.
* ``decline``: ECommPay accepts it and declines it later (code 20000, as in the seeds);
  Omise refuses it at once (``failed_refund``).
* ``lost_before``: the connection dies after the request was sent, before the provider read it
  (a read timeout): nothing happened at the provider.
* ``lost_after``: the provider did the refund, then the answer was lost.

Shapes follow ``../shared/reference`` (ECommPay §2.4, §2.5, §3.2; Omise §3 and the official
fixtures' charge/refund objects) and the seeds' refund callbacks.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from paymux_ecommpay import sign
from paymux_omise.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from paymux_omise.webhooks import sign as omise_sign

Fate = str  # "ok" | "decline" | "lost_before" | "lost_after"

PROJECT_ID = 210
OMISE_WEBHOOK_SECRET = base64.b64encode(b"refund-books-webhook-secret").decode()
SECRET_KEY = "paymux-refund-books-secret"
OMISE_SECRET = "skey_test_refundbooks"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class _Books:
    """The fates queue shared by both fakes."""

    def __init__(self) -> None:
        self.fates: list[Fate] = []
        self.outbox: list[Delivery] = []
        self._ids = itertools.count(1)

    def next_fate(self) -> Fate:
        return self.fates.pop(0) if self.fates else "ok"

    def refunded(self, charge_id: str) -> int:
        raise NotImplementedError


# -- ECommPay ----------------------------------------------------------------------------------


@dataclass
class _Payment:
    id: str
    amount: int
    currency: str
    operations: list[dict[str, Any]] = field(default_factory=list)
    refund_ids: set[str] = field(default_factory=set)

    @property
    def refunded(self) -> int:
        return sum(
            op["sum_initial"]["amount"]
            for op in self.operations
            if op["type"] == "refund" and op["status"] == "success"
        )

    @property
    def status(self) -> str:
        if self.refunded == 0:
            return "success"
        return "refunded" if self.refunded >= self.amount else "partially refunded"


class EcommpayBooks(_Books):
    """The Gate's side of paid KakaoPay payments: refunds, the status answer, callbacks."""

    def __init__(self) -> None:
        super().__init__()
        self.payments: dict[str, _Payment] = {}
        self.references: dict[str, str] = {}
        """request_id -> merchant_refund_id: the Gate's own books (its status answer lists
        operations without the merchant's refund id)."""

    def settings(self, **overrides: Any) -> dict[str, Any]:
        return {"project_id": PROJECT_ID, "secret_key": SECRET_KEY, **overrides}

    def refunded(self, charge_id: str) -> int:
        return self.payments[charge_id].refunded

    def succeeded(self, charge_id: str) -> list[tuple[str, int]]:
        """(merchant refund reference, amount) of each successful refund."""
        return sorted(
            (self.references[op["request_id"]], op["sum_initial"]["amount"])
            for op in self.payments[charge_id].operations
            if op["type"] == "refund" and op["status"] == "success"
        )

    def _signed(self, body: dict[str, Any]) -> bytes:
        body = json.loads(json.dumps(body))
        body["signature"] = sign(body, SECRET_KEY)
        return json.dumps(body).encode()

    def _payment_object(self, payment: _Payment, **extra: Any) -> dict[str, Any]:
        return {
            "id": payment.id,
            "type": "purchase",
            "status": payment.status,
            "date": _now(),
            "method": "kakaopay",
            # After refunds the Gate states what is left of the payment.
            "sum": {"amount": payment.amount - payment.refunded, "currency": payment.currency},
            "description": "refund books",
            **extra,
        }

    def _operation(
        self, kind: str, status: str, amount: int, currency: str, request_id: str
    ) -> dict[str, Any]:
        code, message = {"success": ("0", "Success"), "decline": ("20000", "General decline")}[
            status
        ]
        return {
            "id": next(self._ids),
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

    def pay(self, payment_id: str, amount: int, currency: str = "KRW") -> bytes:
        """A paid payment; returns its signed success callback."""
        payment = _Payment(payment_id, amount, currency)
        sale = self._operation("sale", "success", amount, currency, f"sale-{payment_id}")
        payment.operations.append(sale)
        self.payments[payment_id] = payment
        return self._signed(
            {
                "project_id": PROJECT_ID,
                "payment": self._payment_object(payment),
                "operation": sale,
                "customer": {"id": "customer1"},
            }
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        path = request.url.path
        if path == "/v2/payment/status":
            return self._status(body["general"]["payment_id"])
        if path.endswith("/refund"):
            return self._refund(request, body)
        return httpx.Response(404, json={"status": "error", "code": "702", "message": path})

    def _status(self, payment_id: str) -> httpx.Response:
        payment = self.payments.get(payment_id)
        if payment is None:
            return httpx.Response(
                200,
                json={
                    "payment": {"status": "error"},
                    "errors": [{"code": "3061", "message": "Transaction not found"}],
                },
            )
        answer = {
            "project_id": PROJECT_ID,
            "payment": self._payment_object(payment),
            "operations": list(payment.operations),
            "customer": {"id": "customer1"},
        }
        return httpx.Response(200, content=self._signed(answer))

    def _refund(self, request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        fate = self.next_fate()
        if fate == "lost_before":
            raise httpx.ReadTimeout("the Gate never read it", request=request)
        payment_id = body["general"]["payment_id"]
        payment = self.payments[payment_id]
        details = body["payment"]
        reference = str(details["merchant_refund_id"])
        if reference in payment.refund_ids:
            return self._error("3230", "The operation with such merchant_refund_id already exists")
        amount = details.get("amount", payment.amount - payment.refunded)
        if amount > payment.amount - payment.refunded:
            return self._error("3283", "Refund amount more than init amount")
        payment.refund_ids.add(reference)
        request_id = f"rq{next(self._ids):06d}-00000001"
        status = "decline" if fate == "decline" else "success"
        operation = self._operation("refund", status, amount, payment.currency, request_id)
        self.references[request_id] = reference
        payment.operations.append(operation)
        self.outbox.append(
            Delivery(
                self._signed(
                    {
                        "project_id": PROJECT_ID,
                        "payment": self._payment_object(payment, merchant_refund_id=reference),
                        "operation": operation,
                        "customer": {"id": "customer1"},
                    }
                ),
                {"content-type": "application/json"},
            )
        )
        if fate == "lost_after":
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return httpx.Response(
            200,
            json={
                "status": "success",
                "request_id": request_id,
                "project_id": PROJECT_ID,
                "payment_id": payment_id,
            },
        )

    def refund_at_gate(self, payment_id: str, amount: int, reference: str) -> Delivery:
        """A refund made in ECommPay's dashboard; returns its callback."""
        self.fates = ["ok"]
        body = {
            "general": {"project_id": PROJECT_ID, "payment_id": payment_id},
            "payment": {"amount": amount, "currency": "KRW", "merchant_refund_id": reference},
        }
        request = httpx.Request("POST", "https://gate.test/v2/payment/wallet/kakaopay/refund")
        self._refund(request, body)
        return self.outbox.pop()

    def _error(self, code: str, message: str) -> httpx.Response:
        return httpx.Response(400, json={"status": "error", "code": code, "message": message})


# -- Omise -------------------------------------------------------------------------------------


class OmiseBooks(_Books):
    """Omise's side of paid card charges: refunds (``closed`` at once), the charge with its
    embedded refund list, and ``refund.create`` events."""

    def __init__(self) -> None:
        super().__init__()
        self.charges: dict[str, dict[str, Any]] = {}

    def settings(self, **overrides: Any) -> dict[str, Any]:
        return {"secret_key": OMISE_SECRET, "country": "TH", **overrides}

    def refunded(self, charge_id: str) -> int:
        return int(self.charges[charge_id]["refunded_amount"])

    def succeeded(self, charge_id: str) -> list[tuple[str, int]]:
        """(merchant refund reference, amount) of each refund (Omise's refunds are closed)."""
        return sorted(
            (r["metadata"].get("paymux_reference"), r["amount"])
            for r in self.charges[charge_id]["refunds"]["data"]
        )

    def _event(self, data: dict[str, Any], key: str) -> Delivery:
        number = next(self._ids)
        event = {
            "object": "event",
            "id": f"evnt_test_books{number}",
            "livemode": False,
            "location": f"/events/evnt_test_books{number}",
            "key": key,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": data,
        }
        body = json.dumps(event).encode()
        stamp = str(int(time.time()))
        signature = omise_sign(base64.b64decode(OMISE_WEBHOOK_SECRET), stamp, body)
        return Delivery(
            body,
            {
                "content-type": "application/json",
                SIGNATURE_HEADER: signature,
                TIMESTAMP_HEADER: stamp,
            },
        )

    def pay(self, reference: str, amount: int, currency: str = "THB") -> tuple[str, Delivery]:
        """A paid charge; returns its id and its ``charge.complete`` event."""
        charge_id = f"chrg_test_books{next(self._ids)}"
        charge = {
            "object": "charge",
            "id": charge_id,
            "location": f"/charges/{charge_id}",
            "livemode": False,
            "amount": amount,
            "currency": currency.lower(),
            "status": "successful",
            "paid": True,
            "paid_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "card": {"object": "card", "id": "card_test_books", "brand": "Visa"},
            "source": None,
            "metadata": {"paymux_reference": reference},
            "refunded_amount": 0,
            "refundable": True,
            "partially_refundable": True,
            "voided": False,
            "refunds": {
                "object": "list",
                "data": [],
                "limit": 20,
                "offset": 0,
                "total": 0,
                "location": f"/charges/{charge_id}/refunds",
            },
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.charges[charge_id] = charge
        return charge_id, self._event(dict(charge), "charge.complete")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if parts[0] != "charges" or len(parts) < 2 or parts[1] not in self.charges:
            return _omise_error(404, "not_found", "charge was not found")
        charge = self.charges[parts[1]]
        if request.method == "GET" and len(parts) == 2:
            return httpx.Response(200, json=charge)
        if request.method == "GET" and len(parts) == 4 and parts[2] == "refunds":
            found = [r for r in charge["refunds"]["data"] if r["id"] == parts[3]]
            if found:
                return httpx.Response(200, json=found[0])
            return _omise_error(404, "not_found", "refund was not found")
        if request.method == "POST" and parts[2:] == ["refunds"]:
            return self._refund(request, charge)
        return _omise_error(404, "not_found", "no such path")

    def _refund(self, request: httpx.Request, charge: dict[str, Any]) -> httpx.Response:
        fate = self.next_fate()
        if fate == "lost_before":
            raise httpx.ReadTimeout("Omise never read it", request=request)
        body = _form_or_json(request)
        amount = int(body["amount"])
        if fate == "decline" or amount > charge["amount"] - charge["refunded_amount"]:
            return _omise_error(400, "failed_refund", "the refund failed")
        number = next(self._ids)
        refund = {
            "object": "refund",
            "id": f"rfnd_test_books{number}",
            "location": f"/charges/{charge['id']}/refunds/rfnd_test_books{number}",
            "livemode": False,
            "voided": False,
            "currency": charge["currency"],
            "amount": amount,
            "metadata": {
                k.removeprefix("metadata[").removesuffix("]"): v
                for k, v in body.items()
                if k.startswith("metadata")
            }
            if "metadata" not in body
            else body["metadata"],
            "charge": charge["id"],
            "transaction": f"trxn_test_books{number}",
            "status": "closed",
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        charge["refunds"]["data"].append(refund)
        charge["refunds"]["total"] += 1
        charge["refunded_amount"] += amount
        self.outbox.append(self._event(dict(refund), "refund.create"))
        if fate == "lost_after":
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return httpx.Response(200, json=refund)


def _form_or_json(request: httpx.Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        data = json.loads(request.content)
        assert isinstance(data, dict)
        return data
    from urllib.parse import parse_qsl

    return dict(parse_qsl(request.content.decode()))


def _omise_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "object": "error",
            "location": "https://www.omise.co/api-errors",
            "code": code,
            "message": message,
        },
    )
