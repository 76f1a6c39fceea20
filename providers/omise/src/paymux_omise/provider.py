"""The Omise / Opn Payments provider: KakaoPay charges, refunds and webhooks as sans-IO flows."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx

from paymux import (
    Capability,
    Charge,
    ChargeRequest,
    ChargeStatus,
    Money,
    Refund,
    WebhookEvent,
)
from paymux.errors import (
    ConfigurationError,
    DuplicateRequest,
    InvalidRequest,
    NotFound,
    OperationNotSupported,
    OutcomeUnknown,
    ProviderError,
    RefundNotAllowed,
    WebhookParseError,
    WebhookVerificationError,
)
from paymux.provider import (
    ChargeListPage,
    ChargeLookup,
    ChargeQuery,
    Flow,
    Provider,
    ProviderSettings,
    VerifiedWebhook,
    no_io,
)

from . import capabilities as caps
from .provider_qr import with_qr_image
from .provider_search import MAX_PAGES, find_by_reference
from .requests import RequestBuilder
from .responses import (
    REFERENCE_KEY,
    PayloadError,
    decode,
    expect_object,
    integer,
    list_items,
    parse_charge,
    parse_refund,
    text,
    timestamp,
)
from .responses_capability import account_country, account_mismatches
from .settings import OmiseSettings
from .webhooks import (
    EventEnvelope,
    Refetched,
    envelope_from,
    parse_envelope,
    verify_signature,
)

PROVIDER_OPTIONS = frozenset({"source_id", "platform_type"})
EXPIRABLE_FLOWS = frozenset({"app_redirect", "offline"})
"""Source flows whose unpaid charges ``POST /charges/{id}/expire`` stops (app-redirect wallets
such as KakaoPay, and QR/barcode sources)."""


@dataclass(frozen=True)
class _ChargePlan:
    return_uri: str | None
    source_id: str | None
    platform_type: str


class OmiseProvider(Provider[OmiseSettings]):
    """KakaoPay through Omise (Opn Payments) for merchants in Singapore and Thailand."""

    plugin_name: ClassVar[str] = "omise"
    settings_model: ClassVar[type[ProviderSettings]] = OmiseSettings
    # Omise takes a second charge with the same metadata: only a certain look-up miss (search,
    # then the charge list) may lead to a create being sent again.
    unique_references: ClassVar[bool] = False

    def __init__(self, settings: OmiseSettings, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self._requests = RequestBuilder(settings)

    def __repr__(self) -> str:
        return f"OmiseProvider(name={self.name!r}, mode={self.settings.mode!r})"

    @classmethod
    def status_conditions(cls) -> list[tuple[str, str, str]]:
        """For the docs' status-mapping page: the mappings that depend on more than the status."""
        from .responses_conditions import rows

        return rows()

    # -- description -----------------------------------------------------------------------------

    def capabilities(self) -> list[Capability]:
        return caps.capabilities(self.name, self.settings.country)

    def describe(self) -> dict[str, str]:
        return {
            "mode": self.settings.mode,
            "endpoint": self.settings.base_url,
            "api_version": self.settings.api_version,
            "webhooks": "signature+refetch"
            if self.settings.webhook_secret and self.settings.refetch_webhooks
            else ("signature" if self.settings.webhook_secret else "refetch"),
        }

    def secret_values(self) -> list[str]:
        # The Basic credentials are the key in base64: redact that spelling too.
        key = self.settings.secret_key.get_secret_value()
        return [*super().secret_values(), base64.b64encode(f"{key}:".encode()).decode("ascii")]

    def lookup(self, id_or_reference: str) -> ChargeLookup:
        if id_or_reference.startswith("chrg_"):
            return ChargeLookup(charge_id=id_or_reference)
        return ChargeLookup(reference=id_or_reference)

    # -- helpers -------------------------------------------------------------------------------

    def _decode(self, response: httpx.Response) -> Any:
        # What the answer holds is read by the responses module; a shape it cannot read leaves
        # as PayloadError, which the core reports (invalid_response with the answer's HTTP
        # status, or WebhookParseError in a webhook).
        return decode(response, self.name)

    def _find(self, reference: str) -> Flow[Charge]:
        return find_by_reference(self._requests, self.settings, self.name, reference)

    def _with_qr_image(self, charge: Charge) -> Flow[Charge]:
        return with_qr_image(self._requests, self.settings.base_url, charge)

    def _plan_charge(self, request: ChargeRequest) -> _ChargePlan:
        """Everything Omise would refuse, refused here before a request exists."""
        # Method, the account's country and currency, limits, return pages: the capability's data.
        self.check_capability(request)
        qr = request.method in caps.QR_METHODS
        # An offline (QR) charge keeps the customer on the checkout: no return_uri is sent.
        return_uri = None if qr or request.return_urls is None else request.return_urls.success
        if REFERENCE_KEY in request.metadata:
            raise InvalidRequest(
                f"{REFERENCE_KEY!r} is reserved for the charge reference", field="metadata"
            )
        options = request.provider_options
        unknown = set(options) - PROVIDER_OPTIONS
        if unknown:
            raise InvalidRequest(
                f"unknown Omise option(s) {', '.join(sorted(unknown))};"
                f" known: {', '.join(sorted(PROVIDER_OPTIONS))}",
                field="provider_options",
            )
        source_id = options.get("source_id")
        if source_id is not None and (
            not isinstance(source_id, str) or not source_id.startswith("src_")
        ):
            raise InvalidRequest(
                "must be the id of a source made with Omise.js (src_...)",
                field="provider_options.source_id",
            )
        if qr and "platform_type" in options:
            raise InvalidRequest(
                f"the platform type is for KakaoPay's app redirect; {request.method} shows a QR code",
                field="provider_options.platform_type",
            )
        platform = options.get("platform_type", "WEB")
        if not isinstance(platform, str) or platform.upper() not in caps.PLATFORM_TYPES:
            raise InvalidRequest(
                f"must be one of {', '.join(caps.PLATFORM_TYPES)}",
                field="provider_options.platform_type",
            )
        if source_id is not None and "platform_type" in options:
            raise InvalidRequest(
                "the platform type belongs to the source already created in the browser",
                field="provider_options.platform_type",
            )
        return _ChargePlan(
            return_uri=return_uri, source_id=source_id, platform_type=platform.upper()
        )

    def _check_source(self, payload: Any, request: ChargeRequest) -> None:
        source = expect_object(payload, "source")
        kind = text(source, "type")
        amount = integer(source, "amount")
        currency = text(source, "currency").upper()
        charge_status = source.get("charge_status")
        field = "provider_options.source_id"
        if kind != request.method:
            raise InvalidRequest(f"the source is for {kind}, not {request.method}", field=field)
        if amount != request.amount.amount or currency != request.amount.currency:
            raise InvalidRequest(
                f"the source is for {amount} {currency} (minor units),"
                f" the charge for {request.amount.amount} {request.amount.currency}:"
                " Omise requires them equal",
                field=field,
            )
        if charge_status not in (None, "unknown"):
            raise InvalidRequest(
                f"the source was already charged (charge status {charge_status!r})", field=field
            )

    # -- operations ------------------------------------------------------------------------------

    def create_charge(self, request: ChargeRequest) -> Flow[Charge]:
        plan = self._plan_charge(request)
        if self.settings.dedupe_by_reference:
            # One reference is one attempt: a repeat returns that attempt, whatever its outcome.
            try:
                existing: Charge | None = yield from self._find(request.reference)
            except NotFound as missing:
                if not missing.conclusive:
                    raise OutcomeUnknown(
                        f"cannot tell whether Omise holds a charge for {request.reference!r}"
                        " (the search has more pages than paymux reads); nothing was sent",
                        provider=self.name,
                        reference=request.reference,
                    ) from None
                existing = None
            if existing is not None:
                if existing.amount != request.amount:
                    # What DuplicateRequest means for every provider (docs/meanings.md).
                    raise DuplicateRequest(
                        f"reference {request.reference!r} was already used for another request:"
                        f" charge {existing.id} of {existing.amount}; nothing was sent",
                        provider=self.name,
                        nothing_done=True,
                    )
                return (yield from self._with_qr_image(existing))
        source: str | dict[str, str]
        if plan.source_id is not None:
            response = yield self._requests.retrieve_source(plan.source_id)
            self._check_source(self._decode(response), request)
            source = plan.source_id
        elif request.method in caps.QR_METHODS:
            source = {"type": request.method}
        else:
            source = {"type": request.method, "platform_type": plan.platform_type}
        response = yield self._requests.create_charge(
            request, return_uri=plan.return_uri, source=source
        )
        charge = parse_charge(self._decode(response), self.name)
        return (yield from self._with_qr_image(charge))

    def retrieve_charge(self, lookup: ChargeLookup) -> Flow[Charge]:
        charge_id = lookup.charge_id or (lookup.charge.id if lookup.charge else None)
        reference = lookup.reference or (lookup.charge.reference if lookup.charge else None)
        if charge_id:
            response = yield self._requests.retrieve_charge(charge_id)
            return parse_charge(self._decode(response), self.name)
        if not reference:
            raise InvalidRequest("give a charge id (chrg_...) or a merchant reference")
        # One read, no image download: the ledger polls pending QR charges, and the checkout
        # has the image from the create already (or shows ``image_url`` as it is).
        return (yield from self._find(reference))

    def check_account(self) -> Flow[dict[str, str]]:
        """Compare the account Omise holds for these keys (``GET /capability``) with the
        settings: :class:`ConfigurationError` naming every mismatch of country, method or
        currency; else what was checked. Settings without a country are checked for the
        methods they declare in the account's own country, and told which country to state."""
        response = yield self._requests.capability()
        payload = self._decode(response)
        stated = self.settings.country
        actual = stated or account_country(payload)
        declared = [
            c.method
            for c in self.declared_capabilities()
            if c.countries is None or actual in c.countries
        ]
        problems = account_mismatches(payload, stated, declared)
        if problems:
            unstated = "" if stated else f" (a {actual} account; the settings state no country)"
            raise ConfigurationError(
                f"{self.name}: the Omise account does not match the settings{unstated}: "
                + "; ".join(problems)
            )
        checked = {
            "country": actual,
            "currency": caps.CURRENCY_BY_COUNTRY[actual],
            "methods": ", ".join(declared),
        }
        if stated is None:
            checked["settings"] = (
                f"state country = {actual!r}: without it, next to another Omise account,"
                " the first configured takes both markets' charges"
            )
        return checked

    def refund(
        self, charge: Charge, amount: Money, *, reason: str | None, reference: str
    ) -> Flow[Refund]:
        self.check_refund(charge, amount)
        self._check_refund_flags(charge, amount)
        if charge.refunds is not None and len(charge.refunds) >= caps.MAX_REFUNDS:
            raise RefundNotAllowed(
                f"Omise takes at most {caps.MAX_REFUNDS} refunds a charge;"
                f" {charge.id} has {len(charge.refunds)}"
            )
        deadline = charge.refund_deadline or self._deadline_from_raw(charge)
        now = self.settings.now()
        if deadline is not None and now > deadline:
            window = (
                "until 00:15 GMT+8 the day after payment"
                if charge.method in caps.REFUND_WINDOW_METHODS
                else f"for {caps.REFUND_DAYS} days after payment"
            )
            raise RefundNotAllowed(
                f"{charge.method} payments can be refunded only {window}; the deadline for"
                f" {charge.id} was"
                f" {deadline.astimezone(caps.REFUND_WINDOW_ZONE):%Y-%m-%d %H:%M} GMT+8"
            )
        response = yield self._requests.refund(
            charge.id, amount, reference=reference, reason=reason
        )
        return parse_refund(self._decode(response), self.name)

    # -- after the charge -------------------------------------------------------------------

    def cancel_charge(self, charge: Charge) -> Flow[Charge]:
        self.check_operation("cancel_charge", charge.method)
        flow = charge.provider_data.get("flow")
        if flow is not None and flow not in EXPIRABLE_FLOWS:
            raise OperationNotSupported(
                f"Omise expires only app-redirect and QR charges; {charge.id} is a {flow} charge",
                provider=self.name,
                operation="cancel_charge",
            )
        if charge.status not in (ChargeStatus.PENDING, ChargeStatus.REQUIRES_ACTION):
            raise InvalidRequest(
                f"charge {charge.id} is {charge.status.value}; Omise expires only unpaid charges",
                field="charge",
            )
        response = yield self._requests.expire_charge(charge.id)
        return parse_charge(self._decode(response), self.name)

    def list_charges(self, query: ChargeQuery, cursor: str | None) -> Flow[ChargeListPage]:
        self.check_operation("list_charges")
        offset = _offset(cursor)
        response = yield self._requests.charge_window(query.since, query.until, offset)
        payload = self._decode(response)

        def read() -> ChargeListPage:
            items, following = list_items(payload)
            charges = tuple(parse_charge(item, self.name) for item in items)
            return ChargeListPage(charges, None if following is None else str(following))

        return read()

    def list_refunds(self, charge: Charge) -> Flow[list[Refund]]:
        self.check_operation("list_refunds", charge.method)
        refunds: list[Refund] = []
        offset: int | None = 0
        for _ in range(MAX_PAGES):
            if offset is None:
                return refunds
            response = yield self._requests.list_refunds(charge.id, offset)
            payload = self._decode(response)
            page, offset = self._refund_page(payload)
            refunds += page
        raise ProviderError(
            f"charge {charge.id} lists more than {MAX_PAGES} pages of refunds",
            provider=self.name,
            code="too_many_refunds",
        )

    def _refund_page(self, payload: Any) -> tuple[list[Refund], int | None]:
        items, following = list_items(payload)
        return [parse_refund(item, self.name) for item in items], following

    def retrieve_refund(self, charge: Charge, refund_id: str) -> Flow[Refund]:
        self.check_operation("retrieve_refund", charge.method)
        response = yield self._requests.retrieve_refund(charge.id, refund_id)
        payload = self._decode(response)
        refund = parse_refund(payload, self.name)
        if refund.charge_id != charge.id:
            raise ProviderError(
                f"Omise answered refund {refund.id} of {refund.charge_id} for charge {charge.id}",
                provider=self.name,
                code="invalid_response",
            )
        return refund

    def _check_refund_flags(self, charge: Charge, amount: Money) -> None:
        """Omise's own word on the charge, when its answer carried it (2019-05-29 shape).

        ``refundable`` turns false once the refund window has passed or nothing is left;
        ``partially_refundable`` says whether less than what is left may be refunded.
        """
        raw = charge.raw or {}
        if not charge.status.is_paid or raw.get("status") != "successful":
            return
        left = charge.refundable_amount
        if raw.get("refundable") is False:
            raise RefundNotAllowed(
                f"Omise reports charge {charge.id} as not refundable (refundable: false):"
                " its refund window has passed or it was refunded in full"
            )
        if raw.get("partially_refundable") is False and amount != left:
            raise RefundNotAllowed(
                f"Omise refunds charge {charge.id} only in full ({left} left);"
                f" {amount} was asked (partially_refundable: false)"
            )

    def _deadline_from_raw(self, charge: Charge) -> datetime | None:
        # A charge restored from storage may predate the deadline field; its raw payload has it.
        if not charge.raw or not charge.status.is_paid:
            return None
        try:
            return caps.refund_deadline(charge.method, timestamp(charge.raw, "paid_at"))
        except PayloadError:
            return None

    # -- webhooks: verify, then translate -------------------------------------------------------

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Flow[VerifiedWebhook[Any]]:
        key = self.settings.webhook_key
        if key is None:
            return self._proven_by_refetch(body)
        now = self.settings.now()

        def signed() -> VerifiedWebhook[Any]:
            verify_signature(
                body, headers, key=key, now=now, tolerance=self.settings.webhook_tolerance
            )
            return self.verified(body, by="signature")

        return no_io(signed)

    def _proven_by_refetch(self, body: bytes) -> Flow[VerifiedWebhook[Any]]:
        """Without a webhook secret the body is a claim: what Omise answers for the ids it names
        is the proof (and what is reported). Anything short of that refuses the webhook."""
        envelope = parse_envelope(body)
        if envelope.key.startswith(("charge.", "refund.")) and envelope.charge_id is None:
            raise WebhookVerificationError(f"{envelope.key} event without a charge id")
        if envelope.charge_id is None:
            # Not about a charge: the event itself must exist at Omise, and what Omise holds
            # under that id is the event, not what was posted.
            response = yield self._requests.retrieve_event(envelope.id)
            envelope = self._fetched_event(response, envelope.id)
            if envelope.charge_id is None:
                if envelope.key.startswith(("charge.", "refund.")):
                    raise WebhookVerificationError(f"{envelope.key} event without a charge id")
                return self.verified(Refetched(envelope, None), by="refetch")
        charge = yield from self._webhook_charge(envelope.charge_id)
        return self.verified(Refetched(envelope, charge), by="refetch")

    def translate_webhook(self, verified: VerifiedWebhook[Any]) -> Flow[WebhookEvent]:
        if isinstance(verified.payload, Refetched):
            envelope, charge = verified.payload.envelope, verified.payload.charge
            refund = None
            if charge is not None and envelope.refund_id is not None:
                refund = yield from self._webhook_refund(envelope, charge, trusted=False)
            return self._event(envelope, charge, refund, "refetch")
        # Signed: the body is Omise's own; a shape paymux cannot read is a WebhookParseError.
        envelope = parse_envelope(verified.payload)
        charge_id = envelope.charge_id
        if envelope.key.startswith(("charge.", "refund.")) and charge_id is None:
            raise WebhookParseError(f"{envelope.key} event without a charge id")
        if not self.settings.refetch_webhooks:
            return self._event_from_body(envelope)
        if charge_id is None:
            return self._event(envelope, None, None, "signature")
        charge = yield from self._webhook_charge(charge_id)
        refund = None
        if envelope.refund_id is not None:
            refund = yield from self._webhook_refund(envelope, charge, trusted=True)
        return self._event(envelope, charge, refund, "signature+refetch")

    def _webhook_charge(self, charge_id: str) -> Flow[Charge]:
        response = yield self._requests.retrieve_charge(charge_id)
        self._verified(response, f"charge {charge_id}")
        return parse_charge(self._decode(response), self.name)

    # -- webhook helpers ------------------------------------------------------------------------

    def _verified(self, response: httpx.Response, what: str) -> None:
        if response.status_code == 404:
            raise WebhookVerificationError(
                f"{what} named by the webhook is unknown to Omise with these keys"
            )

    def _fetched_event(self, response: httpx.Response, event_id: str) -> EventEnvelope:
        """The event ``GET /events/{id}`` answered; anything short of it refuses the webhook.

        The unsigned body proves nothing, so a refusal, a rate limit or an outage at Omise
        leaves it unproven: refused (Omise delivers again), never accepted.
        """
        self._verified(response, f"event {event_id}")
        if response.status_code != 200:
            raise WebhookVerificationError(
                f"Omise could not confirm event {event_id} (HTTP {response.status_code});"
                " the webhook is refused until it can"
            )
        try:
            payload: Any = self._decode(response)
            fetched = envelope_from(payload)
        except (ProviderError, PayloadError) as exc:
            raise WebhookVerificationError(
                f"Omise's answer for event {event_id} is not that event: {exc}"
            ) from None
        if fetched.id != event_id:
            raise WebhookVerificationError(
                f"Omise answered event {fetched.id} when asked for {event_id}"
            )
        return fetched

    def _webhook_refund(
        self, envelope: EventEnvelope, charge: Charge, *, trusted: bool
    ) -> Flow[Refund]:
        refund_id = envelope.refund_id
        assert refund_id is not None
        if trusted:
            return parse_refund(envelope.data, self.name)
        embedded = (charge.raw or {}).get("refunds")
        items = embedded.get("data") if isinstance(embedded, dict) else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and item.get("id") == refund_id:
                return parse_refund(item, self.name)
        # The charge embeds only its latest refunds; ask for this one directly.
        response = yield self._requests.retrieve_refund(charge.id, refund_id)
        self._verified(response, f"refund {refund_id}")
        return parse_refund(self._decode(response), self.name)

    def _event_from_body(self, envelope: EventEnvelope) -> WebhookEvent:
        kind = envelope.data.get("object")
        charge = parse_charge(envelope.data, self.name) if kind == "charge" else None
        refund = parse_refund(envelope.data, self.name) if kind == "refund" else None
        return self._event(envelope, charge, refund, "signature")

    def _event(
        self,
        envelope: EventEnvelope,
        charge: Charge | None,
        refund: Refund | None,
        verified_by: str,
    ) -> WebhookEvent:
        return WebhookEvent(
            provider=self.name,
            id=envelope.id,
            charge=charge,
            refund=refund,
            occurred_at=envelope.created_at,
            verified_by=verified_by,
            provider_data={"event": envelope.key},
            raw=envelope.raw,
        )


def _offset(cursor: str | None) -> int:
    """The list offset a cursor from :meth:`OmiseProvider.list_charges` stands for."""
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 12:
        raise InvalidRequest("not a cursor this provider handed out", field="cursor")
    return int(cursor)
