"""The ECommPay Gate provider: KakaoPay (QR), Payco and card-partner (redirect)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from paymux.errors import DuplicateRequest, InvalidRequest, PaymuxError, TransportError
from paymux.models import Capability, Charge, ChargeRequest, Refund, WebhookEvent
from paymux.money import Money
from paymux.next_action import RedirectToUrl
from paymux.provider import (
    ChargeLookup,
    Flow,
    Provider,
    ProviderSettings,
    VerifiedWebhook,
    after_earlier_attempt,
    no_io,
)
from paymux.status import ChargeStatus, RefundStatus

from . import requests as gate_requests
from .capabilities import capabilities, possible_capabilities
from .requests_payment_page import payment_page_url
from .responses import accepted
from .responses_status import charge_from_status
from .settings import EcommpaySettings
from .webhooks import translate_callback, verified_payload
from .webhooks_confirmation import confirm, needs_confirmation, payment_id_of


class EcommpayProvider(Provider[EcommpaySettings]):
    """ECommPay Gate. Results arrive by signed callback; every synchronous "success" only means
    the platform accepted the request, so new charges and refunds start ``pending``."""

    plugin_name: ClassVar[str] = "ecommpay"
    settings_model: ClassVar[type[ProviderSettings]] = EcommpaySettings
    # The Gate refuses a payment_id it already has (3041): a resend can never charge twice.
    unique_references: ClassVar[bool] = True

    @classmethod
    def status_conditions(cls) -> list[tuple[str, str, str]]:
        """For the docs' status-mapping page: the mappings that depend on more than one word."""
        from .responses_conditions import rows

        return rows()

    def capabilities(self) -> list[Capability]:
        return capabilities(self.name)

    def possible_capabilities(self) -> list[Capability]:
        return possible_capabilities(self.name)

    def describe(self) -> dict[str, str]:
        return {"gate": self.settings.base_url, "project_id": str(self.settings.project_id)}

    def reconcile_after(self, charge: Charge) -> timedelta:
        return timedelta(seconds=self.settings.base_time_seconds)

    def response_request_id(self, response: httpx.Response) -> str | None:
        # The Gate names an accepted request in the body (its callbacks and the status answer
        # quote the same request_id), not in a header.
        try:
            body = response.json()
        except ValueError:
            return super().response_request_id(response)
        found = body.get("request_id") if isinstance(body, dict) else None
        return str(found) if isinstance(found, str | int) else super().response_request_id(response)

    def lookup(self, id_or_reference: str) -> ChargeLookup:
        # ECommPay knows a payment only by the merchant's payment_id, which is our reference.
        return ChargeLookup(charge_id=id_or_reference, reference=id_or_reference)

    # -- charges ---------------------------------------------------------------------------

    def create_charge(self, request: ChargeRequest) -> Flow[Charge]:
        self.check_capability(request)
        gate_requests.check_charge_request(request)
        body = gate_requests.sale_body(request, self.settings)
        response = yield gate_requests.gate_request(
            self.settings,
            f"payment/{gate_requests.gate_path(request.method)}/sale",
            body,
            operation="create_charge",
            # Safe: payment_id is the merchant's unique reference, so a repeat cannot make a second
            # payment; the platform answers 3041 "payment id already exists" instead.
            retry_safe=True,
        )
        try:
            answer = accepted(response, self.name)
        except DuplicateRequest as duplicate:
            # One reference is one attempt: the Gate already has this payment_id (an earlier
            # call, or this call's first try whose answer was lost), so answer with that payment.
            own = after_earlier_attempt(response)
            return (yield from self._attempt_of(request, duplicate, own=own))
        # Every value is the checked request's or typed here: built without pydantic checking
        # them again (once per charge, on the create path the bench times).
        return Charge._from_checked(
            {
                "provider": self.name,
                "id": request.reference,
                "reference": request.reference,
                "amount": request.amount,
                "method": request.method,
                "status": ChargeStatus.PENDING,
                "next_action": None,
                "failure": None,
                "refunded_amount": request.amount.zero(),
                "provider_status": "accepted",
                "created_at": datetime.now(UTC),
                "refund_deadline": None,
                "provider_data": {"request_id": str(answer["request_id"])},
                "metadata": {},
                "refunds": None,
                "raw": answer,
            }
        )

    def _attempt_of(
        self, request: ChargeRequest, duplicate: DuplicateRequest, *, own: bool
    ) -> Flow[Charge]:
        """The payment the Gate holds under ``request.reference``, if it is this request.

        ``own``: this call's earlier attempt may have reached the Gate, so the payment is most
        likely that attempt. When the Gate cannot show it yet, that is "it may exist, look it
        up" (a sent :class:`TransportError`), not a :class:`DuplicateRequest`, which says the
        reference was used for a different request."""
        try:
            existing = yield from self.retrieve_charge(ChargeLookup(reference=request.reference))
        except PaymuxError:
            if own:
                raise TransportError(
                    f"{self.name}: the answer to creating {request.reference!r} was lost and the"
                    " Gate cannot show the payment yet; it may exist: look it up"
                    " (retrieve_charge by reference) before sending it again",
                    provider=self.name,
                    request_sent=True,
                ) from None
            # Not readable yet (the Gate may not list it for a few seconds): say what is known.
            raise duplicate from None
        if existing.amount != request.amount:
            raise DuplicateRequest(
                f"reference {request.reference!r} was already used for another request:"
                f" payment {existing.id} of {existing.amount}",
                provider=self.name,
                code=duplicate.code,
                http_status=duplicate.http_status,
            )
        return existing

    def retrieve_charge(self, lookup: ChargeLookup) -> Flow[Charge]:
        payment_id = (
            lookup.charge_id or lookup.reference or (lookup.charge.id if lookup.charge else None)
        )
        if not payment_id:
            raise InvalidRequest(
                "give the payment id (the charge reference) to look up", field="charge_id"
            )
        response = yield gate_requests.gate_request(
            self.settings,
            "payment/status",
            gate_requests.status_body(payment_id, self.settings),
            operation="retrieve_charge",
            retry_safe=True,  # a read
        )
        return charge_from_status(response, self.settings, self.name, known=lookup.charge)

    def payment_page_url(self, request: ChargeRequest) -> RedirectToUrl:
        """A signed Payment Page link with the method preselected (no Gate request is made)."""
        return payment_page_url(request, self.settings, self.declared_capabilities())

    # -- refunds ---------------------------------------------------------------------------

    def refund(
        self, charge: Charge, amount: Money, *, reason: str | None, reference: str
    ) -> Flow[Refund]:
        path = gate_requests.gate_path(charge.method)
        self.check_refund(charge, amount)
        body = gate_requests.refund_body(
            charge, amount, reason=reason, reference=reference, settings=self.settings
        )
        response = yield gate_requests.gate_request(
            self.settings,
            f"payment/{path}/refund",
            body,
            operation="refund",
            # Safe: merchant_refund_id is unique per refund, so a repeat is refused with 3230
            # instead of refunding twice.
            retry_safe=True,
        )
        try:
            answer = accepted(response, self.name)
        except DuplicateRequest:
            if not after_earlier_attempt(response):
                raise
            # 3230 to a retry whose first attempt reached the Gate: that attempt is the refund.
            # The Gate's status lists refunds without merchant_refund_id, so which one it is
            # cannot be read back: "it may exist", as for any lost answer.
            raise TransportError(
                f"{self.name}: the answer to refund {reference!r} was lost and its retry met the"
                " first attempt; it may exist: look it up (list_refunds) before sending it again",
                provider=self.name,
                request_sent=True,
            ) from None
        return Refund(
            provider=self.name,
            id=str(answer["request_id"]),
            charge_id=charge.id,
            reference=reference,
            amount=amount,
            status=RefundStatus.PENDING,
            provider_status="accepted",
            created_at=datetime.now(UTC),
            raw=answer,
        )

    # -- callbacks and clarification -------------------------------------------------------

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[VerifiedWebhook[Any]]:
        # ECommPay signs the JSON body itself; no header takes part.
        return no_io(lambda: self.verified(verified_payload(bytes(body), self.settings)))

    def translate_webhook(self, verified: VerifiedWebhook[Any]) -> Flow[WebhookEvent]:
        event = translate_callback(verified.payload, self.name)
        if not self.settings.confirm_callbacks or not needs_confirmation(event):
            return event
        # What a final callback changes is read back from the Gate before it is reported.
        response = yield gate_requests.gate_request(
            self.settings,
            "payment/status",
            gate_requests.status_body(payment_id_of(event), self.settings),
            operation="confirm_callback",
            retry_safe=True,  # a read
        )
        return confirm(event, response, self.settings, self.name)

    def clarify(self, charge: Charge, fields: Mapping[str, str]) -> Flow[Charge]:
        if charge.status.is_final:
            raise InvalidRequest(
                f"charge {charge.id} is {charge.status}; nothing to clarify", field="charge"
            )
        body = gate_requests.clarification_body(charge.id, fields, self.settings)
        response = yield gate_requests.gate_request(
            self.settings,
            "payment/clarification",
            body,
            operation="clarify",
            # The same details twice move no money; at worst the platform refuses the repeat.
            retry_safe=True,
        )
        answer = accepted(response, self.name)
        data = dict(charge.provider_data)
        data["clarification_request_id"] = str(answer["request_id"])
        return charge.model_copy(
            update={
                "status": ChargeStatus.PENDING,
                "next_action": None,
                "provider_status": "clarification accepted",
                "provider_data": data,
            }
        )
