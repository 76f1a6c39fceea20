"""What every plugin needs to prove a webhook genuine: signature compare, freshness, header reads.

Body caps live next door in :mod:`paymux.webhook_limits`; a verify step checks them first, so an
unsigned body can cost at most one bounded hash. Everything here raises
:class:`~paymux.errors.WebhookVerificationError` (or returns a bool), never anything a caller
could mistake for a parsed event.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from .errors import WebhookVerificationError

MAX_CANDIDATES = 8
"""Signatures accepted in one delivery: two secrets during a key roll, plus slack. More is an
attempt to grind the comparison."""


def any_signature_matches(expected: Iterable[str], claimed: Iterable[str]) -> bool:
    """True when some ``claimed`` signature equals some ``expected`` one, in constant time.

    Every pair is compared (no early exit), so the time taken does not reveal which candidate
    matched or how many characters did. Raises :class:`WebhookVerificationError` for more than
    :data:`MAX_CANDIDATES` claimed signatures.
    """
    claims = [c.encode("utf-8", "surrogatepass") for c in claimed]
    if len(claims) > MAX_CANDIDATES:
        raise WebhookVerificationError(
            f"{len(claims)} signatures in one delivery, more than the {MAX_CANDIDATES} accepted"
        )
    matched = False
    for good in expected:
        wanted = good.encode("ascii")
        for claim in claims:
            # Bytes on both sides: compare_digest refuses non-ASCII str, and a claim is untrusted.
            matched |= hmac.compare_digest(claim, wanted)
    return matched


def split_signatures(header_value: str) -> list[str]:
    """A comma-separated signature header (one per active secret) as its non-empty parts."""
    return [part.strip() for part in header_value.split(",") if part.strip()]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive ``name`` (lower case) from any mapping (frameworks differ)."""
    value = headers.get(name)
    if isinstance(value, str):
        return value
    for key, found in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return found if isinstance(found, str) else None
    return None


def signed_at(stamp: str, *, what: str = "the signature timestamp") -> datetime:
    """A Unix time in seconds from a header, as an aware datetime; refused when not one."""
    stamp = stamp.strip()
    # Twelve digits reach past year 9999: nothing genuine is signed that far out.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise WebhookVerificationError(f"{what} is not a Unix time in seconds")
    try:
        return datetime.fromtimestamp(int(stamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookVerificationError(
            f"{what} is out of range: a replay, or a clock out of sync"
        ) from None


def check_freshness(signed: datetime, *, now: datetime, tolerance: timedelta) -> None:
    """Refuse a delivery signed further than ``tolerance`` from ``now``, either way.

    A captured genuine delivery replayed later carries its old time; a clock far ahead is refused
    too, since it would make a delivery replayable for that long.
    """
    if abs(now - signed) > tolerance:
        raise WebhookVerificationError(
            f"webhook signed at {signed:%Y-%m-%dT%H:%M:%SZ}, outside the"
            f" {int(tolerance.total_seconds())} s tolerance: a replay, or a clock out of sync"
        )


__all__ = [
    "MAX_CANDIDATES",
    "any_signature_matches",
    "check_freshness",
    "header",
    "signed_at",
    "split_signatures",
]
