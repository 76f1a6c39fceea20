"""Omise webhook signatures and event envelopes.

``Omise-Signature`` is the hex HMAC-SHA256 of ``<Omise-Signature-Timestamp> + "." + <raw body>``
keyed with the base64-decoded webhook secret. While a secret is being rolled, Omise sends one
signature per active secret, comma-separated; any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from paymux import Charge
from paymux.errors import WebhookVerificationError
from paymux.payload import PayloadError
from paymux.webhook_limits import DEFAULT_LIMITS, WebhookLimits, check_size, check_structure
from paymux.webhook_security import (
    any_signature_matches,
    check_freshness,
    header,
    signed_at,
    split_signatures,
)

from .responses import mapping, optional_text, text, timestamp

SIGNATURE_HEADER = "omise-signature"
TIMESTAMP_HEADER = "omise-signature-timestamp"


def sign(key: bytes, timestamp_value: str, body: bytes) -> str:
    return hmac.new(key, timestamp_value.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    *,
    key: bytes,
    now: datetime,
    tolerance: timedelta,
    limits: WebhookLimits = DEFAULT_LIMITS,
) -> None:
    """Raise :class:`WebhookVerificationError` unless ``body`` is signed with ``key`` and fresh."""
    # Hashing is the one cost an unsigned body can cause here: bounded by the size cap.
    check_size(body, limits)
    signatures = header(headers, SIGNATURE_HEADER)
    stamp = header(headers, TIMESTAMP_HEADER)
    if not signatures:
        raise WebhookVerificationError("missing Omise-Signature header")
    if not stamp:
        raise WebhookVerificationError("missing Omise-Signature-Timestamp header")
    signed = signed_at(stamp, what="Omise-Signature-Timestamp")
    expected = sign(key, stamp.strip(), body)
    # Hex digests: Omise's case is not significant.
    if not any_signature_matches([expected], split_signatures(signatures.lower())):
        raise WebhookVerificationError("Omise-Signature does not match the body")
    check_freshness(signed, now=now, tolerance=tolerance)


@dataclass(frozen=True)
class EventEnvelope:
    """The parts of an Omise event the provider needs, read without trusting them yet."""

    id: str
    key: str
    data: Mapping[str, Any]
    created_at: datetime | None
    raw: dict[str, Any]

    @property
    def charge_id(self) -> str | None:
        """The charge the event is about (charge events and refund events)."""
        kind = self.data.get("object")
        if kind == "charge":
            value = self.data.get("id")
        elif kind == "refund":
            charge = self.data.get("charge")
            value = charge.get("id") if isinstance(charge, dict) else charge
        else:
            return None
        return value if isinstance(value, str) and value else None

    @property
    def refund_id(self) -> str | None:
        if self.data.get("object") != "refund":
            return None
        value = self.data.get("id")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Refetched:
    """An unsigned delivery proven by what Omise answered for the ids it names: the event (the
    body's, or Omise's own when it names no charge) and the charge as Omise holds it."""

    envelope: EventEnvelope
    charge: Charge | None


_EVENT_ID = re.compile(r"[A-Za-z0-9_\-]{1,100}")


def parse_envelope(body: bytes, limits: WebhookLimits = DEFAULT_LIMITS) -> EventEnvelope:
    """Read an event in the 2017-11-02 or 2019-05-29 shape; raise :class:`PayloadError`, or
    :class:`~paymux.webhook_limits.WebhookTooLarge` for a body over ``limits``."""
    check_size(body, limits)
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise PayloadError("the body is not JSON") from None
    check_structure(payload, limits)
    return envelope_from(payload)


def envelope_from(payload: Any) -> EventEnvelope:
    """An :class:`EventEnvelope` from a decoded event (a webhook body, or ``GET /events/{id}``)."""
    if not isinstance(payload, dict) or payload.get("object") != "event":
        raise PayloadError("the body is not an Omise event object")
    data = mapping(payload, "data")
    if data is None:
        raise PayloadError("the event has no 'data' object")
    key = text(payload, "key")
    if optional_text(data, "object") is None:
        raise PayloadError("the event's data has no 'object'")
    event_id = text(payload, "id")
    if not _EVENT_ID.fullmatch(event_id):
        # Omise ids are short ASCII words (evnt_test_...): anything else is not Omise's, and an
        # unsigned body must not get an oversized id as far as the ledger's dedupe table.
        raise PayloadError("the event id is not an Omise id")
    return EventEnvelope(
        id=event_id,
        key=key,
        data=data,
        created_at=timestamp(payload, "created_at", "created"),
        raw=payload,
    )
