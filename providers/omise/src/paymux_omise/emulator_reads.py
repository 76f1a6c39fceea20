"""The Omise emulator's state, shared helpers and read-only endpoints (retrieve, list, search,
events, capability). The writes are in :mod:`paymux_omise.emulator`."""

from __future__ import annotations

import base64
import copy
import json
import math
import random
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from paymux.sandbox import Emulator

from .emulator_knobs import OmiseKnobs, when, words
from .emulator_objects import (
    API_VERSIONS,
    LATEST_VERSION,
    QR_TYPES,
    capability_object,
    error,
    list_object,
    not_found,
    refund_window_closes,
    stamp,
    versioned,
)

# The emulator keeps its own copy of the limits (seed 004 for KakaoPay; the Thai account's
# recorded charge minimum and the published caps for PromptPay and PayNow) rather than reading
# the plugin's: a wrong limit in the plugin should show up as a disagreement, not be mirrored.
LIMITS: dict[tuple[str, str], tuple[int, int]] = {
    ("kakaopay", "SGD"): (100, 2_000_000),
    ("kakaopay", "THB"): (2_000, 15_000_000),
    ("promptpay", "THB"): (2_000, 15_000_000),
    ("paynow", "SGD"): (100, 20_000_000),
}
# Omise's Refunds API: refunds for 365 days after payment; KakaoPay closes sooner (seed 004).
QR_REFUND_DAYS = 365

# Charge fields a search filter may name, as ``filters[<name>]=<value>``.
_SEARCH_FILTERS = frozenset(
    {"status", "currency", "amount", "paid", "captured", "refunded", "voided", "expired"}
)


def form_to_nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``source[type]=kakaopay`` -> ``{"source": {"type": "kakaopay"}}`` (the docs' curl style)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data
    return form_to_nested(parse_qsl(raw.decode(), keep_blank_values=True))


def integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int):
        return value
    raise ValueError(f"{name} must be an integer")


class OmiseEmulatorState(Emulator):
    """What the emulated Omise account holds, and the read side of its API."""

    name = "omise"

    def __init__(self, hub: Any) -> None:
        super().__init__(hub)
        self.charges: dict[str, dict[str, Any]] = {}
        self.sources: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, tuple[str, str, bytes]] = {}
        """QR images by document id: (charge id, the download token, the PNG)."""
        self.knobs = OmiseKnobs()
        self.fault_counts: dict[str, int] = {}
        """What the knobs did: ``answer_lost:<endpoint>``, ``refund_declined``, ``refund_late``,
        ``search_lag_hidden`` (a search answered while a matching charge was still hidden)."""
        self._indexed_at: dict[str, float] = {}
        self._random = random.Random()

    # -- shared helpers ------------------------------------------------------------------------

    def now(self) -> datetime:
        """The emulated Omise's clock: real time moved by the ``clock_offset`` knob."""
        return datetime.now(UTC) + self.knobs.clock_offset

    def _key(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, _ = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user

    def keys(self) -> tuple[str, str]:
        """The account's secret and public keys."""
        raise NotImplementedError

    def _authorised(self, request: Request, *, public_ok: bool = False) -> bool:
        key = self._key(request)
        secret, public = self.keys()
        return key == secret or (public_ok and key == public)

    def _refused(self, request: Request, *, public_ok: bool = False) -> Response | None:
        """Omise's answer when the key or the ``Omise-Version`` header is wrong, else None."""
        if not self._authorised(request, public_ok=public_ok):
            return error("authentication_failure", "authentication failed")
        version = request.headers.get("omise-version")
        if version is not None and version not in API_VERSIONS:
            return error("bad_request", f"Omise-Version {version} is not supported")
        return None

    def _refused_or_unknown(self, request: Request) -> Response | None:
        """:meth:`_refused`, else Omise's 404 when the path's ``charge_id`` names no charge."""
        refused = self._refused(request)
        if refused:
            return refused
        charge_id = request.path_params["charge_id"]
        return None if charge_id in self.charges else not_found("charge", charge_id)

    def _version(self, request: Request) -> str:
        # Without the header, the account's default version answers (as at Omise).
        return request.headers.get("omise-version") or self.knobs.account_version

    def _json(self, request: Request, payload: Any) -> JSONResponse:
        return JSONResponse(versioned(payload, self._version(request), f"/{self.name}"))

    def _lapse(self, charge_id: str) -> None:
        """End a pending charge whose ``expires_at`` has passed (the customer never paid)."""

    def _refresh(self, charge: dict[str, Any]) -> None:
        """Bring a charge up to the emulated clock (call under the lock): a pending one past
        ``expires_at`` lapses; a paid one closes to refunds once its window has passed."""
        if charge["status"] == "pending":
            expires_at = when(charge.get("expires_at"))
            if expires_at is not None and self.now() > expires_at:
                self._lapse(charge["id"])
            return
        paid_at = when(charge.get("paid_at"))
        if charge["status"] != "successful" or paid_at is None:
            return
        closes = (
            paid_at + timedelta(days=QR_REFUND_DAYS)
            if charge["source"]["type"] in QR_TYPES
            else refund_window_closes(paid_at)
        )
        if self.now() > closes:
            charge.update(refundable=False, partially_refundable=False, can_perform_void=False)

    def _charge_copy(self, charge: dict[str, Any]) -> dict[str, Any]:
        self._refresh(charge)
        return copy.deepcopy(charge)

    async def _paging(self, request: Request) -> tuple[dict[str, Any], int, int, str]:
        """Query and body parameters (the official client sends them as a JSON body on GET),
        ``offset``, ``limit`` (1-100) and ``order``."""
        params: dict[str, Any] = {
            **{k: v for k, v in (await body_of(request)).items() if v is not None},
            **request.query_params,
        }
        offset = integer(params.get("offset", 0), "offset")
        limit = min(100, max(1, integer(params.get("limit", 20), "limit")))
        return params, offset, limit, str(params.get("order") or "chronological")

    async def _listing(
        self, request: Request, location: str, items: Iterable[dict[str, Any]]
    ) -> Response:
        try:
            params, offset, limit, order = await self._paging(request)
        except ValueError as exc:
            return error("bad_request", str(exc))
        since, until = when(params.get("from")), when(params.get("to"))
        with self.lock:
            window = [
                item
                for item in items
                if (since is None or (when(item["created_at"]) or since) >= since)
                and (until is None or (when(item["created_at"]) or until) <= until)
            ]
            window.sort(key=lambda i: i["created_at"], reverse=order == "reverse_chronological")
            page = [
                self._charge_copy(i) if i["object"] == "charge" else copy.deepcopy(i)
                for i in window[offset : offset + limit]
            ]
        listing = list_object(
            location,
            page,
            offset=offset,
            limit=limit,
            total=len(window),
            order=order,
            to=params.get("to") or stamp(self.now()),
        )
        if params.get("from"):
            listing["from"] = params["from"]
        return self._json(request, listing)

    def _refunds(self, charge_id: str | None = None) -> list[dict[str, Any]]:
        return [
            refund
            for charge in self.charges.values()
            if charge_id is None or charge["id"] == charge_id
            for refund in charge["refunds"]["data"]
        ]

    # -- read routes ---------------------------------------------------------------------------

    async def get_source(self, request: Request) -> Response:
        refused = self._refused(request, public_ok=True)
        if refused:
            return refused
        source_id = request.path_params["source_id"]
        with self.lock:
            source = copy.deepcopy(self.sources.get(source_id))
        return self._json(request, source) if source else not_found("source", source_id)

    async def get_charge(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        charge_id = request.path_params["charge_id"]
        with self.lock:
            charge = self.charges.get(charge_id)
            found = self._charge_copy(charge) if charge else None
        return self._json(request, found) if found else not_found("charge", charge_id)

    async def list_charges(self, request: Request) -> Response:
        """``GET /charges``: charges created in ``from``..``to``, ``limit`` from ``offset``."""
        refused = self._refused(request)
        if refused:
            return refused
        with self.lock:
            charges = list(self.charges.values())
        return await self._listing(request, "/charges", charges)

    async def list_charge_refunds(self, request: Request) -> Response:
        refused = self._refused_or_unknown(request)
        if refused:
            return refused
        charge_id = request.path_params["charge_id"]
        with self.lock:
            refunds = self._refunds(charge_id)
        return await self._listing(request, f"/charges/{charge_id}/refunds", refunds)

    async def list_refunds(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        with self.lock:
            refunds = self._refunds()
        return await self._listing(request, "/refunds", refunds)

    async def get_refund(self, request: Request) -> Response:
        refused = self._refused_or_unknown(request)
        if refused:
            return refused
        charge_id, refund_id = request.path_params["charge_id"], request.path_params["refund_id"]
        with self.lock:
            refund = next((r for r in self._refunds(charge_id) if r["id"] == refund_id), None)
            found = copy.deepcopy(refund)
        return self._json(request, found) if found else not_found("refund", refund_id)

    async def list_events(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        with self.lock:
            events = list(self.events.values())
        return await self._listing(request, "/events", events)

    async def list_charge_events(self, request: Request) -> Response:
        refused = self._refused_or_unknown(request)
        if refused:
            return refused
        charge_id = request.path_params["charge_id"]
        with self.lock:
            events = [
                e
                for e in self.events.values()
                if charge_id in (e["data"].get("id"), e["data"].get("charge"))
            ]
        return await self._listing(request, f"/charges/{charge_id}/events", events)

    async def get_event(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused:
            return refused
        event_id = request.path_params["event_id"]
        with self.lock:
            event = copy.deepcopy(self.events.get(event_id))
        return self._json(request, event) if event else not_found("event", event_id)

    async def capability(self, request: Request) -> Response:
        refused = self._refused(request, public_ok=True)
        if refused:
            return refused
        return self._json(request, capability_object(self.knobs.country, LIMITS))

    async def download_document(self, request: Request) -> Response:
        """A charge's QR image by its ``download_uri``: no key needed, the URL is the secret
        (as checkouts show it in an ``<img>``)."""
        params = request.path_params
        with self.lock:
            found = self.documents.get(params["document_id"])
        if found is None or found[:2] != (params["charge_id"], params["token"]):
            return not_found("document", params["document_id"])
        return Response(found[2], media_type="image/png")

    async def unknown_path(self, request: Request) -> Response:
        # Omise answers every path with its JSON error object, never a plain-text page.
        path = request.url.path.removeprefix(f"/{self.name}")
        return error("not_found", f"{path} was not found")

    async def search(self, request: Request) -> Response:
        """``GET /search``: whole words, any case, in the id, description and metadata values;
        ``filters[...]`` on a few charge fields; ``page`` of ``total_pages``."""
        refused = self._refused(request)
        if refused:
            return refused
        params = request.query_params
        query = params.get("query", "")
        if params.get("scope") != "charge":
            return error("bad_request", "this sandbox searches the charge scope only")
        try:
            page = max(1, integer(params.get("page", "1"), "page"))
            per_page = min(100, max(1, integer(params.get("per_page", "0"), "per_page")))
        except ValueError as exc:
            return error("bad_request", str(exc))
        if "per_page" not in params:
            per_page = self.knobs.per_page
        filters = {
            key[8:-1]: value
            for key, value in params.items()
            if key.startswith("filters[") and key.endswith("]")
        }
        unknown = set(filters) - _SEARCH_FILTERS
        if unknown:
            return error("bad_request", f"unknown search filter {sorted(unknown)[0]}")
        order = params.get("order") or "chronological"
        wanted = words(query)
        now = time.monotonic()
        with self.lock:
            if filters:
                # A filter may name a state the emulated clock has changed since.
                for charge in list(self.charges.values()):
                    self._refresh(charge)
            found, hidden = [], 0
            for charge in self.charges.values():
                text = " ".join(
                    [charge["id"], str(charge.get("description") or "")]
                    + [str(v) for v in charge["metadata"].values()]
                )
                if wanted and not wanted <= words(text):
                    continue
                if not all(_filter_matches(charge, k, v) for k, v in filters.items()):
                    continue
                if self._indexed_at.get(charge["id"], 0.0) > now:
                    hidden += 1
                    continue
                found.append(charge)
            if hidden:
                self.fault_counts["search_lag_hidden"] = (
                    self.fault_counts.get("search_lag_hidden", 0) + 1
                )
            found.sort(key=lambda c: c["created_at"], reverse=order == "reverse_chronological")
            # Copies of the page only: a busy emulator holds thousands of charges.
            page_items = [
                self._charge_copy(c) for c in found[(page - 1) * per_page : page * per_page]
            ]
        return self._json(
            request,
            {
                "object": "search",
                "order": order,
                "scope": "charge",
                "query": query,
                "filters": filters,
                "page": page,
                "per_page": per_page,
                "total": len(found),
                "total_pages": math.ceil(len(found) / per_page),
                "aggregate_level": None,
                "data": page_items,
                "location": "/search",
                "export": None,
            },
        )


def _filter_matches(charge: dict[str, Any], name: str, wanted: str) -> bool:
    if name == "amount":
        low, _, high = wanted.partition("..")
        amount: int = charge["amount"]
        try:
            return int(low or 0) <= amount <= int(high or low or amount)
        except ValueError:
            return False
    field = {"captured": "paid", "refunded": "refunded_amount"}.get(name, name)
    value = charge.get(field)
    if name == "refunded":
        value = bool(value)
    if isinstance(value, bool):
        return ("true" if value else "false") == wanted.lower()
    return str(value).lower() == wanted.lower()


__all__ = ["LATEST_VERSION", "LIMITS", "OmiseEmulatorState"]
