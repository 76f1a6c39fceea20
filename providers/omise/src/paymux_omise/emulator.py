"""A loopback emulator of the Omise API for KakaoPay, for ``paymux sandbox`` and tests.

It answers like the real API where paymux and the official client look: Basic auth with the key as
user name, JSON (or bracket form) bodies, objects with every field Omise's recorded answers have
(in the ``Omise-Version`` asked for), Omise's JSON error object for every refusal and unknown path,
an ``authorize_uri`` page, lists, ``/search``, refunds within KakaoPay's window, expiry, events,
``GET /capability``, and ``charge.complete`` / ``charge.expire`` / ``refund.create`` webhooks
signed the way Omise signs them. Needs the ``paymux[sandbox]`` extra.

Writes are here; the state, the shared helpers and the reads are in
:mod:`paymux_omise.emulator_reads`, the object shapes in :mod:`paymux_omise.emulator_objects`.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import random
import secrets
import threading
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from paymux.money import Money
from paymux.sandbox import PendingPayment
from paymux.sandbox.emulator import CustomerAction, Emulator

from .emulator_knobs import AnswerLost, OmiseKnobs, WriteEndpoint, when
from .emulator_objects import (
    API_VERSIONS,
    COUNTRY_CURRENCY,
    COUNTRY_METHODS,
    QR_TYPES,
    SEED_FAILURE_CODES,
    charge_object,
    error,
    event_object,
    not_found,
    refund_object,
    scannable_code,
    source_object,
    stamp,
    versioned,
)
from .emulator_qr import payload as qr_payload
from .emulator_qr import png as qr_png
from .emulator_reads import LIMITS, OmiseEmulatorState, body_of, integer
from .webhooks import sign

SECRET_KEY = "skey_test_sandbox"
PUBLIC_KEY = "pkey_test_sandbox"
# The Thai account next to the Singapore one: an Omise account is one country.
TH_SECRET_KEY = "skey_test_sandbox_th"
TH_PUBLIC_KEY = "pkey_test_sandbox_th"
WEBHOOK_SECRET = base64.b64encode(b"paymux-sandbox-webhook-secret").decode()

# What ``PATCH /charges/{id}`` may change.
_UPDATABLE = frozenset({"description", "metadata"})
_ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]

_METHOD_NAMES = {"kakaopay": "KakaoPay", "promptpay": "PromptPay", "paynow": "PayNow"}

__all__ = [
    "LIMITS",
    "PUBLIC_KEY",
    "SECRET_KEY",
    "TH_PUBLIC_KEY",
    "TH_SECRET_KEY",
    "WEBHOOK_SECRET",
    "OmiseEmulator",
    "OmiseKnobs",
    "OmiseThaiEmulator",
]


class OmiseEmulator(OmiseEmulatorState):
    def __init__(self, hub: Any) -> None:
        super().__init__(hub)
        self._seq = itertools.count(1)

    def keys(self) -> tuple[str, str]:
        # Read at call time, so a test can point the emulator at keys of its own.
        return SECRET_KEY, PUBLIC_KEY

    def sibling_accounts(self) -> list[Emulator]:
        """The Thai account, served next to this Singapore one (at ``/omise_th``)."""
        return [OmiseThaiEmulator(self.hub)]

    def provider_settings(self) -> dict[str, Any]:
        secret, public = self.keys()
        return {
            # Named after the plugin only when the provider's name is not the plugin's.
            **({"plugin": "omise"} if self.name != "omise" else {}),
            "public_key": public,
            "secret_key": secret,
            "country": self.knobs.country,
            "webhook_secret": WEBHOOK_SECRET,
            "base_url": self.base_url,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "country": self.knobs.country,
            "charges": len(self.charges),
            "public_key": self.keys()[1],
            "faults": dict(self.fault_counts),
        }

    def tune(self, **values: Any) -> None:
        """Set knobs by name, e.g. ``tune(search_lag=3.0, lose_answers={"charges": 1})``."""
        if "decline_code" in values and values["decline_code"] not in SEED_FAILURE_CODES:
            raise ValueError(f"decline_code must be one of {', '.join(SEED_FAILURE_CODES)}")
        if "account_version" in values and values["account_version"] not in API_VERSIONS:
            raise ValueError(f"account_version must be one of {', '.join(sorted(API_VERSIONS))}")
        if "country" in values and values["country"] not in ("SG", "TH"):
            raise ValueError("country must be SG or TH")
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
            return {charge_id: self._charge_copy(c) for charge_id, c in self.charges.items()}

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

    def _webhook(self, key: str, data: dict[str, Any]) -> None:
        event = event_object(self._id("evnt"), key, json.loads(json.dumps(data)), self.now())
        with self.lock:
            self.events[event["id"]] = event
        # Omise serialises events in the account's default version, whatever the request's was.
        body = json.dumps(versioned(event, self.knobs.account_version, f"/{self.name}")).encode()
        # Signed with real time: the merchant checks it against its own clock.
        stamp_value = str(int(time.time()))
        signature = sign(base64.b64decode(WEBHOOK_SECRET), stamp_value, body)
        self.hub.callbacks.submit(
            self.hub.merchant_url(self.name),
            body,
            {
                "content-type": "application/json",
                "omise-signature": signature,
                "omise-signature-timestamp": stamp_value,
            },
        )

    def _validate_amount(self, method: str, amount: int, currency: str) -> str | None:
        if currency != COUNTRY_CURRENCY[self.knobs.country]:
            return f"currency {currency} is not supported for {method}"
        low, high = LIMITS[(method, currency)]
        if not low <= amount <= high:
            return f"amount must be between {low} and {high}"
        return None

    def _offered(self, kind: str) -> bool:
        return kind in COUNTRY_METHODS[self.knobs.country]

    def _source(self, data: dict[str, Any]) -> dict[str, Any]:
        return source_object(
            self._id("src"),
            str(data.get("type")),
            integer(data.get("amount"), "amount"),
            str(data.get("currency", "")).upper(),
            str(data.get("platform_type") or "WEB").upper(),
            self.now(),
        )

    def _show_qr(self, charge: dict[str, Any]) -> None:
        """Give an offline charge its QR image (under the lock)."""
        document_id, token = self._id("docu"), secrets.token_hex(8).upper()
        text = qr_payload(
            charge["source"]["type"],
            amount=charge["amount"],
            currency=charge["currency"],
            reference=charge["id"],
            expires=when(charge["expires_at"]) or self.now(),
        )
        self.documents[document_id] = (charge["id"], token, qr_png(text))
        uri = f"{self.base_url}/charges/{charge['id']}/documents/{document_id}/downloads/{token}"
        charge["source"]["scannable_code"] = scannable_code(
            charge["id"], document_id, uri, self.now()
        )

    def _lapse(self, charge_id: str) -> None:
        # As if the customer walked away: expired, or failed + payment_expired by the knob.
        payment = self.hub.payment(self.name, charge_id)
        if payment is not None and payment.state == "waiting":
            payment.state = "expired"
        self._finish(charge_id, "abandon")

    def _finish(self, charge_id: str, action: CustomerAction) -> None:
        with self.lock:
            charge = self.charges[charge_id]
            if charge["status"] != "pending":
                return
            now = stamp(self.now())
            if action == "pay":
                charge.update(
                    status="successful",
                    paid=True,
                    authorized=True,
                    paid_at=now,
                    authorized_at=now,
                    authorized_amount=charge["amount"],
                    captured_amount=charge["amount"],
                    net=charge["amount"],
                    refundable=True,
                    partially_refundable=True,
                    can_perform_void=True,
                    disputable=True,
                    transaction=self._id("trxn"),
                )
            elif action == "decline" or self.knobs.abandon_as_failed:
                code = "payment_expired" if action != "decline" else self.knobs.decline_code
                charge.update(
                    status="failed", failure_code=code, failure_message=SEED_FAILURE_CODES[code]
                )
            else:
                charge.update(status="expired", expired=True, expired_at=now)
            charge["source"]["charge_status"] = charge["status"]
            data = copy.deepcopy(charge)
        self._webhook("charge.complete", data)

    # -- routes --------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/sources", self.create_source, methods=["POST"]),
            Route("/sources/{source_id}", self.get_source, methods=["GET"]),
            Route("/charges", self.create_charge, methods=["POST"]),
            Route("/charges", self.list_charges, methods=["GET"]),
            Route("/charges/{charge_id}", self.get_charge, methods=["GET"]),
            Route("/charges/{charge_id}", self.update_charge, methods=["PATCH"]),
            Route("/charges/{charge_id}/expire", self.expire_charge, methods=["POST"]),
            Route("/charges/{charge_id}/capture", self.capture_charge, methods=["POST"]),
            Route("/charges/{charge_id}/reverse", self.reverse_charge, methods=["POST"]),
            Route("/charges/{charge_id}/events", self.list_charge_events, methods=["GET"]),
            Route("/charges/{charge_id}/refunds", self.create_refund, methods=["POST"]),
            Route("/charges/{charge_id}/refunds", self.list_charge_refunds, methods=["GET"]),
            Route("/charges/{charge_id}/refunds/{refund_id}", self.get_refund, methods=["GET"]),
            Route("/refunds", self.list_refunds, methods=["GET"]),
            Route("/events", self.list_events, methods=["GET"]),
            Route("/events/{event_id}", self.get_event, methods=["GET"]),
            Route("/capability", self.capability, methods=["GET"]),
            Route(
                "/charges/{charge_id}/documents/{document_id}/downloads/{token}",
                self.download_document,
                methods=["GET"],
            ),
            # The official client asks for ``search/?scope=...``.
            Route("/search", self.search, methods=["GET"]),
            Route("/search/", self.search, methods=["GET"]),
            Route("/payments/{charge_id}/authorize", self.authorize, methods=["GET"]),
            Route("/{path:path}", self.unknown_path, methods=_ALL_METHODS),
        ]

    async def create_source(self, request: Request) -> Response:
        refused = self._refused(request, public_ok=True)
        if refused:
            return refused
        try:
            data = await body_of(request)
            source = self._source(data)
        except ValueError as exc:
            return error("bad_request", str(exc))
        if not self._offered(source["type"]):
            return error("bad_request", f"type {source['type']} is not supported by this account")
        problem = self._validate_amount(source["type"], source["amount"], source["currency"])
        if problem:
            return error("bad_request", problem)
        with self.lock:
            self.sources[source["id"]] = source
        return self._answer("sources", self._json(request, source))

    async def create_charge(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        try:
            data = await body_of(request)
            amount = integer(data.get("amount"), "amount")
            currency = str(data.get("currency", "")).upper()
        except ValueError as exc:
            return error("bad_request", str(exc))
        return_uri = str(data.get("return_uri") or "") or None
        raw_source = data.get("source")
        with self.lock:
            if isinstance(raw_source, str):
                source = self.sources.get(raw_source)
                if source is None:
                    return error("invalid_charge", "source was not found")
                if source["charge_status"] != "unknown":
                    return error("invalid_charge", "source was already used")
                if source["amount"] != amount or source["currency"] != currency:
                    return error("invalid_charge", "amount and currency must match the source's")
            elif isinstance(raw_source, dict):
                try:
                    source = self._source({**raw_source, "amount": amount, "currency": currency})
                except ValueError as exc:
                    return error("bad_request", str(exc))
                if not self._offered(source["type"]):
                    return error("invalid_charge", "source type is not supported by this account")
                self.sources[source["id"]] = source
            else:
                return error("invalid_charge", "a source is required")
            offline = source["type"] in QR_TYPES
            if not offline and not (return_uri or "").startswith("https://"):
                # The wallet app sends the customer back there (seed 004: HTTPS only).
                return error("invalid_charge", "return_uri must be an HTTPS URL")
            problem = self._validate_amount(source["type"], amount, currency)
            if problem:
                return error("invalid_charge", problem)
            source["charge_status"] = "pending"
            charge_id = self._id("chrg")
            metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
            charge = charge_object(
                charge_id,
                amount=amount,
                currency=currency,
                description=data.get("description"),
                metadata=metadata or {},
                source=source,
                authorize_uri=None
                if offline
                else f"{self.base_url}/payments/{charge_id}/authorize",
                return_uri=return_uri,
                ip=data.get("ip"),
                now=self.now(),
            )
            if offline:
                self._show_qr(charge)
            self.charges[charge_id] = charge
            self._indexed_at[charge_id] = time.monotonic() + self.knobs.search_lag
            answer = self._json(request, charge)
        method_name = _METHOD_NAMES.get(source["type"], source["type"])
        self.hub.register_payment(
            PendingPayment(
                provider=self.name,
                id=charge_id,
                amount=Money(amount, currency),
                description=str(data.get("description") or f"{method_name} payment"),
                on_action=lambda action: self._finish(charge_id, action),
                details={
                    "method": f"{method_name} (Omise {self.knobs.country})",
                    **({"return_url": return_uri} if return_uri else {}),
                    **({"platform": source["platform_type"]} if source["platform_type"] else {}),
                    # Lets the customer API find the payment by the shop's own reference.
                    "reference": str((metadata or {}).get("paymux_reference", "")),
                },
            )
        )
        return self._answer("charges", answer)

    async def update_charge(self, request: Request) -> Response:
        """``PATCH /charges/{id}``: ``description`` and ``metadata`` (replaced as a whole)."""
        refused = self._refused(request)
        if refused:
            return refused
        charge_id = request.path_params["charge_id"]
        try:
            data = await body_of(request)
        except ValueError as exc:
            return error("bad_request", str(exc))
        unknown = sorted(set(data) - _UPDATABLE)
        if unknown:
            return error("bad_request", f"{unknown[0]} cannot be updated")
        if "metadata" in data and not isinstance(data["metadata"], dict):
            return error("bad_request", "metadata must be an object")
        with self.lock:
            charge = self.charges.get(charge_id)
            if charge is None:
                return not_found("charge", charge_id)
            charge.update(data)
            answer = self._charge_copy(charge)
        return self._json(request, answer)

    async def expire_charge(self, request: Request) -> Response:
        """``POST /charges/{id}/expire``: a pending charge can no longer be paid.

        Expiring an expired charge answers it unchanged; a charge already paid or failed is
        refused (``invalid_charge``).
        """
        refused = self._refused(request)
        if refused:
            return refused
        charge_id = request.path_params["charge_id"]
        with self.lock:
            charge = self.charges.get(charge_id)
            if charge is None:
                return not_found("charge", charge_id)
            if charge["status"] not in ("pending", "expired"):
                return error("invalid_charge", f"charge is {charge['status']} and cannot expire")
            changed = charge["status"] == "pending"
            if changed:
                charge.update(status="expired", expired=True, expired_at=stamp(self.now()))
                charge["source"]["charge_status"] = "expired"
            answer = self._charge_copy(charge)
        payment = self.hub.payment(self.name, charge_id)
        if changed and payment is not None and payment.state == "waiting":
            # The customer page now refuses to pay it.
            payment.state = "expired"
        if changed:
            self._webhook("charge.expire", answer)
        return self._json(request, answer)

    async def capture_charge(self, request: Request) -> Response:
        refused = self._refused_or_unknown(request)
        if refused:
            return refused
        # KakaoPay charges are captured when paid; only card charges wait for a capture.
        return error("failed_capture", "charge was not authorized for a later capture")

    async def reverse_charge(self, request: Request) -> Response:
        refused = self._refused_or_unknown(request)
        if refused:
            return refused
        return error("invalid_charge", "charge cannot be reversed")

    async def create_refund(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        try:
            data = await body_of(request)
            amount = integer(data.get("amount"), "amount")
        except ValueError as exc:
            return error("bad_request", str(exc))
        charge_id = request.path_params["charge_id"]
        with self.lock:
            charge = self.charges.get(charge_id)
            if charge is None:
                return not_found("charge", charge_id)
            self._refresh(charge)
            pending = sum(
                r["amount"] for r in charge["refunds"]["data"] if r["status"] == "pending"
            )
            left = charge["amount"] - charge["refunded_amount"] - pending
            if charge["status"] != "successful" or not charge["refundable"]:
                return error("failed_refund", "charge is not refundable")
            if not 0 < amount <= left:
                return error("failed_refund", f"refund amount must be between 1 and {left}")
            if self._refund_declined():
                return error("failed_refund", "the refund was declined")
            late = self.knobs.refund_delay > 0
            metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
            refund = refund_object(
                self._id("rfnd"), charge, amount, metadata or {}, self._id("trxn"), self.now()
            )
            charge["refunds"]["data"].append(refund)
            charge["refunds"]["total"] += 1
            answer = copy.deepcopy(refund)
            if late:
                self._count("refund_late")
                timer = threading.Timer(
                    self.knobs.refund_delay, self._close_refund, (charge_id, refund["id"])
                )
                timer.daemon = True
                timer.start()
        if not late:
            answer = self._close_refund(charge_id, refund["id"])
        return self._answer("refunds", self._json(request, answer))

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

    async def authorize(self, request: Request) -> Response:
        charge_id = request.path_params["charge_id"]
        if charge_id not in self.charges:
            return not_found("payment", charge_id)
        # Opn's page: the wallet app on a phone, a QR to scan on a desktop; here, the customer page.
        return RedirectResponse(self.hub.customer_url(self.name, charge_id), 303)


class OmiseThaiEmulator(OmiseEmulator):
    """A Thai Omise account (THB: KakaoPay and PromptPay) with keys of its own."""

    name = "omise_th"

    def __init__(self, hub: Any) -> None:
        super().__init__(hub)
        self.knobs.country = "TH"

    def keys(self) -> tuple[str, str]:
        return TH_SECRET_KEY, TH_PUBLIC_KEY

    def sibling_accounts(self) -> list[Emulator]:
        return []
