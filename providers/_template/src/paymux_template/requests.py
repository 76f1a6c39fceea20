"""Neutral requests -> Template Pay's HTTP requests (built, never sent: the core sends them)."""

from __future__ import annotations

from typing import Any

import httpx

from paymux import ChargeRequest, Money
from paymux.provider import mark

from .settings import TemplateSettings


class RequestBuilder:
    def __init__(self, settings: TemplateSettings) -> None:
        self.settings = settings

    def _request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        retry_safe: bool,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Request:
        headers = {"Authorization": f"Bearer {self.settings.api_key.get_secret_value()}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        request = httpx.Request(
            method, self.settings.base_url + path, json=body, headers=headers, params=params
        )
        return mark(request, operation=operation, retry_safe=retry_safe)

    def create_charge(self, request: ChargeRequest) -> httpx.Request:
        assert request.return_urls is not None  # the capability requires them
        body = {
            "reference": request.reference,
            "amount": request.amount.amount,
            "currency": request.amount.currency,
            "method": request.method,
            "return_url": request.return_urls.success,
            "description": request.description or request.reference,
        }
        # Template Pay answers a repeated Idempotency-Key with the first charge: safe to resend.
        return self._request(
            "POST",
            "/charges",
            operation="create_charge",
            retry_safe=True,
            body=body,
            idempotency_key=request.reference,
        )

    def retrieve_charge(self, charge_id: str) -> httpx.Request:
        return self._request(
            "GET", f"/charges/{charge_id}", operation="retrieve_charge", retry_safe=True
        )

    def find_charge(self, reference: str) -> httpx.Request:
        return self._request(
            "GET",
            "/charges",
            operation="retrieve_charge",
            retry_safe=True,
            params={"reference": reference},
        )

    def refund(self, charge_id: str, amount: Money, reference: str) -> httpx.Request:
        return self._request(
            "POST",
            f"/charges/{charge_id}/refunds",
            operation="refund",
            retry_safe=True,
            body={"amount": amount.amount, "reference": reference},
            idempotency_key=reference,
        )

    def list_refunds(self, charge_id: str) -> httpx.Request:
        return self._request(
            "GET", f"/charges/{charge_id}/refunds", operation="list_refunds", retry_safe=True
        )
