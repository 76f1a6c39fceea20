"""Neutral requests -> Omise HTTP requests (JSON bodies, as the official SDKs send)."""

from __future__ import annotations

import base64
import json
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

import paymux
from paymux import ChargeRequest, Money
from paymux.provider import mark

from ._version import __version__
from .responses import REFERENCE_KEY
from .settings import OmiseSettings

LIST_LIMIT = 100
"""Charges per ``GET /charges`` page: the largest page Omise's list gives."""


def user_agent(api_version: str) -> str:
    # Omise's SDK convention: <Lib>/<ver> OmiseAPI/<api-version> <Runtime>/<ver>.
    return (
        f"paymux/{paymux.__version__} paymux-omise/{__version__} OmiseAPI/{api_version}"
        f" Python/{platform.python_version()}"
    )


def path_segment(value: str) -> str:
    """An id made safe for a URL path (ids come from users and webhooks)."""
    return quote(value, safe="")


class RequestBuilder:
    """Builds every request the provider sends; the only place that touches the secret key."""

    def __init__(self, settings: OmiseSettings) -> None:
        self._settings = settings

    def _headers(self, key: str, *, json_body: bool) -> dict[str, str]:
        token = base64.b64encode(f"{key}:".encode()).decode("ascii")
        headers = {
            "Authorization": f"Basic {token}",
            "Accept": "application/json",
            "Omise-Version": self._settings.api_version,
            "User-Agent": user_agent(self._settings.api_version),
        }
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def get(
        self, path: str, *, operation: str, params: Mapping[str, str] | None = None
    ) -> httpx.Request:
        request = httpx.Request(
            "GET",
            self._settings.base_url + path,
            params=dict(params) if params else None,
            headers=self._headers(self._settings.secret_key.get_secret_value(), json_body=False),
        )
        return mark(request, operation=operation, retry_safe=True)

    def post(self, path: str, body: Mapping[str, Any], *, operation: str) -> httpx.Request:
        request = httpx.Request(
            "POST",
            self._settings.base_url + path,
            content=json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
            headers=self._headers(self._settings.secret_key.get_secret_value(), json_body=True),
        )
        # No idempotency key at Omise: sending a charge or refund twice can take money twice.
        return mark(request, operation=operation, retry_safe=False)

    # -- operations ---------------------------------------------------------------------------

    def create_charge(
        self,
        request: ChargeRequest,
        *,
        return_uri: str | None,
        source: str | Mapping[str, str],
    ) -> httpx.Request:
        metadata: dict[str, str] = {**request.metadata, REFERENCE_KEY: request.reference}
        body: dict[str, Any] = {
            "amount": request.amount.amount,
            "currency": request.amount.currency,
            "source": source if isinstance(source, str) else dict(source),
            "metadata": metadata,
            # Description is one of the fields Omise's text search covers, so a lost charge can
            # be found by its reference even if metadata were not searched.
            "description": request.description or request.reference,
        }
        if return_uri is not None:
            body["return_uri"] = return_uri
        if request.customer.ip_address:
            body["ip"] = request.customer.ip_address
        return self.post("/charges", body, operation="create_charge")

    def retrieve_charge(self, charge_id: str) -> httpx.Request:
        return self.get(f"/charges/{path_segment(charge_id)}", operation="retrieve_charge")

    def download(self, url: str) -> httpx.Request:
        """A document Omise links from a charge (a QR code image). Sent without credentials:
        the URL itself is the capability (checkouts put it in an ``<img>`` as it is), and a key
        must never follow a URL read from an answer."""
        request = httpx.Request(
            "GET",
            url,
            headers={"Accept": "image/png", "User-Agent": user_agent(self._settings.api_version)},
        )
        # Best effort: the charge exists already; without the image the link still works.
        return mark(request, operation="download_qr_code", retry_safe=True, best_effort=True)

    def capability(self) -> httpx.Request:
        return self.get("/capability", operation="check_account")

    def retrieve_source(self, source_id: str) -> httpx.Request:
        return self.get(f"/sources/{path_segment(source_id)}", operation="retrieve_source")

    def retrieve_refund(self, charge_id: str, refund_id: str) -> httpx.Request:
        return self.get(
            f"/charges/{path_segment(charge_id)}/refunds/{path_segment(refund_id)}",
            operation="retrieve_refund",
        )

    def retrieve_event(self, event_id: str) -> httpx.Request:
        return self.get(f"/events/{path_segment(event_id)}", operation="retrieve_event")

    def search_charges(self, reference: str, page: int = 1) -> httpx.Request:
        return self.get(
            "/search",
            operation="search_charges",
            params={
                "scope": "charge",
                "query": reference,
                "order": "reverse_chronological",
                # Omise's default is the first page; left out, the first request stays as before.
                **({"page": str(page)} if page > 1 else {}),
            },
        )

    def list_charges(self, since: datetime, offset: int = 0) -> httpx.Request:
        """Charges created since ``since``, oldest first: the list does not lag like search."""
        return self.get(
            "/charges",
            operation="list_charges",
            params={
                "from": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "offset": str(offset),
                "limit": str(LIST_LIMIT),
                "order": "chronological",
            },
        )

    def charge_window(
        self, since: datetime | None, until: datetime | None, offset: int
    ) -> httpx.Request:
        """A page of ``GET /charges`` for ``Gateway.list_charges``, oldest first."""
        params = {"offset": str(offset), "limit": str(LIST_LIMIT), "order": "chronological"}
        for name, value in (("from", since), ("to", until)):
            if value is not None:
                params[name] = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self.get("/charges", operation="list_charges", params=params)

    def list_refunds(self, charge_id: str, offset: int = 0) -> httpx.Request:
        return self.get(
            f"/charges/{path_segment(charge_id)}/refunds",
            operation="list_refunds",
            params={"offset": str(offset), "limit": str(LIST_LIMIT), "order": "chronological"},
        )

    def expire_charge(self, charge_id: str) -> httpx.Request:
        # Expiring twice is harmless (an expired charge stays expired), so it may be retried.
        request = self.post(
            f"/charges/{path_segment(charge_id)}/expire", {}, operation="cancel_charge"
        )
        return mark(request, operation="cancel_charge", retry_safe=True)

    def refund(
        self, charge_id: str, amount: Money, *, reference: str, reason: str | None
    ) -> httpx.Request:
        metadata = {REFERENCE_KEY: reference}
        if reason:
            metadata["reason"] = reason
        return self.post(
            f"/charges/{path_segment(charge_id)}/refunds",
            {"amount": amount.amount, "metadata": metadata},
            operation="refund",
        )
