"""What the fault campaign sees on the wire: every API request, and every write whose answer was lost.

A write's answer can be lost before the emulator acted (nothing happened) or after (the payment or
refund exists, the client does not know). The campaign needs the second kind, and must prove it
happened: the transport asks the emulator's books whether the object existed just before the
request left and just after the failure came back. Nothing else can create it in between: the
object is named by a key only this request carries (a reference, a refund reference).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx

WRITE_ENDPOINTS = (
    "omise charge",
    "omise source",
    "omise refund",
    "ecommpay sale kakaopay",
    "ecommpay sale payco",
    "ecommpay sale card-partner",
    "ecommpay refund",
    "ecommpay clarification",
)
"""Every endpoint of both emulators that creates or changes something at the provider."""


@dataclass(frozen=True)
class Write:
    endpoint: str
    """One of :data:`WRITE_ENDPOINTS`."""
    key: str
    """What names the object this write creates (a charge or refund reference, a payment id);
    empty for Omise sources, which carry nothing of the merchant's."""


def _json(request: httpx.Request) -> dict[str, object]:
    try:
        data = json.loads(request.content or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _text(mapping: object, *path: str) -> str:
    value = mapping
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def write_of(request: httpx.Request) -> Write | None:
    """The write this request is, or None for a read (or something that is no API call)."""
    if request.method != "POST":
        return None
    parts = request.url.path.strip("/").split("/")
    if parts[:1] == ["omise"]:
        body = _json(request)
        if parts[1:] == ["charges"]:
            return Write("omise charge", _text(body, "metadata", "paymux_reference"))
        if parts[1:] == ["sources"]:
            return Write("omise source", "")
        if len(parts) == 4 and parts[1] == "charges" and parts[3] == "refunds":
            return Write("omise refund", _text(body, "metadata", "paymux_reference"))
        return None
    if parts[:3] != ["ecommpay", "v2", "payment"]:
        return None
    body = _json(request)
    payment_id = _text(body, "general", "payment_id")
    tail = parts[3:]
    if tail == ["clarification"]:
        return Write("ecommpay clarification", payment_id)
    if tail[-1:] == ["sale"]:
        method = "card-partner" if tail[0] == "card-partner" else tail[-2]
        return Write(f"ecommpay sale {method}", payment_id)
    if tail[-1:] == ["refund"]:
        return Write(
            "ecommpay refund", f"{payment_id}/{_text(body, 'payment', 'merchant_refund_id')}"
        )
    return None


def search_query(request: httpx.Request) -> str | None:
    """The reference an Omise search looks for (None: not a search)."""
    if request.method != "GET" or not request.url.path.endswith("/omise/search"):
        return None
    values = parse_qs(request.url.query.decode()).get("query")
    return values[0] if values else ""


Probe = Callable[[Write], int]
"""How many objects the emulator's books hold for a write's key (see campaign_books)."""


@dataclass
class WireLog:
    requests: int = 0
    writes: Counter[str] = field(default_factory=Counter)
    write_failures: Counter[str] = field(default_factory=Counter)
    """Writes whose answer never arrived whole (dropped, timed out), by endpoint."""
    lost_after_acting: Counter[str] = field(default_factory=Counter)
    """Of those, the ones the books prove the emulator had acted on, by endpoint."""
    lost_after_acting_keys: list[tuple[str, str]] = field(default_factory=list)
    searches: int = 0
    search_later_pages: int = 0
    """Omise searches that asked for page 2 or later (a look-up reading every page)."""
    search_misses: int = 0
    """Omise searches that found nothing while the books already held that reference's charge:
    the search lag, seen from the client."""


class ObservingTransport(httpx.HTTPTransport):
    """Counts requests and proves each lost write answer against the emulator's books.

    ``serial`` writes (Omise sources, which carry no key of ours) are counted by the books' total
    while this transport holds a lock, so concurrent checkouts cannot blur the count.
    """

    def __init__(self, probe: Probe, *, serial: tuple[str, ...] = ("omise source",)) -> None:
        super().__init__()
        self.log = WireLog()
        self.probe = probe
        self.serial = serial
        self._lock = threading.Lock()
        self._serial_lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.log.requests += 1
        write = write_of(request)
        query = search_query(request)
        if write is None:
            response = super().handle_request(request)
            if query:
                self._check_search(query, request, response)
            return response
        with self._lock:
            self.log.writes[write.endpoint] += 1
        if write.endpoint in self.serial:
            with self._serial_lock:
                return self._write(request, write)
        return self._write(request, write)

    def _write(self, request: httpx.Request, write: Write) -> httpx.Response:
        before = self.probe(write)
        try:
            response = super().handle_request(request)
            response.read()
        except httpx.TransportError:
            self._lost(write, before)
            raise
        return response

    def _lost(self, write: Write, before: int) -> None:
        after = self.probe(write)
        with self._lock:
            self.log.write_failures[write.endpoint] += 1
            if after > before:
                self.log.lost_after_acting[write.endpoint] += 1
                self.log.lost_after_acting_keys.append((write.endpoint, write.key))

    def _check_search(self, query: str, request: httpx.Request, response: httpx.Response) -> None:
        response.read()
        page = parse_qs(request.url.query.decode()).get("page", ["1"])[0]
        if page.isdigit() and int(page) > 1:
            with self._lock:
                self.log.search_later_pages += 1
        try:
            data = response.json()
        except ValueError:
            return
        if not isinstance(data, dict) or response.status_code != 200:
            return
        found = any(
            isinstance(c, dict) and _text(c, "metadata", "paymux_reference") == query
            for c in data.get("data") or []
        )
        held = self.probe(Write("omise charge", query))
        with self._lock:
            self.log.searches += 1
            if not found and held and int(data.get("total_pages") or 1) <= int(page or 1):
                self.log.search_misses += 1
