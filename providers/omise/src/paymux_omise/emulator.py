"""A loopback emulator of the Omise API for KakaoPay, for ``paymux sandbox`` and tests.

It answers like the real API where paymux and the official client look: Basic auth with the key as
user name, JSON (or bracket form) bodies, Omise-shaped objects and errors, an ``authorize_uri``
page, ``/search`` over metadata, refunds, and ``charge.complete`` / ``refund.create`` webhooks
signed the way Omise signs them. Needs the ``paymux[sandbox]`` extra.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import math
import random
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from paymux.money import Money
from paymux.sandbox import Emulator, PendingPayment
from paymux.sandbox.emulator import CustomerAction

from .emulator_knobs import AnswerLost, OmiseKnobs, WriteEndpoint, when, words
from .webhooks import sign

SECRET_KEY = "skey_test_sandbox"
PUBLIC_KEY = "pkey_test_sandbox"
WEBHOOK_SECRET = base64.b64encode(b"paymux-sandbox-webhook-secret").decode()

# The emulator keeps its own copy of Opn's KakaoPay limits (seed 004) rather than reading the
# plugin's: a wrong limit in the plugin should show up as a disagreement, not be mirrored.
LIMITS = {"SGD": (100, 2_000_000), "THB": (2_000, 15_000_000)}

_ERRORS = {
    "authentication_failure": (401, "authentication failed"),
    "not_found": (404, "{what} was not found"),
    "bad_request": (400, "{what}"),
    "invalid_charge": (400, "{what}"),
    "failed_refund": (400, "{what}"),
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(code: str, what: str = "") -> JSONResponse:
    status, template = _ERRORS[code]
    return JSONResponse(
        {
            "object": "error",
            "location": f"https://www.omise.co/api-errors#{code.replace('_', '-')}",
            "code": code,
            "message": template.format(what=what),
        },
        status,
    )


def _form_to_nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``source[type]=kakaopay`` -> ``{"source": {"type": "kakaopay"}}`` (the docs' curl style)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data
    return _form_to_nested(parse_qsl(raw.decode(), keep_blank_values=True))


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int):
        return value
    raise ValueError(f"{name} must be an integer")


class OmiseEmulator(Emulator):
    name = "omise"

    def __init__(self, hub: Any) -> None:
        super().__init__(hub)
        self.charges: dict[str, dict[str, Any]] = {}
        self.sources: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.knobs = OmiseKnobs()
        self.fault_counts: dict[str, int] = {}
        """What the knobs did: ``answer_lost:<endpoint>``, ``refund_declined``, ``refund_late``,
        ``search_lag_hidden`` (a search answered while a matching charge was still hidden)."""
        self._seq = itertools.count(1)
        self._indexed_at: dict[str, float] = {}
        self._random = random.Random()

    def provider_settings(self) -> dict[str, Any]:
        return {
            "public_key": PUBLIC_KEY,
            "secret_key": SECRET_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "base_url": self.base_url,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "charges": len(self.charges),
            "public_key": PUBLIC_KEY,
            "faults": dict(self.fault_counts),
        }

    def tune(self, **values: Any) -> None:
        """Set knobs by name, e.g. ``tune(search_lag=3.0, lose_answers={"charges": 1})``."""
        with self.lock:
            for name, value in values.items():
                if not hasattr(self.knobs, name):
                    raise ValueError(f"unknown Omise emulator knob {name!r}")
                setattr(self.knobs, name, value)
            if "seed" in values:
                self._random = random.Random(self.knobs.seed)

    def configure(self, *, seed: int | None = None, **knobs: Any) -> None:
        """The same as :meth:`tune`, under the name the ECommPay emulator uses."""
        self.tune(**knobs, **({"seed": seed} if seed is not None else {}))

    def books(self) -> dict[str, dict[str, Any]]:
        """A copy of every charge the emulator holds (refunds embedded), by charge id: what
        Omise's own records would say, for comparison with the merchant's ledger."""
        with self.lock:
            return copy.deepcopy(self.charges)

    # -- knobs ---------------------------------------------------------------------------------

    def _count(self, what: str) -> None:
        self.fault_counts[what] = self.fault_counts.get(what, 0) + 1

    def _chance(self, probability: float) -> bool:
        return probability > 0 and self._random.random() < probability

    def _answer(self, endpoint: WriteEndpoint, answer: Response) -> Response:
        """``answer``, unless a knob says it is lost (the emulator has already acted)."""
        with self.lock:
            left = self.knobs.lose_answers.get(endpoint, 0)
            if left > 0:
                self.knobs.lose_answers[endpoint] = left - 1
            elif not self._chance(self.knobs.answer_lost_rate):
                return answer
            self._count(f"answer_lost:{endpoint}")
        return AnswerLost()

    def _refund_declined(self) -> bool:
        with self.lock:
            if self.knobs.decline_refunds > 0:
                self.knobs.decline_refunds -= 1
            elif not self._chance(self.knobs.refund_decline_rate):
                return False
            self._count("refund_declined")
            return True

    # -- helpers -------------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._seq):05d}{secrets.token_hex(6)}"

    def _key(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, _ = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user

    def _authorised(self, request: Request, *, public_ok: bool = False) -> bool:
        key = self._key(request)
        return key == SECRET_KEY or (public_ok and key == PUBLIC_KEY)

    def _webhook(self, key: str, data: dict[str, Any]) -> None:
        event = {
            "object": "event",
            "id": self._id("evnt"),
            "livemode": False,
            "key": key,
            "created_at": _now(),
            "data": json.loads(json.dumps(data)),
        }
        event["location"] = f"/events/{event['id']}"
        with self.lock:
            self.events[event["id"]] = event
        body = json.dumps(event).encode()
        stamp = str(int(time.time()))
        signature = sign(base64.b64decode(WEBHOOK_SECRET), stamp, body)
        self.hub.callbacks.submit(
            self.hub.merchant_url(self.name),
            body,
            {
                "content-type": "application/json",
                "omise-signature": signature,
                "omise-signature-timestamp": stamp,
            },
        )

    def _validate_amount(self, amount: int, currency: str) -> str | None:
        if currency not in LIMITS:
            return f"currency {currency} is not supported for kakaopay"
        low, high = LIMITS[currency]
        if not low <= amount <= high:
            return f"amount must be between {low} and {high}"
        return None

    def _source(self, data: dict[str, Any]) -> dict[str, Any]:
        source = {
            "object": "source",
            "id": self._id("src"),
            "livemode": False,
            "type": data.get("type"),
            "flow": "app_redirect",
            "amount": _int(data.get("amount"), "amount"),
            "currency": str(data.get("currency", "")).upper(),
            "platform_type": str(data.get("platform_type") or "WEB").upper(),
            "charge_status": "unknown",
            "scannable_code": None,
            "references": None,
            "created_at": _now(),
        }
        source["location"] = f"/sources/{source['id']}"
        return source

    def _finish(self, charge_id: str, action: CustomerAction) -> None:
        with self.lock:
            charge = self.charges[charge_id]
            if action == "pay":
                charge.update(
                    status="successful",
                    paid=True,
                    authorized=True,
                    captured=True,
                    paid_at=_now(),
                    refundable=True,
                    partially_refundable=True,
                    transaction=self._id("trxn"),
                )
            elif action == "decline":
                charge.update(
                    status="failed",
                    failure_code="payment_rejected",
                    failure_message="payment was rejected by the provider",
                )
            else:
                charge.update(status="expired", expired=True, expired_at=_now())
            charge["source"]["charge_status"] = charge["status"]
        self._webhook("charge.complete", charge)

    # -- routes --------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/sources", self.create_source, methods=["POST"]),
            Route("/sources/{source_id}", self.get_source, methods=["GET"]),
            Route("/charges", self.create_charge, methods=["POST"]),
            Route("/charges", self.list_charges, methods=["GET"]),
            Route("/charges/{charge_id}", self.get_charge, methods=["GET"]),
            Route("/charges/{charge_id}/refunds", self.create_refund, methods=["POST"]),
            Route("/charges/{charge_id}/refunds/{refund_id}", self.get_refund, methods=["GET"]),
            Route("/events/{event_id}", self.get_event, methods=["GET"]),
            Route("/search", self.search, methods=["GET"]),
            Route("/payments/{charge_id}/authorize", self.authorize, methods=["GET"]),
        ]

    async def create_source(self, request: Request) -> Response:
        if not self._authorised(request, public_ok=True):
            return _error("authentication_failure")
        try:
            data = await _body(request)
            source = self._source(data)
        except ValueError as exc:
            return _error("bad_request", str(exc))
        if source["type"] != "kakaopay":
            return _error("bad_request", f"type {source['type']} is not supported by this sandbox")
        problem = self._validate_amount(source["amount"], source["currency"])
        if problem:
            return _error("bad_request", problem)
        with self.lock:
            self.sources[source["id"]] = source
        return self._answer("sources", JSONResponse(source))

    async def get_source(self, request: Request) -> Response:
        if not self._authorised(request, public_ok=True):
            return _error("authentication_failure")
        source = self.sources.get(request.path_params["source_id"])
        return JSONResponse(source) if source else _error("not_found", "source")

    async def create_charge(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error("authentication_failure")
        try:
            data = await _body(request)
            amount = _int(data.get("amount"), "amount")
            currency = str(data.get("currency", "")).upper()
        except ValueError as exc:
            return _error("bad_request", str(exc))
        return_uri = str(data.get("return_uri") or "")
        if not return_uri.startswith("https://"):
            return _error("invalid_charge", "return_uri must be an HTTPS URL")
        raw_source = data.get("source")
        with self.lock:
            if isinstance(raw_source, str):
                source = self.sources.get(raw_source)
                if source is None:
                    return _error("invalid_charge", "source was not found")
                if source["charge_status"] != "unknown":
                    return _error("invalid_charge", "source was already used")
                if source["amount"] != amount or source["currency"] != currency:
                    return _error("invalid_charge", "amount and currency must match the source's")
            elif isinstance(raw_source, dict):
                try:
                    source = self._source({**raw_source, "amount": amount, "currency": currency})
                except ValueError as exc:
                    return _error("bad_request", str(exc))
                if source["type"] != "kakaopay":
                    return _error("invalid_charge", "source type is not supported by this sandbox")
                self.sources[source["id"]] = source
            else:
                return _error("invalid_charge", "a source is required")
            problem = self._validate_amount(amount, currency)
            if problem:
                return _error("invalid_charge", problem)
            source["charge_status"] = "pending"
            charge_id = self._id("chrg")
            metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
            charge: dict[str, Any] = {
                "object": "charge",
                "id": charge_id,
                "livemode": False,
                "location": f"/charges/{charge_id}",
                "amount": amount,
                "currency": currency,
                "description": data.get("description"),
                "metadata": metadata,
                "status": "pending",
                "capture": True,
                "authorized": False,
                "reversed": False,
                "paid": False,
                "expired": False,
                "voided": False,
                "refundable": False,
                "partially_refundable": False,
                "refunded_amount": 0,
                "transaction": None,
                "failure_code": None,
                "failure_message": None,
                "authorize_uri": f"{self.base_url}/payments/{charge_id}/authorize",
                "return_uri": return_uri,
                "ip": data.get("ip"),
                "source": source,
                "refunds": {
                    "object": "list",
                    "data": [],
                    "limit": 20,
                    "offset": 0,
                    "total": 0,
                    "location": f"/charges/{charge_id}/refunds",
                },
                "created_at": _now(),
                "expires_at": (datetime.now(UTC) + timedelta(days=7)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "paid_at": None,
                "expired_at": None,
            }
            self.charges[charge_id] = charge
            self._indexed_at[charge_id] = time.monotonic() + self.knobs.search_lag
        self.hub.register_payment(
            PendingPayment(
                provider=self.name,
                id=charge_id,
                amount=Money(amount, currency),
                description=str(data.get("description") or "KakaoPay payment"),
                on_action=lambda action: self._finish(charge_id, action),
                details={
                    "method": "KakaoPay (Omise)",
                    "return_url": return_uri,
                    "platform": source["platform_type"],
                },
            )
        )
        return self._answer("charges", JSONResponse(charge))

    async def get_charge(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error("authentication_failure")
        charge = self.charges.get(request.path_params["charge_id"])
        return JSONResponse(charge) if charge else _error("not_found", "charge")

    async def search(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error("authentication_failure")
        params = request.query_params
        query = params.get("query", "")
        if params.get("scope") != "charge":
            return _error("bad_request", "this sandbox searches the charge scope only")
        try:
            page = max(1, _int(params.get("page", "1"), "page"))
            per_page = min(100, max(1, _int(params.get("per_page", "0"), "per_page")))
        except ValueError as exc:
            return _error("bad_request", str(exc))
        if "per_page" not in params:
            per_page = self.knobs.per_page
        wanted = words(query)
        now = time.monotonic()
        with self.lock:
            found, hidden = [], 0
            for charge in self.charges.values():
                # Whole words, any case, in the id, description and metadata values.
                text = " ".join(
                    [charge["id"], str(charge.get("description") or "")]
                    + [str(v) for v in charge["metadata"].values()]
                )
                if not wanted or not wanted <= words(text):
                    continue
                if self._indexed_at.get(charge["id"], 0.0) > now:
                    hidden += 1
                    continue
                found.append(charge)
            if hidden:
                self._count("search_lag_hidden")
            found.sort(
                key=lambda c: c["created_at"], reverse=params.get("order") != "chronological"
            )
            # Copies of the page only: a busy emulator holds thousands of charges.
            page_items = copy.deepcopy(found[(page - 1) * per_page : page * per_page])
        total_pages = math.ceil(len(found) / per_page)
        return JSONResponse(
            {
                "object": "search",
                "order": params.get("order") or "chronological",
                "scope": "charge",
                "query": query,
                "filters": {},
                "page": page,
                "per_page": per_page,
                "total": len(found),
                "total_pages": total_pages,
                "data": page_items,
                "location": "/search",
                "export": None,
            }
        )

    async def list_charges(self, request: Request) -> Response:
        """``GET /charges``: every charge created in ``from``..``to``, ``limit`` from ``offset``.

        The official client sends these parameters as a JSON body even on GET; both are read.
        """
        if not self._authorised(request):
            return _error("authentication_failure")
        try:
            params: dict[str, Any] = {**(await _body(request)), **request.query_params}
            offset = _int(params.get("offset", 0), "offset")
            limit = min(100, max(1, _int(params.get("limit", 20), "limit")))
        except ValueError as exc:
            return _error("bad_request", str(exc))
        since, until = when(params.get("from")), when(params.get("to"))
        order = params.get("order") or "chronological"
        with self.lock:
            window = [
                c
                for c in self.charges.values()
                if (since is None or (when(c["created_at"]) or since) >= since)
                and (until is None or (when(c["created_at"]) or until) <= until)
            ]
            window.sort(key=lambda c: c["created_at"], reverse=order == "reverse_chronological")
            page_items = copy.deepcopy(window[offset : offset + limit])
        return JSONResponse(
            {
                "object": "list",
                "data": page_items,
                "limit": limit,
                "offset": offset,
                "total": len(window),
                "location": "/charges",
                "order": order,
                "from": params.get("from") or "1970-01-01T00:00:00Z",
                "to": params.get("to") or _now(),
            }
        )

    async def create_refund(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error("authentication_failure")
        try:
            data = await _body(request)
            amount = _int(data.get("amount"), "amount")
        except ValueError as exc:
            return _error("bad_request", str(exc))
        with self.lock:
            charge = self.charges.get(request.path_params["charge_id"])
            if charge is None:
                return _error("not_found", "charge")
            pending = sum(
                r["amount"] for r in charge["refunds"]["data"] if r["status"] == "pending"
            )
            left = charge["amount"] - charge["refunded_amount"] - pending
            if charge["status"] != "successful" or not charge["refundable"]:
                return _error("failed_refund", "charge is not refundable")
            if not 0 < amount <= left:
                return _error("failed_refund", f"refund amount must be between 1 and {left}")
            if self._refund_declined():
                return _error("failed_refund", "the refund was declined")
            late = self.knobs.refund_delay > 0
            refund_id = self._id("rfnd")
            refund = {
                "object": "refund",
                "id": refund_id,
                "livemode": False,
                "location": f"/charges/{charge['id']}/refunds/{refund_id}",
                "amount": amount,
                "currency": charge["currency"],
                "charge": charge["id"],
                # Closed at once below unless the refund_delay knob keeps it pending.
                "status": "pending",
                "voided": False,
                "transaction": self._id("trxn"),
                "metadata": data.get("metadata") if isinstance(data.get("metadata"), dict) else {},
                "created_at": _now(),
            }
            charge["refunds"]["data"].append(refund)
            charge["refunds"]["total"] += 1
            answer = copy.deepcopy(refund)
            if late:
                self._count("refund_late")
                timer = threading.Timer(
                    self.knobs.refund_delay, self._close_refund, (charge["id"], refund_id)
                )
                timer.daemon = True
                timer.start()
        if not late:
            answer = self._close_refund(charge["id"], refund_id)
        return self._answer("refunds", JSONResponse(answer))

    def _close_refund(self, charge_id: str, refund_id: str) -> dict[str, Any]:
        with self.lock:
            charge = self.charges[charge_id]
            refund: dict[str, Any] = next(
                r for r in charge["refunds"]["data"] if r["id"] == refund_id
            )
            if refund["status"] == "closed":
                return copy.deepcopy(refund)
            refund["status"] = "closed"
            charge["refunded_amount"] += refund["amount"]
            charge["refundable"] = charge["partially_refundable"] = (
                charge["refunded_amount"] < charge["amount"]
            )
            closed = copy.deepcopy(refund)
        self._webhook("refund.create", closed)
        return closed

    def close_late_refunds(self) -> int:
        """Close every pending refund now (instead of waiting for ``refund_delay``)."""
        with self.lock:
            due = [
                (c["id"], r["id"])
                for c in self.charges.values()
                for r in c["refunds"]["data"]
                if r["status"] == "pending"
            ]
        for charge_id, refund_id in due:
            self._close_refund(charge_id, refund_id)
        return len(due)

    async def get_refund(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error("authentication_failure")
        charge = self.charges.get(request.path_params["charge_id"])
        refunds = charge["refunds"]["data"] if charge else []
        refund = next((r for r in refunds if r["id"] == request.path_params["refund_id"]), None)
        return JSONResponse(refund) if refund else _error("not_found", "refund")

    async def get_event(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error("authentication_failure")
        event = self.events.get(request.path_params["event_id"])
        return JSONResponse(event) if event else _error("not_found", "event")

    async def authorize(self, request: Request) -> Response:
        charge_id = request.path_params["charge_id"]
        if charge_id not in self.charges:
            return _error("not_found", "payment")
        # Opn's page: the wallet app on a phone, a QR to scan on a desktop; here, the customer page.
        return RedirectResponse(self.hub.customer_url(self.name, charge_id), 303)
