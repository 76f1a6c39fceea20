"""Template Pay webhooks: the signature scheme (verify) and the event shape (translate).

``Template-Signature`` is the hex HMAC-SHA256 of ``<Template-Timestamp> + "." + <raw body>``
keyed with the webhook secret; during a secret roll it carries one signature per secret,
comma-separated. The timestamp is signed too, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from paymux import WebhookEvent
from paymux.errors import WebhookVerificationError
from paymux.payload import Payload
from paymux.webhook_limits import check_size, load_json
from paymux.webhook_security import (
    any_signature_matches,
    check_freshness,
    header,
    signed_at,
    split_signatures,
)

from .responses import parse_charge, parse_refund
from .settings import TemplateSettings

SIGNATURE_HEADER = "template-signature"
TIMESTAMP_HEADER = "template-timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature Template Pay sends (the emulator signs with it too)."""
    return hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verified_payload(
    body: bytes, headers: Mapping[str, str], settings: TemplateSettings, now: datetime
) -> Payload:
    """The event as a :class:`Payload`, once the body is proven signed and fresh.

    In order: the size cap (hashing is the only cost an unsigned body may cause), the signature
    over the raw bytes, the signing time, and only then the JSON (within depth and size caps).
    """
    check_size(body, settings.webhook_limits)
    claimed = header(headers, SIGNATURE_HEADER)
    stamp = header(headers, TIMESTAMP_HEADER)
    if not claimed or not stamp:
        raise WebhookVerificationError("missing Template-Signature or Template-Timestamp header")
    secret = settings.webhook_secret.get_secret_value().encode()
    good = sign(secret, stamp.strip(), body)
    if not any_signature_matches([good], split_signatures(claimed.lower())):
        raise WebhookVerificationError("Template-Signature does not match the body")
    check_freshness(
        signed_at(stamp, what="Template-Timestamp"), now=now, tolerance=settings.webhook_tolerance
    )
    return Payload.of(load_json(body, settings.webhook_limits), "the event")


def translate(event: Payload, provider: str, verified_by: str) -> WebhookEvent:
    """The neutral event for a verified Template Pay event (``charge.updated`` or
    ``refund.updated``, carrying the object as it is now)."""
    kind = event.text("type")
    data = event.object("data")
    charge = parse_charge(data, provider) if kind == "charge.updated" else None
    refund = parse_refund(data, provider) if kind == "refund.updated" else None
    return WebhookEvent(
        provider=provider,
        # Template Pay numbers every change of an object once: redeliveries repeat the id,
        # a new state gets a new one.
        id=event.text("id"),
        charge=charge,
        refund=refund,
        occurred_at=None,
        verified_by=verified_by,
        provider_data={"event": kind},
        raw=dict(event.data),
    )
