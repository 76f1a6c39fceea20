"""The objects the Omise emulator answers with, field for field as Omise records them.

The field sets are those of the recorded 2019-05-29 answers in the official SDKs' fixtures
(omise-php, recorded on Omise's staging API in 2025) and the KakaoPay samples of seed 004, so the
official client's attribute access finds every field the real API sends. A ``2017-11-02``
``Omise-Version`` gets the older shape (``created``, ``refunded``, lower-case currency, none of the
fields 2019-05-29 added).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

from starlette.responses import JSONResponse

LATEST_VERSION = "2019-05-29"
API_VERSIONS = frozenset({LATEST_VERSION, "2017-11-02"})

# The KakaoPay page's failure codes (seed 004), with the emulator's own message for each.
SEED_FAILURE_CODES: dict[str, str] = {
    "payment_expired": "payment expired",
    "payment_rejected": "payment was rejected by the provider",
    "failed_processing": "payment processing failed",
    "invalid_account": "no account can be used with this payment method",
    "insufficient_fund": "insufficient balance or limit reached",
}

# "KakaoPay payments can be refunded until 00:15 (GMT+8) of the next day" (seed 004). The
# emulator keeps its own copy rather than importing the plugin's, so a wrong window in one shows.
_WINDOW_ZONE = timezone(timedelta(hours=8))
_WINDOW_CLOSES = time(0, 15)

_ERROR_STATUS = {
    "authentication_failure": 401,
    "not_found": 404,
    "bad_request": 400,
    "invalid_charge": 400,
    "failed_refund": 400,
    "failed_capture": 400,
}

# Fields the 2019-05-29 version added (upgrade guide; the recorded answers of both versions).
_ADDED_IN_2019 = {
    "charge": frozenset(
        {
            "acquirer_reference_number",
            "approval_code",
            "authorization_type",
            "authorized_amount",
            "authorized_at",
            "can_perform_void",
            "captured_amount",
            "linked_account",
            "merchant_advice",
            "merchant_advice_code",
            "multi_capture",
            "partially_refundable",
            "refundable",
        }
    ),
    "source": frozenset({"ip", "promotion_code", "provider_references", "qr_settings"}),
    "refund": frozenset({"acquirer_reference_number", "approval_code"}),
    "event": frozenset({"webhook_deliveries"}),
}


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def refund_window_closes(paid_at: datetime) -> datetime:
    """00:15 GMT+8 of the day after ``paid_at`` (in GMT+8)."""
    local_day = paid_at.astimezone(_WINDOW_ZONE).date()
    return datetime.combine(local_day + timedelta(days=1), _WINDOW_CLOSES, _WINDOW_ZONE)


def error(code: str, message: str) -> JSONResponse:
    """Omise's error object, with the HTTP status Omise gives that code."""
    return JSONResponse(
        {
            "object": "error",
            "location": f"https://www.omise.co/api-errors#{code.replace('_', '-')}",
            "code": code,
            "message": message,
        },
        _ERROR_STATUS.get(code, 400),
    )


def not_found(kind: str, object_id: str) -> JSONResponse:
    # The real wording: "charge chrg_test_x was not found" (recorded 404 answers).
    return error("not_found", f"{kind} {object_id} was not found")


QR_TYPES = frozenset({"promptpay", "paynow"})
"""Offline sources: a QR code to scan, no authorize URL (docs.omise.co/promptpay, /paynow)."""


def source_object(
    source_id: str, kind: str, amount: int, currency: str, platform: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "object": "source",
        "id": source_id,
        "livemode": False,
        "location": f"/sources/{source_id}",
        "amount": amount,
        "barcode": None,
        "bank": None,
        "created_at": stamp(now),
        "currency": currency,
        "email": None,
        "flow": "offline" if kind in QR_TYPES else "app_redirect",
        "installment_term": None,
        "ip": None,
        "absorption_type": None,
        "name": None,
        "mobile_number": None,
        "phone_number": None,
        "platform_type": None if kind in QR_TYPES else platform,
        "scannable_code": None,
        "qr_settings": None,
        "billing": None,
        "shipping": None,
        "items": [],
        "references": None,
        "provider_references": None,
        "store_id": None,
        "store_name": None,
        "terminal_id": None,
        "type": kind,
        "zero_interest_installments": None,
        "charge_status": "unknown",
        "receipt_amount": None,
        "discounts": [],
        "promotion_code": None,
    }


def list_object(
    location: str, items: list[Any], *, offset: int, limit: int, total: int, order: str, to: str
) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "limit": limit,
        "offset": offset,
        "total": total,
        "location": location,
        "order": order,
        "from": "1970-01-01T00:00:00Z",
        "to": to,
    }


def charge_object(
    charge_id: str,
    *,
    amount: int,
    currency: str,
    description: Any,
    metadata: dict[str, Any],
    source: dict[str, Any],
    authorize_uri: str | None,
    return_uri: str | None,
    ip: Any,
    now: datetime,
) -> dict[str, Any]:
    return {
        "object": "charge",
        "id": charge_id,
        "location": f"/charges/{charge_id}",
        "amount": amount,
        "acquirer_reference_number": None,
        "approval_code": None,
        "authorization_type": None,
        "authorized_amount": 0,
        "captured_amount": 0,
        "net": 0,
        "fee": 0,
        "fee_vat": 0,
        "interest": 0,
        "interest_vat": 0,
        "funding_amount": amount,
        "refunded_amount": 0,
        "transaction_fees": {"fee_flat": "0.0", "fee_rate": "0.0", "vat_rate": "0.0"},
        "platform_fee": {"fixed": None, "amount": None, "percentage": None},
        "currency": currency,
        "funding_currency": currency,
        "ip": ip,
        "refunds": list_object(
            f"/charges/{charge_id}/refunds",
            [],
            offset=0,
            limit=20,
            total=0,
            order="chronological",
            to=stamp(now),
        ),
        "link": None,
        "linked_account": None,
        "description": description,
        "metadata": metadata,
        "card": None,
        "source": source,
        "schedule": None,
        "customer": None,
        "dispute": None,
        "transaction": None,
        "failure_code": None,
        "failure_message": None,
        "merchant_advice": None,
        "merchant_advice_code": None,
        "status": "pending",
        "authorize_uri": authorize_uri,
        "return_uri": return_uri,
        "created_at": stamp(now),
        "paid_at": None,
        "authorized_at": None,
        # Seven days after creation, in seed 004's KakaoPay charge and the recorded PayNow one.
        "expires_at": stamp(now + timedelta(days=7)),
        "expired_at": None,
        "reversed_at": None,
        "zero_interest_installments": False,
        "branch": None,
        "terminal": None,
        "device": None,
        "authorized": False,
        "capturable": False,
        "capture": True,
        "can_perform_void": False,
        "disputable": False,
        "livemode": False,
        "multi_capture": False,
        "refundable": False,
        "partially_refundable": False,
        "reversed": False,
        "reversible": False,
        "voided": False,
        "paid": False,
        "expired": False,
    }


def refund_object(
    refund_id: str,
    charge: dict[str, Any],
    amount: int,
    metadata: dict[str, Any],
    transaction: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "object": "refund",
        "id": refund_id,
        "location": f"/charges/{charge['id']}/refunds/{refund_id}",
        "livemode": False,
        # Closed at once unless the refund_delay knob keeps it pending.
        "status": "pending",
        "voided": False,
        "currency": charge["currency"],
        "amount": amount,
        "metadata": metadata,
        "charge": charge["id"],
        "capture": None,
        "terminal": None,
        "transaction": transaction,
        "funding_amount": amount,
        "funding_currency": charge["currency"],
        "created_at": stamp(now),
        "acquirer_reference_number": None,
        "approval_code": None,
    }


def event_object(event_id: str, key: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "object": "event",
        "id": event_id,
        "livemode": False,
        "location": f"/events/{event_id}",
        "webhook_deliveries": [],
        "data": data,
        "key": key,
        "created_at": stamp(now),
    }


def scannable_code(
    charge_id: str, document_id: str, download_uri: str, now: datetime
) -> dict[str, Any]:
    """``source.scannable_code`` of an offline charge, shaped as the recorded PayNow charge
    (omise-go fixture ``chrg_test_5nvdpnapyle90ejudk8``)."""
    return {
        "object": "barcode",
        "type": "qr",
        "image": {
            "object": "document",
            "livemode": False,
            "id": document_id,
            "deleted": False,
            "filename": "qrcode.png",
            "location": f"/charges/{charge_id}/documents/{document_id}",
            "download_uri": download_uri,
            "created_at": stamp(now),
        },
    }


# The payment methods each account country lists in ``GET /capability`` (of those paymux uses).
COUNTRY_METHODS = {"SG": ("kakaopay", "paynow"), "TH": ("kakaopay", "promptpay")}
COUNTRY_CURRENCY = {"SG": "SGD", "TH": "THB"}


def capability_object(
    country: str, limits: dict[tuple[str, str], tuple[int, int]]
) -> dict[str, Any]:
    """``GET /capability`` for an account of ``country``, shaped as the recorded Thai answer."""
    currency = COUNTRY_CURRENCY[country]
    low = min(limits[(m, currency)][0] for m in COUNTRY_METHODS[country])
    high = max(limits[(m, currency)][1] for m in COUNTRY_METHODS[country])
    return {
        "object": "capability",
        "location": "/capability",
        "banks": [],
        "limits": {
            "charge_amount": {"max": high, "min": low},
            "transfer_amount": {"max": high, "min": low},
            "installment_amount": {"min": low},
        },
        "payment_methods": [
            {
                "object": "payment_method",
                "name": method,
                "currencies": [currency],
                "card_brands": None,
                "installment_terms": None,
                "loan_installment_terms": None,
                "banks": [],
                "provider": None,
            }
            for method in COUNTRY_METHODS[country]
        ],
        "tokenization_methods": [],
        "zero_interest_installments": False,
        "country": country,
    }


def versioned(value: Any, version: str, mount: str = "") -> Any:
    """``value`` (a deep copy) in the shape of API ``version``.

    ``location`` paths get the emulator's ``mount`` path in front: at Omise they are paths on the
    API host, and the official client follows them (``refund.reload()``) from the host's root.
    """
    if isinstance(value, list):
        return [versioned(item, version, mount) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: versioned(item, version, mount) for key, item in value.items()}
    location = out.get("location")
    if mount and isinstance(location, str) and location.startswith("/"):
        out["location"] = mount + location
    if version == LATEST_VERSION:
        return out
    kind = out.get("object")
    for name in _ADDED_IN_2019.get(kind if isinstance(kind, str) else "", ()):
        out.pop(name, None)
    if "created_at" in out and kind in ("charge", "source", "refund", "event"):
        out["created"] = out.pop("created_at")
    if kind == "charge" and "refunded_amount" in out:
        out["refunded"] = out.pop("refunded_amount")
    for name in ("currency", "funding_currency"):
        if isinstance(out.get(name), str) and kind in ("charge", "source", "refund"):
            out[name] = out[name].lower()
    return out
