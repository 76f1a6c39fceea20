"""The provider-neutral request and result models."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from ._base import Model
from .countries import is_country
from .event_types import EventType
from .money import Money
from .next_action import NextAction
from .status import ChargeStatus, FailureReason, RefundStatus, RefundSupport
from .text_rules import reference_problem, text_problem, url_problem

NAME_LENGTH = 255
"""Customer ids, names and e-mail addresses: the longest any provider or column takes."""


def _check_url(value: str) -> str:
    problem = url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _plain_text(value: str | None, max_length: int = NAME_LENGTH) -> str | None:
    if value is not None:
        problem = text_problem(value, max_length)
        if problem is not None:
            raise ValueError(problem)
    return value


class Customer(Model):
    """Who pays. Providers say which fields they need; paymux checks before sending.

    ``id``, names and e-mail are at most 255 characters without control characters (NUL,
    newlines, tabs): they reach signed strings and the ledger's columns."""

    id: str = Field(min_length=1, max_length=NAME_LENGTH)
    ip_address: str | None = None
    email: str | None = Field(default=None, max_length=NAME_LENGTH)
    phone: str | None = Field(default=None, max_length=32)
    first_name: str | None = Field(default=None, max_length=NAME_LENGTH)
    last_name: str | None = Field(default=None, max_length=NAME_LENGTH)

    @field_validator("id", "email", "first_name", "last_name")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        # NUL and newlines reach providers' signed strings and the ledger's text columns.
        return _plain_text(value)

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\+?[0-9]{5,20}", value):
            raise ValueError(
                "must be digits only, optionally starting with '+' (e.g. +254700000000)"
            )
        return value


METADATA_MAX_KEYS = 20
METADATA_KEY_LENGTH = 40
METADATA_VALUE_LENGTH = 500
RESERVED_METADATA_PREFIX = "paymux_"
"""Metadata limits. Neither Omise's charge API pages nor ECommPay's Gate pages state any, so
these are paymux's own: small enough for every provider that stores metadata and for one ledger
row, the key limit leaves room for paymux's own ``paymux_*`` keys beside the merchant's."""


def metadata_problem(value: dict[str, str]) -> str | None:
    """Why ``value`` cannot be a charge's metadata, or None."""
    if len(value) > METADATA_MAX_KEYS:
        return f"at most {METADATA_MAX_KEYS} keys, got {len(value)}"
    for key, item in value.items():
        if not key or len(key) > METADATA_KEY_LENGTH or not key.isascii():
            return f"{key[:64]!r}: keys are 1-{METADATA_KEY_LENGTH} ASCII characters"
        if key.startswith(RESERVED_METADATA_PREFIX):
            return f"{key!r}: keys starting {RESERVED_METADATA_PREFIX!r} are reserved for paymux"
        problem = text_problem(key, METADATA_KEY_LENGTH) or text_problem(
            item, METADATA_VALUE_LENGTH
        )
        if problem is not None:
            return f"{key!r} {problem}"
    return None


class ReturnUrls(Model):
    """Where the provider sends the customer back. ``success`` is the one every flow needs.

    Absolute http(s) URLs of at most 2,048 characters, with no spaces (leading, trailing or
    inside) or control characters: percent-encode them."""

    success: str
    decline: str | None = None
    back: str | None = None

    @field_validator("success", "decline", "back")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


class ChargeRequest(Model):
    """What the checkout wants: take ``amount`` by ``method`` from ``customer`` in ``country``.

    ``reference`` is the merchant's unique id for this payment. It is the idempotency key: sending
    the same reference twice never produces two provider payments.

    ``country`` is the market the payment is made in: the country whose payment methods and
    currency take it, the same for every provider and for the router. Usually where the customer
    pays from; a traveller paying a shop abroad pays in the shop's market (a Korean customer's
    KakaoPay at a shop in Singapore is ``SG``, charged in SGD). It is never the customer's
    nationality or billing address. An assigned ISO 3166-1 alpha-2 code (``KR``; ``UK`` or
    ``ZZ`` are refused);
    free text (method, description, metadata) has no control characters.
    """

    reference: str
    amount: Money
    method: str = Field(min_length=1, max_length=64)
    country: str
    customer: Customer
    return_urls: ReturnUrls | None = None
    description: str | None = Field(default=None, max_length=255)
    language: str | None = Field(default=None, max_length=8)
    metadata: dict[str, str] = Field(default_factory=dict)
    provider_options: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific knobs (e.g. Omise ``source_id``, ``platform_type``); see each provider's page."""

    @field_validator("reference")
    @classmethod
    def _reference(cls, value: str) -> str:
        problem = reference_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: Any) -> Any:
        if isinstance(value, str):
            # ASCII first: str.upper() would turn other scripts' letters into A-Z.
            code = value.upper() if value.isascii() else value
            if not is_country(code):
                raise ValueError("is not an assigned ISO 3166-1 alpha-2 country code such as 'KR'")
            return code
        return value

    @field_validator("method", "description", "language")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _plain_text(value)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        problem = metadata_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class Failure(Model):
    """Why a charge or refund failed: the neutral ``reason`` plus the provider's own ``code``."""

    reason: FailureReason
    code: str | None = None
    message: str | None = None


class Charge(Model):
    """A payment as the provider last reported it."""

    provider: str
    id: str
    """The provider's id for the payment (for ECommPay, the merchant's payment_id)."""
    reference: str | None = None
    amount: Money
    method: str | None = None
    status: ChargeStatus
    next_action: NextAction | None = None
    failure: Failure | None = None
    refunded_amount: Money | None = None
    provider_status: str | None = None
    """The provider's own status word, kept for diagnostics."""
    created_at: datetime | None = None
    refund_deadline: datetime | None = None
    """The last moment the provider accepts a refund, when it has one."""
    provider_data: dict[str, str] = Field(default_factory=dict)
    """Provider ids worth keeping (request ids, source ids, operation ids)."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """The merchant's ``ChargeRequest.metadata``: as the provider stores it (Omise), or as the
    create request carried it when the provider keeps none (ECommPay: then a later
    ``retrieve_charge`` answers ``{}``, and the Ledger keeps it). paymux's own keys are left out."""
    refunds: tuple[Refund, ...] | None = None
    """Every refund of the payment as the provider listed it in this answer (pending, succeeded
    and failed alike), each with the provider's refund id and, when the provider keeps it, the
    merchant's refund reference. None when the answer does not list them all: then only
    ``refunded_amount`` is known, which cannot say *which* refunds went through."""
    raw: dict[str, Any] | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _refunded(self) -> Charge:
        if self.refunded_amount is None:
            object.__setattr__(self, "refunded_amount", self.amount.zero())
        elif self.refunded_amount.currency != self.amount.currency:
            raise ValueError("refunded_amount must be in the charge's currency")
        return self

    @property
    def refundable_amount(self) -> Money:
        """What can still be refunded (zero unless the charge is paid)."""
        assert self.refunded_amount is not None
        if not self.status.is_paid or self.refunded_amount >= self.amount:
            return self.amount.zero()
        return self.amount - self.refunded_amount


class Refund(Model):
    provider: str
    id: str
    charge_id: str
    reference: str | None = None
    """The merchant's id for the refund, when the provider takes one."""
    amount: Money
    status: RefundStatus
    failure: Failure | None = None
    provider_status: str | None = None
    created_at: datetime | None = None
    raw: dict[str, Any] | None = Field(default=None, repr=False)


class WebhookEvent(Model):
    """A verified callback, translated. ``id`` is stable across redeliveries: dedupe on it.

    ``type`` is what the event reports (:class:`~paymux.EventType`): the state of its refund if it
    carries one, else of its charge, else ``other``. Left out, it is derived from those; given, it
    must agree with them. The provider's own word for the event is in ``provider_data``."""

    provider: str
    id: str
    type: EventType = EventType.OTHER
    charge: Charge | None = None
    """The charge as the provider reported it. None when the event does not state the charge's
    amounts: an ECommPay refund callback (unconfirmed) says only what is left of the payment and
    what this refund is, so paymux reports those (``remaining_amount``, ``refund.amount``) rather
    than invent the original amount and the cumulative refunded amount."""
    refund: Refund | None = None
    remaining_amount: Money | None = None
    """What the provider says is left of the payment after this event (still refundable), when
    the event states it; None otherwise. Not the charge's amount, and not a refunded total."""
    occurred_at: datetime | None = None
    verified_by: str = "signature"
    """How authenticity was proven: ``signature``, ``refetch`` or both (``signature+refetch``)."""
    provider_data: dict[str, str] = Field(default_factory=dict)
    """The provider's own words for the event (Omise ``{"event": "charge.complete"}``, ECommPay
    ``{"operation_type": "sale", "operation_status": "success"}``), kept for diagnostics."""
    raw: dict[str, Any] | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _typed_by_content(self) -> WebhookEvent:
        reported = EventType.reporting(
            self.charge.status if self.charge is not None else None,
            self.refund.status if self.refund is not None else None,
        )
        if "type" not in self.model_fields_set:
            object.__setattr__(self, "type", reported)
        elif self.type is not reported:
            raise ValueError(
                f"type {self.type.value!r} disagrees with the event: it reports {reported.value!r}"
            )
        return self


class AmountRange(Model):
    """Inclusive limits in minor units; ``maximum`` None means no stated limit.

    ``countries`` ties the currency to markets: ``AmountRange(currency="SGD", ..., countries=
    ("SG",))`` says the method is charged in SGD in Singapore (and only there). None: in every
    country the capability serves."""

    currency: str
    minimum: int = Field(default=0, ge=0)
    maximum: int | None = None
    countries: tuple[str, ...] | None = None

    def admits(self, money: Money) -> bool:
        return (
            money.currency == self.currency
            and money.amount >= self.minimum
            and (self.maximum is None or money.amount <= self.maximum)
        )

    def serves(self, country: str) -> bool:
        return self.countries is None or country in self.countries

    def __str__(self) -> str:
        if self.maximum is None:
            return f"{self.currency} >= {Money(self.minimum, self.currency)}"
        return f"{self.currency} {Money(self.minimum, self.currency)} .. {Money(self.maximum, self.currency)}"


RETURN_PAGES = ("success", "decline", "back")
"""The pages of :class:`ReturnUrls`, as capability rules name them."""


class ReturnUrlRules(Model):
    """Which return pages a method needs, as data the router and the docs read."""

    required: bool = False
    """The customer leaves the checkout (a wallet app, a hosted page): return URLs must be given."""
    one_of: tuple[tuple[str, ...], ...] = ()
    """Whenever return URLs are given, each group needs at least one of its pages, e.g.
    ``(("decline", "back"),)``: a page for a customer who did not pay, never the success page."""
    https: tuple[str, ...] = ()
    """Pages that must be ``https://`` when given."""

    @field_validator("https")
    @classmethod
    def _pages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [page for page in value if page not in RETURN_PAGES]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: pages are {', '.join(RETURN_PAGES)}")
        return value

    @field_validator("one_of")
    @classmethod
    def _groups(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for group in value:
            if not group:
                raise ValueError("a group names at least one page")
            cls._pages(group)
        return value

    def __str__(self) -> str:
        parts = ["required"] if self.required else []
        parts += [" or ".join(group) for group in self.one_of]
        parts += [f"{page} https" for page in self.https]
        return ", ".join(parts) or "optional"


CUSTOMER_FIELDS = ("email", "phone", "ip_address", "first_name", "last_name")
"""The optional :class:`Customer` fields a capability may require."""


class Refusal(NamedTuple):
    """Why a capability cannot take a request: the request field at fault, and one line."""

    field: str
    reason: str


class Capability(Model):
    """What one provider can do for one payment method.

    Every rule the provider's ``create_charge`` enforces before the network is a field here, so
    the router, the plugin and the docs read the same data (:meth:`refusal`)."""

    provider: str
    method: str
    countries: tuple[str, ...] | None = None
    """ISO 3166-1 alpha-2 codes; None means the provider takes any country."""
    amounts: tuple[AmountRange, ...]
    refunds: RefundSupport
    next_actions: tuple[str, ...] = ()
    """The next-action types the flow produces (``display_qr_code``, ``redirect_to_url``, ...)."""
    provider_method: str | None = None
    """The provider's own name for the method (e.g. ECommPay ``card-partner``)."""
    notes: str = ""
    operations: tuple[str, ...] = ()
    """What the provider does after the charge for this method, by gateway method name:
    ``cancel_charge``, ``list_charges``, ``list_refunds``, ``retrieve_refund``. Anything not
    listed raises :class:`~paymux.errors.OperationNotSupported` before any request."""
    customer_fields: tuple[str, ...] = ()
    """Customer fields the provider refuses a charge without (``ip_address``, ``email``, ...)."""
    return_urls: ReturnUrlRules = Field(default_factory=ReturnUrlRules)
    origin: str = "plugin"
    """``plugin`` (as the plugin declares it) or ``config`` (narrowed or enabled by the
    provider's ``capabilities`` setting)."""

    @field_validator("customer_fields")
    @classmethod
    def _customer_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in CUSTOMER_FIELDS]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: fields are {', '.join(CUSTOMER_FIELDS)}")
        return value

    def range_for(self, currency: str, country: str | None = None) -> AmountRange | None:
        """The limits for ``currency`` (in ``country``, when given)."""
        return next(
            (
                r
                for r in self.amounts
                if r.currency == currency and (country is None or r.serves(country))
            ),
            None,
        )

    def currencies_in(self, country: str) -> tuple[str, ...]:
        """The currencies this method is charged in, in ``country``."""
        return tuple(dict.fromkeys(r.currency for r in self.amounts if r.serves(country)))

    def why_not(self, request: ChargeRequest) -> str | None:
        """None when this capability can take the request, else a one-line reason."""
        refusal = self.refusal(request)
        return None if refusal is None else refusal.reason

    def refusal(self, request: ChargeRequest) -> Refusal | None:
        """None when this capability can take the request, else the field at fault and why.

        The checks run in the order a merchant fixes them: method, market, money, customer,
        return pages."""
        method = self.method
        if request.method != method:
            return Refusal("method", f"does not offer method {request.method!r}")
        country = request.country
        if self.countries is not None and country not in self.countries:
            return Refusal(
                "country",
                f"{method} is not offered in {country} (only {', '.join(self.countries)})",
            )
        amount = request.amount
        limits = self.range_for(amount.currency, country)
        if limits is None:
            return Refusal("amount.currency", self._currency_reason(amount.currency, country))
        if not limits.admits(amount):
            return Refusal("amount", f"{amount} is outside {method}'s limits ({limits})")
        if self.customer_fields:
            customer = request.customer
            for name in self.customer_fields:
                if not getattr(customer, name):
                    return Refusal(f"customer.{name}", f"{method} needs the customer's {name}")
        rules = self.return_urls
        urls = request.return_urls
        if urls is None:
            if rules.required:
                return Refusal(
                    "return_urls",
                    f"{method} sends the customer away from the checkout: give return_urls",
                )
            return None
        for group in rules.one_of:
            if all(getattr(urls, page) is None for page in group):
                return Refusal(
                    f"return_urls.{group[0]}",
                    f"{method} needs return_urls.{' or '.join(group)}"
                    + (
                        ": a customer who did not pay must not land on the success page"
                        if "success" not in group
                        else ""
                    ),
                )
        for page in rules.https:
            url = getattr(urls, page)
            if url is not None and urlsplit(url).scheme != "https":
                return Refusal(f"return_urls.{page}", f"{method} needs an https:// {page} page")
        return None

    def _currency_reason(self, currency: str, country: str) -> str:
        local = self.currencies_in(country)
        if local and any(r.currency == currency for r in self.amounts):
            # The currency exists, but for other markets: say which one this market uses.
            return f"{self.method} in {country} is charged in {', '.join(local)}, not {currency}"
        offered = ", ".join(local or dict.fromkeys(r.currency for r in self.amounts))
        return f"{self.method} does not take {currency} (only {offered})"


class RouteRule(Model):
    """A user rule: requests matching every given field go to ``providers``, in that order."""

    method: str | None = None
    country: str | None = None
    currency: str | None = None
    providers: tuple[str, ...] = Field(min_length=1)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        # A rule for "ZZ" would never match; one with a non-ASCII letter that upper() turns into
        # an ASCII one would match a country it does not name.
        if value is not None and not (value.isascii() and is_country(value.upper())):
            raise ValueError("is not an assigned ISO 3166-1 alpha-2 country code such as 'KR'")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) == 3 and value.isascii() and value.isalpha()):
            raise ValueError("must be three ASCII letters, an ISO 4217 code such as 'KRW'")
        return value

    def matches(self, request: ChargeRequest) -> bool:
        return (
            (self.method is None or self.method == request.method)
            and (self.country is None or self.country.upper() == request.country)
            and (self.currency is None or self.currency.upper() == request.amount.currency)
        )

    def __str__(self) -> str:
        parts = [
            f"{k}={v}"
            for k, v in (
                ("method", self.method),
                ("country", self.country),
                ("currency", self.currency),
            )
            if v
        ]
        return f"rule({', '.join(parts) or 'any'}) -> {', '.join(self.providers)}"


class RouteDecision(Model):
    """The provider chosen for a request, and why each other provider was passed over."""

    provider: str
    capability: Capability
    rule: str | None = None
    """The user rule that decided the order, if one matched."""
    candidates: tuple[str, ...]
    """Every provider that could take the request, best first."""
    rejected: dict[str, str] = Field(default_factory=dict)

    def explain(self) -> str:
        by = self.rule or "capability"
        if self.capability.origin == "config":
            by += ", capability from config" if self.rule else " from config"
        lines = [f"chosen: {self.provider} (by {by})"]
        lines += [f"also possible: {name}" for name in self.candidates[1:]]
        lines += [f"rejected {name}: {why}" for name, why in self.rejected.items()]
        return "\n".join(lines)
