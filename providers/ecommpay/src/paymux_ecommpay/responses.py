"""Gate payloads -> neutral models. Statuses and codes translate through the tables below only.

An unknown status leaves the charge open (``pending``) and an unknown code gives
``FailureReason.UNKNOWN``; the provider's own word is always kept (``provider_status``, ``code``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from paymux.errors import (
    AuthenticationError,
    DuplicateRequest,
    NotFound,
    ProviderError,
    RateLimited,
)
from paymux.models import Charge, Failure, Refund
from paymux.money import Money
from paymux.next_action import NextAction
from paymux.payload import PayloadError, money_in
from paymux.status import ChargeStatus, FailureReason, RefundStatus

from .capabilities import neutral_method

# -- tables -----------------------------------------------------------------------------------

UNKNOWN_PAYMENT_STATUS = ChargeStatus.PENDING
"""A payment status no table names leaves the charge open: never paid on a guess."""
UNKNOWN_OPERATION_STATUS = RefundStatus.PENDING
UNKNOWN_CODE = FailureReason.UNKNOWN

PAYMENT_STATUSES: dict[str, ChargeStatus] = {
    "success": ChargeStatus.SUCCEEDED,
    "decline": ChargeStatus.FAILED,
    "decline renewal": ChargeStatus.FAILED,
    "error": ChargeStatus.FAILED,
    "internal error": ChargeStatus.FAILED,
    "external error": ChargeStatus.FAILED,
    "expired": ChargeStatus.EXPIRED,
    "canceled": ChargeStatus.CANCELED,
    "cancelled": ChargeStatus.CANCELED,
    "invoice cancelled": ChargeStatus.CANCELED,
    "refunded": ChargeStatus.REFUNDED,
    "reversed": ChargeStatus.REFUNDED,
    "partially refunded": ChargeStatus.PARTIALLY_REFUNDED,
    "partially reversed": ChargeStatus.PARTIALLY_REFUNDED,
    # Open: the result comes later. "awaiting customer" is a declined attempt the customer may
    # retry; the platform declines the payment for good at the method's limit time.
    "processing": ChargeStatus.PENDING,
    "external processing": ChargeStatus.PENDING,
    "awaiting customer": ChargeStatus.PENDING,
    "awaiting customer action": ChargeStatus.PENDING,
    "awaiting 3ds result": ChargeStatus.PENDING,
    "awaiting redirect result": ChargeStatus.PENDING,
    "awaiting clarification": ChargeStatus.PENDING,
    "awaiting clarify data": ChargeStatus.PENDING,
    "awaiting capture": ChargeStatus.PENDING,
    "awaiting merchant auth": ChargeStatus.PENDING,
    "awaiting approval": ChargeStatus.PENDING,
    "awaiting confirmation": ChargeStatus.PENDING,
    "awaiting payment": ChargeStatus.PENDING,
    "awaiting retry": ChargeStatus.PENDING,
    "awaiting clearing": ChargeStatus.PENDING,
    "awaiting partially clearing": ChargeStatus.PENDING,
    "clearing processing": ChargeStatus.PENDING,
    "scheduled recurring processing": ChargeStatus.PENDING,
    "partially paid": ChargeStatus.PENDING,
    "partially paid out": ChargeStatus.PENDING,
    "invoice sent": ChargeStatus.PENDING,
}

OPERATION_STATUSES: dict[str, RefundStatus] = {
    "success": RefundStatus.SUCCEEDED,
    "decline": RefundStatus.FAILED,
    "error": RefundStatus.FAILED,
    "internal error": RefundStatus.FAILED,
    "external error": RefundStatus.FAILED,
    "expired": RefundStatus.FAILED,
    "invoice cancelled": RefundStatus.FAILED,
    "processing": RefundStatus.PENDING,
    "external processing": RefundStatus.PENDING,
    "awaiting 3ds result": RefundStatus.PENDING,
    "awaiting redirect result": RefundStatus.PENDING,
    "awaiting customer": RefundStatus.PENDING,
    "awaiting customer action": RefundStatus.PENDING,
    "awaiting clarification": RefundStatus.PENDING,
    "awaiting merchant auth": RefundStatus.PENDING,
    "awaiting approval": RefundStatus.PENDING,
    "awaiting finalization": RefundStatus.PENDING,
    "awaiting confirmation": RefundStatus.PENDING,
    "awaiting payment": RefundStatus.PENDING,
    "invoice sent": RefundStatus.PENDING,
    "unknown": RefundStatus.PENDING,
}

# Operation status -> charge status, used only when a payload has no payment status.
OPERATION_CHARGE_STATUSES: dict[str, ChargeStatus] = {
    "success": ChargeStatus.SUCCEEDED,
    "decline": ChargeStatus.FAILED,
    "error": ChargeStatus.FAILED,
    "internal error": ChargeStatus.FAILED,
    "external error": ChargeStatus.FAILED,
    "expired": ChargeStatus.EXPIRED,
}

REFUND_OPERATION_TYPES = frozenset({"refund", "reversal"})

# Codes that mean "still in progress", never a failure.
AWAITING_CODES = frozenset({"0", "9999", "19999", "29999"})

CODE_REASONS: dict[str, FailureReason] = {
    "100": FailureReason.DECLINED,
    "104": FailureReason.AUTHENTICATION_FAILED,
    "301": FailureReason.CANCELED,
    "310": FailureReason.REJECTED,
    "314": FailureReason.PROCESSING_ERROR,
    "402": FailureReason.FRAUD_SUSPECTED,
    "501": FailureReason.PROCESSING_ERROR,
    "502": FailureReason.REJECTED,
    "601": FailureReason.PROCESSING_ERROR,
    "602": FailureReason.PROCESSING_ERROR,
    "903": FailureReason.LIMIT_EXCEEDED,
    "1434": FailureReason.FRAUD_SUSPECTED,
    "10000": FailureReason.DECLINED,
    "10105": FailureReason.INSUFFICIENT_FUNDS,
    "20000": FailureReason.DECLINED,
    "20100": FailureReason.DECLINED,
    "20105": FailureReason.INSUFFICIENT_FUNDS,
    "20301": FailureReason.CANCELED,
    "20602": FailureReason.EXPIRED,
    "30302": FailureReason.PROCESSING_ERROR,
    "3283": FailureReason.LIMIT_EXCEEDED,
}

# Rejections of a request as a whole that mean the project id or secret key is wrong.
AUTHENTICATION_CODES = frozenset({"3261", "3262", "2442"})

# The payment id or merchant_refund_id was used before: a repeat, not a new operation.
DUPLICATE_CODES = frozenset({"3041", "3230"})

# "Transaction not found": the payment id (or request id) is unknown to the Gate.
NOT_FOUND_CODES = frozenset({"3061"})

# Refusals of a request the Gate validated and did not act on (malformed, unknown method,
# signature, project, settings). Anything else may have reached a payment: not listed here.
NOTHING_DONE_CODES = frozenset(
    {"702", "2003", "2004", "2442", "2541", "310", "3261", "3262", "3283", "3284", "3285", "3613"}
)

# Human-readable text for the request rejections we meet most (the Gate's own text wins).
REQUEST_CODES: dict[str, str] = {
    "702": "malformed request",
    "2003": "invalid JSON string",
    "2004": "a required field is missing",
    "2442": "project id not found",
    "2541": "unknown payment method",
    "3041": "payment id already exists (this reference was sent before; no second payment)",
    "3060": "the payment's status does not allow this operation",
    "3061": "transaction not found",
    "3230": "an operation with this merchant_refund_id already exists (no second refund was made)",
    "3261": "invalid signature (check the secret key)",
    "3262": "empty signature",
    "3283": "refund amount is more than the payment amount",
    "3284": "refund currency does not match the payment",
    "3285": "repeat refund blocked for a while; try later",
    "3613": "duplicate operation; resend later",
}


def failure_for(
    code: str | None, message: str | None, status: ChargeStatus | None = None
) -> Failure:
    reason = CODE_REASONS.get(code or "", UNKNOWN_CODE)
    if reason is UNKNOWN_CODE and not code:
        # No code at all: the payment status is the best evidence of why.
        reason = {
            ChargeStatus.EXPIRED: FailureReason.EXPIRED,
            ChargeStatus.CANCELED: FailureReason.CANCELED,
        }.get(status or ChargeStatus.PENDING, UNKNOWN_CODE)
    return Failure(reason=reason, code=code or None, message=message or None)


# -- defensive access -------------------------------------------------------------------------
# Lenient where the Gate is loose (an empty list for an empty object, ids as numbers or text, an
# optional field of an odd type read as absent), which paymux.payload.Payload is not on purpose;
# every refusal is the core's PayloadError, and amounts are read by the core (money_in).


def obj(parent: Mapping[str, Any], key: str, *, required: bool = False) -> Mapping[str, Any]:
    value = parent.get(key)
    if type(value) is dict or isinstance(value, Mapping):  # dict first: an ABC check is slow
        return value
    if value is None and not required:
        return {}
    # An empty JSON list stands in for an empty object in some ECommPay payloads.
    if value == [] and not required:
        return {}
    raise PayloadError(f"'{key}' is {'missing' if value is None else 'not an object'}")


def text(parent: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = parent.get(key)
    if type(value) is str and value:  # the common case, without isinstance
        return value
    if isinstance(value, str) and value != "":
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # Ids and codes come as numbers or strings depending on the field and the platform version.
        return str(value)
    if required:
        raise PayloadError(f"'{key}' is missing or not text")
    return None


def money(parent: Mapping[str, Any], key: str) -> Money | None:
    node = parent.get(key)
    if node is None:
        return None
    if type(node) is not dict and not isinstance(node, Mapping):
        raise PayloadError(f"'{key}' is not an amount object", key)
    return money_in(node, key)


_GATE_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)([+-])(\d\d)([0-5]\d)", re.ASCII
)


def when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        # C-fast and, since Python 3.11, reads the Gate's "+0000" offsets: the common case.
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    # The Gate's own spelling (2025-11-25T12:00:00+0000), read without strptime's overhead; the
    # same datetime strptime("%Y-%m-%dT%H:%M:%S%z") gives. Anything else takes the general path.
    match = _GATE_TIME.fullmatch(value)
    if match is not None:
        year, month, day, hour, minute, second, sign, tz_h, tz_m = match.groups()
        offset = timedelta(hours=int(tz_h), minutes=int(tz_m))
        try:
            zone = timezone(-offset if sign == "-" else offset)
            return datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone
            )
        except ValueError:
            pass
    for parse in (lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S%z"), datetime.fromisoformat):
        try:
            return parse(value)
        except ValueError:
            continue
    return None


def without_signatures(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A copy fit for ``.raw``: signatures are credentials-derived and stay out of logs."""
    data = {k: v for k, v in payload.items() if k != "signature"}
    general = data.get("general")
    if isinstance(general, Mapping):
        data["general"] = {k: v for k, v in general.items() if k != "signature"}
    return data


# -- synchronous answers ----------------------------------------------------------------------


def read_json(response: httpx.Response, provider: str) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        if response.status_code == 429:
            # A rate limit means the same whatever the body (a proxy's page, nothing at all).
            raise rejection(None, response, provider) from None
        raise ProviderError(
            "the Gate's answer is not JSON",
            provider=provider,
            http_status=response.status_code,
        ) from None


def rejection(payload: Any, response: httpx.Response, provider: str) -> ProviderError:
    """The error for an answer with ``status: error`` or an HTTP error status."""
    code: str | None = None
    message: str | None = None
    if isinstance(payload, Mapping):
        code = text(payload, "code")
        message = text(payload, "message")
        errors = payload.get("errors")
        if (code is None or message is None) and isinstance(errors, list) and errors:
            first = errors[0] if isinstance(errors[0], Mapping) else {}
            code = code or text(first, "code")
            message = message or text(first, "message")
    explained = REQUEST_CODES.get(code or "")
    message = message or explained or f"request refused (HTTP {response.status_code})"
    if explained and explained.lower() not in message.lower():
        message = f"{message} — {explained}"
    raw = without_signatures(payload) if isinstance(payload, Mapping) else None
    status = response.status_code
    if code in NOT_FOUND_CODES or (code is None and status == 404):
        # Recorded Gate answers say 3061 with HTTP 200; the emulator adds a 404: the same meaning.
        return NotFound(message, provider=provider, code=code, http_status=status, raw=raw)
    if status == 429:
        return RateLimited(message, provider=provider, code=code, http_status=status, raw=raw)
    error_class: type[ProviderError] = ProviderError
    if code in AUTHENTICATION_CODES:
        error_class = AuthenticationError
    elif code in DUPLICATE_CODES:
        error_class = DuplicateRequest
    return error_class(
        message,
        provider=provider,
        code=code,
        http_status=status,
        raw=raw,
        nothing_done=code in NOTHING_DONE_CODES or code in DUPLICATE_CODES,
    )


def accepted(response: httpx.Response, provider: str) -> dict[str, Any]:
    """The body of a "request accepted" answer to sale/refund/clarification, or the refusal."""
    payload = read_json(response, provider)
    if (
        response.is_success
        and isinstance(payload, Mapping)
        and payload.get("status") == "success"
        and isinstance(payload.get("request_id"), str)
    ):
        return without_signatures(payload)
    if isinstance(payload, Mapping) and (
        payload.get("status") == "error" or not response.is_success
    ):
        raise rejection(payload, response, provider)
    raise ProviderError(
        "unexpected answer from the Gate; look the payment up before retrying",
        provider=provider,
        http_status=response.status_code,
        raw=without_signatures(payload) if isinstance(payload, Mapping) else None,
    )


# -- payment + operation -> Charge / Refund ---------------------------------------------------


def charge_status(payment_status: str | None, operation_status: str | None) -> ChargeStatus:
    if payment_status is not None:
        return PAYMENT_STATUSES.get(payment_status.lower(), UNKNOWN_PAYMENT_STATUS)
    return OPERATION_CHARGE_STATUSES.get((operation_status or "").lower(), UNKNOWN_PAYMENT_STATUS)


def operation_failure(
    operation: Mapping[str, Any], payload: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    code = text(operation, "code")
    message = text(operation, "message")
    errors = payload.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        code = code if code and code not in AWAITING_CODES else text(errors[0], "code") or code
        message = message or text(errors[0], "message")
    return code, message


def build_charge(
    provider: str,
    payload: Mapping[str, Any],
    *,
    operation: Mapping[str, Any],
    amount: Money,
    refunded: Money | None,
    status: ChargeStatus,
    next_action: NextAction | None,
) -> Charge:
    payment = obj(payload, "payment")
    payment_id = text(payment, "id") or text(obj(payload, "general"), "payment_id")
    if payment_id is None:
        raise PayloadError("'payment.id' is missing")
    provider_status = text(payment, "status") or text(operation, "status")
    failure = None
    if status in (ChargeStatus.FAILED, ChargeStatus.EXPIRED, ChargeStatus.CANCELED):
        code, message = operation_failure(operation, payload)
        failure = failure_for(code, message, status)
    provider_data = {}
    for key in ("request_id", "id"):
        value = text(operation, key)
        if value:
            provider_data["request_id" if key == "request_id" else "operation_id"] = value
    provider_payment = text(obj(operation, "provider"), "payment_id")
    if provider_payment:
        provider_data["provider_payment_id"] = provider_payment
    if status is ChargeStatus.REFUNDED and refunded is None:
        # "refunded" with no amounts at hand still means nothing is left to refund.
        refunded = amount
    # Every value below is typed by this function (text() gives str, when() a datetime, the
    # models are built), so the Charge is built without pydantic re-validating them (a webhook
    # hot path); the one cross-field check, the refunded amount's currency, is done here.
    values: dict[str, Any] = {
        "provider": provider,
        "id": payment_id,
        "reference": payment_id,
        "amount": amount,
        "method": neutral_method(payment.get("method")),
        "status": status,
        "next_action": next_action if not status.is_final else None,
        "failure": failure,
        "refunded_amount": amount.zero() if refunded is None else refunded,
        "provider_status": provider_status,
        "created_at": when(operation.get("created_date")) or when(payment.get("date")),
        "refund_deadline": None,
        "provider_data": provider_data,
        "metadata": {},
        "refunds": None,
        "raw": without_signatures(payload),
    }
    if values["refunded_amount"].currency != amount.currency:
        return Charge(**values)  # refused, with the model's own message
    return Charge._from_checked(values)


def build_refund(
    provider: str, payment_id: str, operation: Mapping[str, Any], payload: Mapping[str, Any]
) -> Refund:
    amount = money(operation, "sum_initial") or money(operation, "sum_converted")
    if amount is None:
        raise PayloadError("the refund operation has no amount")
    op_status = text(operation, "status") or ""
    status = OPERATION_STATUSES.get(op_status.lower(), UNKNOWN_OPERATION_STATUS)
    failure = None
    if status is RefundStatus.FAILED:
        code, message = operation_failure(operation, payload)
        failure = failure_for(code, message)
    refund_id = text(operation, "request_id") or text(operation, "id", required=True)
    assert refund_id is not None
    return Refund(
        provider=provider,
        id=refund_id,
        charge_id=payment_id,
        reference=text(obj(payload, "payment"), "merchant_refund_id"),
        amount=amount,
        status=status,
        failure=failure,
        provider_status=op_status or None,
        created_at=when(operation.get("created_date")) or when(operation.get("date")),
        raw=without_signatures(payload),
    )


def expires_after(seconds: object, start: datetime | None) -> datetime | None:
    """``add_info`` ``expired_timestamp``: seconds the QR stays valid, or an epoch time."""
    try:
        value = int(str(seconds))
    except ValueError:
        return None
    if value <= 0:
        return None
    if value > 1_000_000_000:
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if start is None:
        return None
    try:
        return start + timedelta(seconds=value)
    except OverflowError:
        return None
