"""Omise-Signature verification: HMAC-SHA256 over "<timestamp>.<raw body>", hex, comma-separated."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.errors import PaymuxError, WebhookParseError, WebhookVerificationError
from paymux.testing import no_network, run_flow
from paymux_omise.webhooks import verify_signature

KEY = b"paymux-omise-webhook-test-secret"
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
STAMP = str(int(NOW.timestamp()))
TOLERANCE = timedelta(minutes=5)


def _hex(body: bytes, stamp: str = STAMP, key: bytes = KEY) -> str:
    # Independent of the implementation's own helper on purpose.
    return hmac.new(key, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def _verify(body: bytes, signature: str, stamp: str = STAMP, now: datetime = NOW) -> None:
    verify_signature(
        body,
        {"Omise-Signature": signature, "Omise-Signature-Timestamp": stamp},
        key=KEY,
        now=now,
        tolerance=TOLERANCE,
    )


def test_known_vector() -> None:
    # Computed independently: HMAC-SHA256(key, "1773136800." + body).
    body = b'{"object":"event"}'
    _verify(body, _hex(body))


def test_header_names_are_case_insensitive() -> None:
    body = b"{}"
    verify_signature(
        body,
        {"OMISE-SIGNATURE": _hex(body), "omise-signature-timestamp": STAMP},
        key=KEY,
        now=NOW,
        tolerance=TOLERANCE,
    )


def test_any_signature_of_a_rolled_secret_is_enough() -> None:
    body = b'{"object":"event"}'
    old = _hex(body, key=b"the-old-secret")
    _verify(body, f"{old},{_hex(body)}")
    _verify(body, f"{_hex(body)}, {old}")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Omise-Signature": "ab"},
        {"Omise-Signature-Timestamp": STAMP},
        {"Omise-Signature": "ab", "Omise-Signature-Timestamp": "yesterday"},
    ],
)
def test_missing_or_malformed_headers(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_signature(b"{}", headers, key=KEY, now=NOW, tolerance=TOLERANCE)


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_timestamp_is_refused(skew: timedelta) -> None:
    stamp = str(int((NOW + skew).timestamp()))
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        _verify(b"{}", _hex(b"{}", stamp), stamp)


def test_timestamp_within_tolerance_is_accepted() -> None:
    stamp = str(int((NOW - timedelta(minutes=4)).timestamp()))
    _verify(b"{}", _hex(b"{}", stamp), stamp)


@given(body=st.binary(max_size=256), data=st.data())
def test_any_mutation_of_a_signed_body_fails(body: bytes, data: st.DataObject) -> None:
    signature = _hex(body)
    mutated = data.draw(st.binary(max_size=256).filter(lambda b: b != body))
    with pytest.raises(WebhookVerificationError):
        _verify(mutated, signature)


@given(body=st.binary(max_size=128), position=st.integers(min_value=0, max_value=127))
def test_flipping_any_bit_of_the_body_fails(body: bytes, position: int) -> None:
    if not body:
        return
    signature = _hex(body)
    index = position % len(body)
    flipped = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
    with pytest.raises(WebhookVerificationError):
        _verify(flipped, signature)


@given(body=st.binary(max_size=64), other=st.integers(min_value=0, max_value=2**33))
def test_signature_is_bound_to_its_timestamp(body: bytes, other: int) -> None:
    if str(other) == STAMP:
        return
    with pytest.raises(WebhookVerificationError):
        _verify(body, _hex(body, str(other)), STAMP)


@given(
    body=st.binary(max_size=128),
    headers=st.dictionaries(
        st.sampled_from(["Omise-Signature", "Omise-Signature-Timestamp", "X-Other"]),
        st.text(max_size=80),
    ),
)
def test_arbitrary_headers_only_raise_verification_errors(
    body: bytes, headers: dict[str, str]
) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_signature(body, headers, key=KEY, now=NOW, tolerance=TOLERANCE)


@given(body=st.binary(max_size=512))
def test_signed_garbage_raises_parse_error_without_network(kit: Any, body: bytes) -> None:
    provider = kit.provider(webhook_secret=kit.WEBHOOK_SECRET)
    with pytest.raises(WebhookParseError):
        run_flow(provider.parse_webhook(body, kit.signed_headers(body)), no_network)


@given(body=st.binary(max_size=512))
def test_unsigned_garbage_is_unverified_not_parsed(kit: Any, body: bytes) -> None:
    # Without a webhook secret nothing vouches for an unreadable body.
    with pytest.raises(PaymuxError) as caught:
        run_flow(kit.provider().parse_webhook(body, {}), no_network)
    assert isinstance(caught.value, WebhookVerificationError)
