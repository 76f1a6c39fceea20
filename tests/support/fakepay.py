"""A provider used only by the core's tests: a tiny JSON API with a two-step charge flow.

It is registered at test time through a generated ``*.dist-info`` (see ``plugin_dist``), so the
real discovery path (entry points -> stevedore) is exercised without installing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from paymux import (
    AmountRange,
    Capability,
    Charge,
    ChargeRequest,
    ChargeStatus,
    DisplayQrCode,
    Refund,
    RefundStatus,
    RefundSupport,
    WebhookEvent,
)
from paymux.errors import (
    NotFound,
    ProviderError,
    RateLimited,
    WebhookParseError,
    WebhookVerificationError,
)
from paymux.money import Money
from paymux.provider import (
    ChargeLookup,
    Flow,
    Provider,
    ProviderSettings,
    VerifiedWebhook,
    mark,
    no_io,
)
from paymux.webhook_security import any_signature_matches


class FakePaySettings(ProviderSettings):
    api_key: SecretStr
    base_url: str = "https://fakepay.test"
    idempotent_create: bool = False


class FakePay(Provider[FakePaySettings]):
    plugin_name = "fakepay"
    settings_model = FakePaySettings

    def capabilities(self) -> list[Capability]:
        return [
            Capability(
                provider=self.name,
                method="kakaopay",
                countries=("KR",),
                amounts=(AmountRange(currency="KRW", minimum=100, maximum=1_000_000),),
                refunds=RefundSupport.PARTIAL,
                next_actions=("display_qr_code",),
                customer_fields=("ip_address",),
            ),
            Capability(
                provider=self.name,
                method="card",
                countries=None,
                amounts=(AmountRange(currency="USD", minimum=100, maximum=300_000),),
                refunds=RefundSupport.FULL,
                customer_fields=("ip_address",),
            ),
        ]

    def _request(
        self, method: str, path: str, op: str, safe: bool, body: Any = None
    ) -> httpx.Request:
        request = httpx.Request(
            method,
            self.settings.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.settings.api_key.get_secret_value()}"},
        )
        return mark(request, operation=op, retry_safe=safe)

    def _charge(self, data: Mapping[str, Any]) -> Charge:
        status = {
            "new": ChargeStatus.PENDING,
            "qr": ChargeStatus.REQUIRES_ACTION,
            "paid": ChargeStatus.SUCCEEDED,
        }.get(data["state"], ChargeStatus.FAILED)
        return Charge(
            provider=self.name,
            id=data["id"],
            reference=data.get("ref"),
            amount=Money(data["amount"], data["currency"]),
            method=data.get("method"),
            status=status,
            next_action=DisplayQrCode(data=data["qr"]) if data.get("qr") else None,
            refunded_amount=Money(data.get("refunded", 0), data["currency"]),
            provider_status=data["state"],
        )

    def create_charge(self, request: ChargeRequest) -> Flow[Charge]:
        self.check_capability(request)
        body = {
            "ref": request.reference,
            "amount": request.amount.amount,
            "currency": request.amount.currency,
            "method": request.method,
        }
        created = yield self._request(
            "POST", "/charges", "create_charge", self.settings.idempotent_create, body
        )
        if created.status_code >= 400:
            raise self._refused(created, "refused", str(created.status_code))
        # Second step: the create answer carries only an id; the QR comes from a read.
        fetched = yield self._request(
            "GET", f"/charges/{created.json()['id']}", "retrieve_charge", True
        )
        return self._charge(fetched.json())

    def retrieve_charge(self, lookup: ChargeLookup) -> Flow[Charge]:
        response = yield self._request(
            "GET", f"/charges/{lookup.charge_id}", "retrieve_charge", True
        )
        if response.status_code >= 400:
            raise self._refused(response, "not found", "not_found")
        return self._charge(response.json())

    def _refused(self, response: httpx.Response, message: str, code: str) -> ProviderError:
        # One class per situation, whatever the operation (the kit's meanings table).
        kind: type[ProviderError] = ProviderError
        if response.status_code == 429:
            kind, message = RateLimited, "rate limited"
        elif response.status_code == 404:
            kind = NotFound
        return kind(message, provider=self.name, code=code, http_status=response.status_code)

    def refund(
        self, charge: Charge, amount: Money, *, reason: str | None, reference: str
    ) -> Flow[Refund]:
        self.check_refund(charge, amount)
        response = yield self._request(
            "POST",
            f"/charges/{charge.id}/refunds",
            "refund",
            True,
            {"amount": amount.amount, "ref": reference},
        )
        data = response.json()
        return Refund(
            provider=self.name,
            id=data["id"],
            charge_id=charge.id,
            reference=reference,
            amount=Money(data["amount"], charge.amount.currency),
            status=RefundStatus.SUCCEEDED,
        )

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[VerifiedWebhook[Any]]:
        def check() -> VerifiedWebhook[Any]:
            expected = hmac.new(
                self.settings.api_key.get_secret_value().encode(), body, hashlib.sha256
            ).hexdigest()
            if not any_signature_matches([expected], [headers.get("x-signature", "")]):
                raise WebhookVerificationError("fakepay: bad signature")
            return self.verified(body)

        return no_io(check)

    def translate_webhook(self, verified: VerifiedWebhook[Any]) -> Flow[WebhookEvent]:
        def event() -> WebhookEvent:
            try:
                data = json.loads(verified.payload)
            except ValueError:
                raise WebhookParseError("fakepay: body is not JSON") from None
            return WebhookEvent(
                provider=self.name,
                id=f"{data['id']}:{data['state']}",
                provider_data={"event": "charge.updated"},
                charge=self._charge(data),
            )

        return no_io(event)
