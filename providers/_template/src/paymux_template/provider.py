"""TemplateProvider: the flows only. Each yields the requests ``requests`` builds, reads the
answers with ``responses``, and leaves sockets, retries and logs to the core."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from paymux import Capability, Charge, ChargeRequest, Money, Refund, WebhookEvent
from paymux.errors import InvalidRequest, NotFound
from paymux.provider import (
    ChargeLookup,
    Flow,
    Provider,
    ProviderSettings,
    VerifiedWebhook,
    no_io,
)

from . import capabilities, responses, webhooks
from .requests import RequestBuilder
from .settings import TemplateSettings


class TemplateProvider(Provider[TemplateSettings]):
    """Template Pay: one redirect method; charges, refunds and signed webhooks."""

    plugin_name: ClassVar[str] = "template"
    settings_model: ClassVar[type[ProviderSettings]] = TemplateSettings
    example: ClassVar[bool] = True
    # Template Pay answers a repeated Idempotency-Key with the first charge, never a second one.
    unique_references: ClassVar[bool] = True

    def __init__(self, settings: TemplateSettings, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self._requests = RequestBuilder(settings)

    def __repr__(self) -> str:
        return f"TemplateProvider(name={self.name!r}, base_url={self.settings.base_url!r})"

    def capabilities(self) -> list[Capability]:
        return capabilities.capabilities(self.name)

    def describe(self) -> dict[str, str]:
        return {"endpoint": self.settings.base_url}

    def lookup(self, id_or_reference: str) -> ChargeLookup:
        if id_or_reference.startswith("ch_"):
            return ChargeLookup(charge_id=id_or_reference)
        return ChargeLookup(reference=id_or_reference)

    # -- charges -------------------------------------------------------------------------------

    def create_charge(self, request: ChargeRequest) -> Flow[Charge]:
        self.check_capability(request)  # everything the capability says, before any request
        response = yield self._requests.create_charge(request)
        return responses.parse_charge(responses.decode(response, self.name), self.name)

    def retrieve_charge(self, lookup: ChargeLookup) -> Flow[Charge]:
        charge_id = lookup.charge_id or (lookup.charge.id if lookup.charge else None)
        if charge_id is not None:
            response = yield self._requests.retrieve_charge(charge_id)
            return responses.parse_charge(responses.decode(response, self.name), self.name)
        reference = lookup.reference or (lookup.charge.reference if lookup.charge else None)
        if reference is None:
            raise InvalidRequest("give a charge id (ch_...) or a reference", field="lookup")
        response = yield self._requests.find_charge(reference)
        found = responses.decode(response, self.name).objects("data")
        if not found:
            raise NotFound(
                f"no charge with reference {reference!r}",
                provider=self.name,
                code="not_found",
                conclusive=True,  # the list is exact and read to its end
            )
        return responses.parse_charge(found[0], self.name)

    # -- refunds -------------------------------------------------------------------------------

    def refund(
        self, charge: Charge, amount: Money, *, reason: str | None, reference: str
    ) -> Flow[Refund]:
        self.check_refund(charge, amount)
        response = yield self._requests.refund(charge.id, amount, reference)
        return responses.parse_refund(responses.decode(response, self.name), self.name)

    def list_refunds(self, charge: Charge) -> Flow[list[Refund]]:
        self.check_operation("list_refunds", charge.method)
        response = yield self._requests.list_refunds(charge.id)
        items = responses.decode(response, self.name).objects("data")
        return [responses.parse_refund(item, self.name) for item in items]

    # -- webhooks: verify, then translate ------------------------------------------------------

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[VerifiedWebhook[Any]]:
        now = datetime.now(UTC)
        return no_io(
            lambda: self.verified(webhooks.verified_payload(body, headers, self.settings, now))
        )

    def translate_webhook(self, verified: VerifiedWebhook[Any]) -> Flow[WebhookEvent]:
        return no_io(lambda: webhooks.translate(verified.payload, self.name, verified.verified_by))
