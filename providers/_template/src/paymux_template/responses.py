"""Template Pay payloads -> neutral models. Every status and error code goes through a table.

Everything is read through :class:`paymux.payload.Payload`: a missing or mistyped field raises
``PayloadError``, which the core reports as ``ProviderError`` (code ``invalid_response``) for an
answer and ``WebhookParseError`` for a webhook. Nothing here catches it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import httpx

from paymux import Charge, ChargeStatus, Failure, FailureReason, Money, RedirectToUrl, Refund
from paymux.errors import (
    AuthenticationError,
    DuplicateRequest,
    InvalidRequest,
    NotFound,
    ProviderError,
    RateLimited,
)
from paymux.payload import INVALID_RESPONSE, Payload, PayloadError
from paymux.status import RefundStatus

ModelT = TypeVar("ModelT", Charge, Refund)

CHARGE_STATUSES: dict[str, ChargeStatus] = {
    "pending": ChargeStatus.PENDING,
    "succeeded": ChargeStatus.SUCCEEDED,
    "failed": ChargeStatus.FAILED,
    "expired": ChargeStatus.EXPIRED,
    "canceled": ChargeStatus.CANCELED,
}
UNKNOWN_CHARGE_STATUS = ChargeStatus.PENDING
"""A status no table names leaves the charge open: never paid on a guess."""

REFUND_STATUSES: dict[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
}
UNKNOWN_REFUND_STATUS = RefundStatus.PENDING

FAILURE_REASONS: dict[str, FailureReason] = {
    "declined": FailureReason.DECLINED,
    "insufficient_funds": FailureReason.INSUFFICIENT_FUNDS,
    "expired": FailureReason.EXPIRED,
}

# Error codes -> the error class users catch (by meaning, never by HTTP number).
ERROR_CLASSES: dict[str, type[ProviderError]] = {
    "unauthorized": AuthenticationError,
    "reference_reused": DuplicateRequest,
}
# Refusals made before anything was created: the request may be fixed and sent again.
NOTHING_DONE_CODES = frozenset({"unauthorized", "invalid_request", "reference_reused"})


def decode(response: httpx.Response, provider: str) -> Payload:
    """The JSON object of a successful answer; an error answer as its typed ``ProviderError``."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return Payload(body)
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    code = code if isinstance(code, str) else None
    text = message if isinstance(message, str) else f"HTTP {response.status_code}"
    status = response.status_code
    if status == 429 or code == "rate_limited":
        # Whatever the body says (a proxy may answer the 429 with HTML): nothing was done.
        raise RateLimited(text, provider=provider, code=code, http_status=status)
    if code == "not_found":
        # By id, or a reference search that reads every match: a miss is certain.
        raise NotFound(text, provider=provider, code=code, http_status=status, conclusive=True)
    raise ERROR_CLASSES.get(code or "", ProviderError)(
        text,
        provider=provider,
        code=code or (INVALID_RESPONSE if response.is_success else None),
        http_status=status,
        nothing_done=code in NOTHING_DONE_CODES,
    )


def parse_charge(data: Payload, provider: str) -> Charge:
    amount = data.money()
    raw_status = data.text("status")
    status = CHARGE_STATUSES.get(raw_status, UNKNOWN_CHARGE_STATUS)
    refunded_minor = data.integer("refunded_amount")  # cumulative: every refund so far
    if refunded_minor > amount.amount:
        raise data.fail("refunded_amount", "is more than the charge")
    refunded = Money(refunded_minor, amount.currency)
    if status is ChargeStatus.SUCCEEDED and refunded.amount:
        status = ChargeStatus.REFUNDED if refunded == amount else ChargeStatus.PARTIALLY_REFUNDED
    redirect = data.optional_text("redirect_url")
    action = None
    if status is ChargeStatus.PENDING and redirect is not None:
        status, action = ChargeStatus.REQUIRES_ACTION, RedirectToUrl(url=redirect)
    failure = None
    if status is ChargeStatus.FAILED or status is ChargeStatus.EXPIRED:
        code = data.optional_text("failure_code")
        reason = FAILURE_REASONS.get(code or "", FailureReason.UNKNOWN)
        if status is ChargeStatus.EXPIRED:
            reason = FailureReason.EXPIRED
        failure = Failure(reason=reason, code=code)
    values = dict(
        provider=provider,
        id=data.text("id"),
        reference=data.optional_text("reference"),
        amount=amount,
        method=data.optional_text("method"),
        status=status,
        next_action=action,
        failure=failure,
        refunded_amount=refunded,
        provider_status=raw_status,
        created_at=_timestamp(data, "created_at"),
        raw=dict(data.data),
    )
    return _built(Charge, values, data)


def parse_refund(data: Payload, provider: str) -> Refund:
    raw_status = data.text("status")
    values = dict(
        provider=provider,
        id=data.text("id"),
        charge_id=data.text("charge_id"),
        reference=data.optional_text("reference"),
        amount=data.money(),
        status=REFUND_STATUSES.get(raw_status, UNKNOWN_REFUND_STATUS),
        provider_status=raw_status,
        created_at=_timestamp(data, "created_at"),
        raw=dict(data.data),
    )
    return _built(Refund, values, data)


def _built(model: type[ModelT], values: dict[str, Any], data: Payload) -> ModelT:
    try:
        return model(**values)
    except InvalidRequest as exc:
        # A value the neutral model refuses came from the provider, not from the caller: it is
        # an unreadable answer, not the caller's InvalidRequest.
        raise PayloadError(f"{data.path or 'the answer'}: {exc}", data.path) from None


def _timestamp(data: Payload, key: str) -> datetime | None:
    text = data.optional_text(key)
    if text is None:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise data.fail(key, "is not an ISO 8601 time") from None
    if found.tzinfo is None:
        raise data.fail(key, "has no time zone")
    return found
