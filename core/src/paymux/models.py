"""The provider-neutral request and result models."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any

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

    ``country`` is an assigned ISO 3166-1 alpha-2 code (``KR``; ``UK`` or ``ZZ`` are refused);
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
    """Inclusive limits in minor units; ``maximum`` None means no stated limit."""

    currency: str
    minimum: int = Field(default=0, ge=0)
    maximum: int | None = None

    def admits(self, money: Money) -> bool:
        return (
            money.currency == self.currency
            and money.amount >= self.minimum
            and (self.maximum is None or money.amount <= self.maximum)
        )

    def __str__(self) -> str:
        if self.maximum is None:
            return f"{self.currency} >= {Money(self.minimum, self.currency)}"
        return f"{self.currency} {Money(self.minimum, self.currency)} .. {Money(self.maximum, self.currency)}"


class Capability(Model):
    """What one provider can do for one payment method."""

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

    def range_for(self, currency: str) -> AmountRange | None:
        return next((r for r in self.amounts if r.currency == currency), None)

    def why_not(self, request: ChargeRequest) -> str | None:
        """None when this capability can take the request, else a one-line reason."""
        if request.method != self.method:
            return f"does not offer method {request.method!r}"
        if self.countries is not None and request.country not in self.countries:
            return f"{self.method} is not offered in {request.country} (only {', '.join(self.countries)})"
        limits = self.range_for(request.amount.currency)
        if limits is None:
            currencies = ", ".join(r.currency for r in self.amounts)
            return f"{self.method} does not take {request.amount.currency} (only {currencies})"
        if not limits.admits(request.amount):
            return f"{request.amount} is outside {self.method}'s limits ({limits})"
        return None


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
        lines = [
            f"chosen: {self.provider}" + (f" (by {self.rule})" if self.rule else " (by capability)")
        ]
        lines += [f"also possible: {name}" for name in self.candidates[1:]]
        lines += [f"rejected {name}: {why}" for name, why in self.rejected.items()]
        return "\n".join(lines)
