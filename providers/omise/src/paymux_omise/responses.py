"""Omise payloads -> neutral models. Status and code mappings are tables, not branches.

Every reader here raises :class:`PayloadError` on a shape it does not expect; the provider turns
that into ``ProviderError`` (API answers) or ``WebhookParseError`` (webhooks). Nothing lets a
``KeyError``/``TypeError``/``ValueError`` out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from paymux import (
    Charge,
    ChargeStatus,
    DisplayQrCode,
    Failure,
    FailureReason,
    Money,
    NextAction,
    RedirectToUrl,
    Refund,
    RefundStatus,
)
from paymux.errors import (
    AuthenticationError,
    NotFound,
    PaymuxError,
    ProviderError,
    RateLimited,
)
from paymux.payload import Payload
from paymux.payload import PayloadError as PayloadError  # re-exported for modules and tests

from .capabilities import refund_deadline

REFERENCE_KEY = "paymux_reference"
"""Metadata key holding the merchant reference on charges (and refunds) paymux creates."""

# -- tables ------------------------------------------------------------------------------------

CHARGE_STATUSES: Mapping[str, ChargeStatus] = {
    "pending": ChargeStatus.PENDING,
    "successful": ChargeStatus.SUCCEEDED,
    "failed": ChargeStatus.FAILED,
    "expired": ChargeStatus.EXPIRED,
    "reversed": ChargeStatus.CANCELED,
}
# Not final, so the ledger keeps polling; never a paid state.
UNKNOWN_CHARGE_STATUS = ChargeStatus.PENDING

# A ``failed`` charge whose code names an outcome paymux has its own status for. Omise reports a
# charge the customer never finished both as ``expired`` and as ``failed`` + ``payment_expired``
# (seed 004): one outcome, so one neutral status, ``expired`` with reason ``expired``.
FAILURE_CODE_STATUSES: Mapping[str, ChargeStatus] = {
    "payment_expired": ChargeStatus.EXPIRED,
}

FAILURE_REASONS: Mapping[str, FailureReason] = {
    # The KakaoPay page's list (seed 004).
    "payment_expired": FailureReason.EXPIRED,
    "payment_rejected": FailureReason.REJECTED,
    "failed_processing": FailureReason.PROCESSING_ERROR,
    "invalid_account": FailureReason.INVALID_ACCOUNT,
    # "Insufficient balance or limit reached" (seed 004): Omise does not say which, so the neutral
    # reason is the broader one and the provider's message is kept in ``Failure.message``.
    "insufficient_fund": FailureReason.INSUFFICIENT_FUNDS,
    # Seen in recorded charges and the generated omise-go v2 enum.
    "failed_fraud_check": FailureReason.FRAUD_SUSPECTED,
    "insufficient_balance": FailureReason.INSUFFICIENT_FUNDS,
    "invalid_account_number": FailureReason.INVALID_ACCOUNT,
    "invalid_security_code": FailureReason.DECLINED,
    "payment_cancelled": FailureReason.CANCELED,
    "timeout": FailureReason.PROCESSING_ERROR,
}

# Why a charge is over when Omise gave no failure code for it.
STATUS_FAILURE_REASONS: Mapping[ChargeStatus, FailureReason] = {
    ChargeStatus.FAILED: FailureReason.UNKNOWN,
    ChargeStatus.EXPIRED: FailureReason.EXPIRED,
    ChargeStatus.CANCELED: FailureReason.CANCELED,
}

REFUND_STATUSES: Mapping[str, RefundStatus] = {
    "closed": RefundStatus.SUCCEEDED,
    "pending": RefundStatus.PENDING,
}
# Only "closed" has ever been observed; anything else is not yet proof that money went back.
UNKNOWN_REFUND_STATUS = RefundStatus.PENDING

# Error codes whose meaning is "your credentials are wrong" rather than "this request is wrong".
AUTHENTICATION_ERROR_CODES = frozenset({"authentication_failure"})

# Refusals Omise gives after validating a request and before making anything (api-errors page);
# ``backend_error`` ("retry later") is missing on purpose: the server may have acted.
NOTHING_DONE_CODES = frozenset(
    {
        "authentication_failure",
        "bad_request",
        "brand_not_supported",
        "invalid_card",
        "invalid_card_token",
        "invalid_charge",
        "missing_card",
        "not_found",
        "used_token",
    }
)


# -- small typed readers ------------------------------------------------------------------------
# The core's reader (paymux.payload) under the names this plugin's modules call them by; each
# raises paymux's one PayloadError, converted by the core.


def text(data: Mapping[str, Any], name: str) -> str:
    return Payload(data).text(name)


def optional_text(data: Mapping[str, Any], name: str) -> str | None:
    return Payload(data).optional_text(name)


def integer(data: Mapping[str, Any], name: str) -> int:
    return Payload(data).integer(name)


def mapping(data: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    found = Payload(data).optional_object(name)
    return None if found is None else found.data


def timestamp(data: Mapping[str, Any], *names: str) -> datetime | None:
    """The first present timestamp among ``names`` (2019 ``created_at``, 2017 ``created``)."""
    for name in names:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise PayloadError(f"{name!r} is not a timestamp")
        try:
            parsed = datetime.fromisoformat(value.replace(" UTC", "+00:00"))
        except ValueError:
            raise PayloadError(f"{name!r} is not an ISO 8601 timestamp") from None
        if parsed.tzinfo is None:
            raise PayloadError(f"{name!r} has no time zone")
        return parsed
    return None


def expect_object(data: Any, kind: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise PayloadError(f"expected a JSON object ({kind}), got {type(data).__name__}")
    found = data.get("object")
    if found != kind:
        raise PayloadError(f"expected object {kind!r}, got {found!r}")
    return data


# -- HTTP answers --------------------------------------------------------------------------------


def decode(response: httpx.Response, provider: str) -> Any:
    """The JSON body of a successful answer; Omise's error object becomes a ``ProviderError``."""
    try:
        body: Any = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        body = None
    status = response.status_code
    is_error_object = isinstance(body, dict) and body.get("object") == "error"
    if status >= 400 or is_error_object:
        raise error_from(status, body if is_error_object else None, provider)
    if body is None:
        raise ProviderError(
            "the answer is not JSON", provider=provider, code="invalid_response", http_status=status
        )
    return body


def error_from(status: int, body: Mapping[str, Any] | None, provider: str) -> ProviderError:
    raw_code = body.get("code") if body is not None else None
    raw_message = body.get("message") if body is not None else None
    code = raw_code if isinstance(raw_code, str) else None
    message = raw_message if isinstance(raw_message, str) else None
    raw = dict(body) if body is not None else None
    if code == "not_found" or (code is None and status == 404):
        # By id: the object does not exist (search look-ups raise their own NotFound).
        return NotFound(
            message or "not found",
            provider=provider,
            code=code or "not_found",
            http_status=status,
            raw=raw,
            conclusive=True,
        )
    if status == 429:
        return RateLimited(
            message or "too many requests",
            provider=provider,
            code=code,
            http_status=status,
            raw=raw,
        )
    if body is None:
        cls = AuthenticationError if status == 401 else ProviderError
        return cls(
            "error without an Omise error object",
            provider=provider,
            code=None,
            http_status=status,
            nothing_done=status == 401,
        )
    cls = (
        AuthenticationError
        if code in AUTHENTICATION_ERROR_CODES or status == 401
        else ProviderError
    )
    return cls(
        message or "Omise refused the request",
        provider=provider,
        code=code,
        http_status=status,
        raw=raw,
        nothing_done=code in NOTHING_DONE_CODES,
    )


# -- charges -------------------------------------------------------------------------------------


def refunded_minor_units(data: Mapping[str, Any]) -> int:
    # 2019-05-29: refunded_amount; 2017-11-02: refunded (an amount); else the embedded list.
    for name in ("refunded_amount", "refunded"):
        value = data.get(name)
        if value is not None and not isinstance(value, bool):
            return integer(data, name)
    refunds = mapping(data, "refunds")
    items = refunds.get("data") if refunds else None
    if not isinstance(items, list):
        return 0
    total = 0
    for item in items:
        if not isinstance(item, dict):
            raise PayloadError("a refund in 'refunds' is not an object")
        total += integer(item, "amount")
    return total


def listed_refunds(data: Mapping[str, Any], provider: str) -> tuple[Refund, ...] | None:
    """The charge's embedded refund list, when it holds every refund (``total`` says how many).

    The ledger attributes refunds by id and reference from this list; a partial page could not
    prove a refund absent, so it counts as no list at all.
    """
    refunds = mapping(data, "refunds")
    items = refunds.get("data") if refunds else None
    total = refunds.get("total") if refunds else None
    if not isinstance(items, list) or not isinstance(total, int) or total != len(items):
        return None
    return tuple(parse_refund(item, provider).model_copy(update={"raw": None}) for item in items)


def charge_status(
    data: Mapping[str, Any], amount: int, refunded: int, has_action: bool
) -> ChargeStatus:
    status = CHARGE_STATUSES.get(text(data, "status"), UNKNOWN_CHARGE_STATUS)
    if status is ChargeStatus.FAILED:
        status = FAILURE_CODE_STATUSES.get(optional_text(data, "failure_code") or "", status)
    if status is ChargeStatus.PENDING and has_action:
        return ChargeStatus.REQUIRES_ACTION
    if status is ChargeStatus.SUCCEEDED:
        if refunded >= amount > 0:
            return ChargeStatus.REFUNDED
        if refunded > 0:
            return ChargeStatus.PARTIALLY_REFUNDED
    return status


def failure(data: Mapping[str, Any], status: ChargeStatus) -> Failure | None:
    if status not in STATUS_FAILURE_REASONS:
        return None
    code = optional_text(data, "failure_code")
    message = optional_text(data, "failure_message")
    if code is None or status is ChargeStatus.EXPIRED:
        # An expired charge is expired whatever code came with it (one outcome, one meaning).
        return Failure(reason=STATUS_FAILURE_REASONS[status], code=code, message=message)
    return Failure(
        reason=FAILURE_REASONS.get(code, FailureReason.UNKNOWN), code=code, message=message
    )


def next_action(
    data: Mapping[str, Any], source: Mapping[str, Any] | None, expires_at: datetime | None
) -> NextAction | None:
    """What the customer must do for a pending charge, if anything."""
    if data.get("authorized") is True:
        # Authorised and waiting for the merchant's capture: nothing left for the customer.
        return None
    scannable = mapping(source, "scannable_code") if source else None
    if scannable is not None:
        image = mapping(scannable, "image")
        url = optional_text(image, "download_uri") if image else None
        if url:
            return DisplayQrCode(image_url=url, expires_at=expires_at)
    authorize_uri = optional_text(data, "authorize_uri")
    if authorize_uri:
        # app_redirect and redirect alike: Opn's page decides between the app and a QR.
        return RedirectToUrl(url=authorize_uri, method="GET")
    return None


def method_of(data: Mapping[str, Any], source: Mapping[str, Any] | None) -> str | None:
    if source is not None:
        return optional_text(source, "type")
    return "card" if data.get("card") else None


def provider_data(data: Mapping[str, Any], source: Mapping[str, Any] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    if source is not None:
        for key, name in (
            ("source_id", "id"),
            ("source_type", "type"),
            ("flow", "flow"),
            ("platform_type", "platform_type"),
        ):
            value = source.get(name)
            if isinstance(value, str) and value:
                found[key] = value
    for name in ("transaction", "expires_at", "authorize_uri", "location"):
        value = data.get(name)
        if isinstance(value, str) and value:
            found[name] = value
    if isinstance(data.get("livemode"), bool):
        found["livemode"] = "true" if data["livemode"] else "false"
    return found


def parse_charge(payload: Any, provider: str) -> Charge:
    data = expect_object(payload, "charge")
    charge_id = text(data, "id")
    amount = integer(data, "amount")
    # 2017-11-02 payloads carry lower-case currency codes; the reader upper-cases them.
    total = Payload(data).money()
    raw_status = text(data, "status")
    refunded = min(refunded_minor_units(data), amount)
    if data.get("voided") is True and CHARGE_STATUSES.get(raw_status) is ChargeStatus.SUCCEEDED:
        # Voided before settlement: the whole amount went back at once, whatever
        # ``refunded_amount`` says, and nothing is left to refund.
        refunded = amount
    source = mapping(data, "source")
    expires_at = timestamp(data, "expires_at")
    action = (
        next_action(data, source, expires_at)
        if CHARGE_STATUSES.get(raw_status) is ChargeStatus.PENDING
        else None
    )
    status = charge_status(data, amount, refunded, action is not None)
    metadata = mapping(data, "metadata") or {}
    reference = metadata.get(REFERENCE_KEY)
    method = method_of(data, source)
    paid_at = timestamp(data, "paid_at") if status.is_paid else None
    try:
        return Charge(
            provider=provider,
            id=charge_id,
            reference=reference if isinstance(reference, str) and reference else None,
            amount=total,
            method=method,
            status=status,
            next_action=action if status is ChargeStatus.REQUIRES_ACTION else None,
            failure=failure(data, status),
            refunded_amount=Money(refunded, total.currency),
            provider_status=raw_status,
            created_at=timestamp(data, "created_at", "created"),
            refund_deadline=refund_deadline(method, paid_at),
            provider_data=provider_data(data, source),
            metadata=merchant_metadata(data),
            refunds=listed_refunds(data, provider),
            raw=dict(data),
        )
    except PaymuxError as exc:
        raise PayloadError(f"charge {charge_id}: {exc}") from None


@dataclass(frozen=True)
class ChargePage:
    """One page of a search or list answer: the charges on it whose reference is exactly ours."""

    matches: tuple[Charge, ...]
    next: int | None
    """The next page number (search) or offset (list); None on the last page."""


def _exact_matches(items: list[Any], reference: str, provider: str) -> tuple[Charge, ...]:
    # Omise's search matches whole words case-insensitively (``order`` finds ``Order-123``), and
    # a list holds every charge of the window: only the exact metadata value is ours.
    matches = []
    for item in items:
        metadata = item.get("metadata") if isinstance(item, dict) else None
        if isinstance(metadata, dict) and metadata.get(REFERENCE_KEY) == reference:
            matches.append(parse_charge(item, provider))
    return tuple(matches)


def _page_number(payload: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"{name!r} is not a non-negative integer")
    return value


def _data(payload: Any, kind: str, what: str) -> list[Any]:
    """The ``data`` list of a collection answer whose ``object`` is ``kind``."""
    if not isinstance(payload, dict) or payload.get("object") != kind:
        raise PayloadError(f"expected a {what}")
    items = payload.get("data")
    if not isinstance(items, list):
        raise PayloadError(f"{what} has no 'data' list")
    return items


def search_page(payload: Any, reference: str, provider: str) -> ChargePage:
    """A ``GET /search`` answer: ``page`` of ``total_pages``, 30 charges a page by default."""
    items = _data(payload, "search", "search result")
    # An answer without paging fields is one page (older search answers carry none).
    page = _page_number(payload, "page", 1)
    total_pages = _page_number(payload, "total_pages", 1)
    return ChargePage(
        _exact_matches(items, reference, provider), page + 1 if page < total_pages else None
    )


def list_page(payload: Any, reference: str, provider: str) -> ChargePage:
    """A ``GET /charges`` answer: ``limit`` charges from ``offset`` of ``total``."""
    items = _data(payload, "list", "list")
    offset = _page_number(payload, "offset")
    total = _page_number(payload, "total")
    following = offset + len(items)
    more = bool(items) and following < total
    return ChargePage(_exact_matches(items, reference, provider), following if more else None)


def list_items(payload: Any) -> tuple[list[Any], int | None]:
    """A ``GET /charges`` or ``GET /charges/{id}/refunds`` answer: its objects and the offset
    of the next page (None on the last)."""
    items = _data(payload, "list", "list")
    offset = _page_number(payload, "offset", 0)
    total = _page_number(payload, "total", len(items))
    following = offset + len(items)
    return items, following if items and following < total else None


def merchant_metadata(data: Mapping[str, Any]) -> dict[str, str]:
    """A charge's metadata without paymux's own keys (``paymux_*``): what the merchant sent."""
    found = mapping(data, "metadata") or {}
    return {
        key: value
        for key, value in found.items()
        if isinstance(key, str) and isinstance(value, str) and not key.startswith("paymux_")
    }


def best_match(matches: Iterable[Charge]) -> Charge | None:
    """The charge a reference stands for: a paid one first, else the newest.

    More than one means the reference was charged twice outside paymux's guard; the paid one is
    the one the merchant must know about.
    """
    found = list(matches)
    if not found:
        return None
    paid = [c for c in found if c.status.is_paid]
    candidates = paid or found
    return max(candidates, key=lambda c: (c.created_at is not None, c.created_at or datetime.min))


def find_charge_by_reference(payload: Any, reference: str, provider: str) -> Charge | None:
    """The charge one search or list page holds for ``reference`` (exact metadata match)."""
    if isinstance(payload, dict) and payload.get("object") == "list":
        return best_match(list_page(payload, reference, provider).matches)
    return best_match(search_page(payload, reference, provider).matches)


# -- refunds -------------------------------------------------------------------------------------


def parse_refund(payload: Any, provider: str) -> Refund:
    data = expect_object(payload, "refund")
    refund_id = text(data, "id")
    raw_status = optional_text(data, "status")
    status = REFUND_STATUSES.get(raw_status or "", UNKNOWN_REFUND_STATUS)
    charge = data.get("charge")
    # Some versions expand the charge into an object.
    charge_id = charge.get("id") if isinstance(charge, dict) else charge
    if not isinstance(charge_id, str) or not charge_id:
        raise PayloadError("refund has no charge id")
    metadata = mapping(data, "metadata") or {}
    reference = metadata.get(REFERENCE_KEY)
    shown_status = raw_status
    if data.get("voided") is True:
        # Refunded before settlement: Omise voided the charge instead; no fee, same outcome.
        shown_status = f"{raw_status or 'unknown'} (voided)"
    try:
        return Refund(
            provider=provider,
            id=refund_id,
            charge_id=charge_id,
            reference=reference if isinstance(reference, str) and reference else None,
            amount=Payload(data).money(),
            status=status,
            provider_status=shown_status,
            created_at=timestamp(data, "created_at", "created"),
            raw=dict(data),
        )
    except PaymuxError as exc:
        raise PayloadError(f"refund {refund_id}: {exc}") from None
