"""paymux.webhook_security: the compare, freshness and header primitives every plugin verifies with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.errors import WebhookVerificationError
from paymux.webhook_security import (
    MAX_CANDIDATES,
    any_signature_matches,
    check_freshness,
    header,
    signed_at,
    split_signatures,
)

hex_digests = st.text("0123456789abcdef", min_size=64, max_size=64)


@given(
    expected=st.lists(hex_digests, min_size=1, max_size=2),
    claimed=st.lists(st.text(), max_size=MAX_CANDIDATES),
)
def test_a_match_is_found_exactly_when_some_claim_equals_some_expected(
    expected: list[str], claimed: list[str]
) -> None:
    assert any_signature_matches(expected, claimed) == bool(set(expected) & set(claimed))


@given(
    good=hex_digests,
    others=st.lists(hex_digests, max_size=MAX_CANDIDATES - 1),
    at=st.integers(0, 7),
)
def test_the_genuine_signature_matches_in_any_position(
    good: str, others: list[str], at: int
) -> None:
    claimed = [*others]
    claimed.insert(min(at, len(claimed)), good)
    assert any_signature_matches([good], claimed)


def test_non_ascii_claims_are_compared_not_raised() -> None:
    assert not any_signature_matches(["ab"], ["é", "\udc80"])


def test_too_many_candidates_are_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="more than the 8"):
        any_signature_matches(["a"], ["b"] * (MAX_CANDIDATES + 1))


def test_a_signature_header_splits_on_commas() -> None:
    assert split_signatures(" aa, bb ,,") == ["aa", "bb"]


def test_headers_are_found_whatever_their_case() -> None:
    assert header({"Omise-Signature": "x"}, "omise-signature") == "x"
    assert header({"omise-signature": "y"}, "omise-signature") == "y"
    assert header({}, "omise-signature") is None


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@given(offset=st.integers(-3600, 3600))
def test_freshness_admits_exactly_the_tolerance_either_way(offset: int) -> None:
    signed = NOW + timedelta(seconds=offset)
    tolerance = timedelta(minutes=5)
    if abs(offset) <= 300:
        check_freshness(signed, now=NOW, tolerance=tolerance)
    else:
        with pytest.raises(WebhookVerificationError, match="outside the 300 s tolerance"):
            check_freshness(signed, now=NOW, tolerance=tolerance)


@pytest.mark.parametrize("stamp", ["", "abc", "-5", "1.5", "١٢٣", "9" * 13, "999999999999"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(stamp: str) -> None:
    with pytest.raises(WebhookVerificationError):
        signed_at(stamp)


def test_a_unix_timestamp_is_read_as_utc() -> None:
    assert signed_at(" 1767268800 ") == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
