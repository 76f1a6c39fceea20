"""Omise payloads -> neutral charges and refunds: the status and failure-code tables."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux import ChargeStatus, DisplayQrCode, FailureReason, Money, RedirectToUrl, RefundStatus
from paymux.errors import AuthenticationError, ProviderError
from paymux_omise.capabilities import refund_deadline
from paymux_omise.responses import (
    PayloadError,
    decode,
    find_charge_by_reference,
    parse_charge,
    parse_refund,
)


def test_seed_pending_charge_requires_redirect_to_its_authorize_uri(kit: Any) -> None:
    charge = kit.load_charge("seed004_charge_kakaopay_pending")
    assert charge.status is ChargeStatus.REQUIRES_ACTION
    assert charge.next_action == RedirectToUrl(
        url="https://pay.omise.co/payments/pay2_test_5w4415ngh7cl13qfgpk/authorize", method="GET"
    )
    assert charge.amount == Money(150000, "SGD")
    assert charge.method == "kakaopay"
    assert charge.provider_data["flow"] == "app_redirect"
    assert charge.provider_data["source_id"] == "src_test_5w4415cgbhf4uvxvqmp"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("charge_kakaopay_pending", ChargeStatus.REQUIRES_ACTION),
        ("charge_kakaopay_successful", ChargeStatus.SUCCEEDED),
        ("charge_kakaopay_partially_refunded", ChargeStatus.PARTIALLY_REFUNDED),
        ("charge_kakaopay_refunded", ChargeStatus.REFUNDED),
        ("charge_kakaopay_failed_payment_rejected", ChargeStatus.FAILED),
        ("charge_kakaopay_expired", ChargeStatus.EXPIRED),
        ("charge_kakaopay_reversed", ChargeStatus.CANCELED),
        ("charge_kakaopay_successful_2017", ChargeStatus.SUCCEEDED),
        # Shapes of the official SDKs' recorded charges (card, PayNow QR, Alipay+ wallet).
        ("charge_card_successful", ChargeStatus.SUCCEEDED),
        ("charge_card_successful_go_artefact", ChargeStatus.SUCCEEDED),
        ("charge_paynow_offline_qr_pending", ChargeStatus.REQUIRES_ACTION),
        ("charge_alipay_cn_app_redirect_expired", ChargeStatus.EXPIRED),
    ],
)
def test_charge_status_table(kit: Any, name: str, status: ChargeStatus) -> None:
    assert kit.load_charge(name).status is status


def test_official_list_shape_maps_every_charge(kit: Any) -> None:
    listing = kit.load("charges_list_mixed")
    found = {c["id"]: parse_charge(c, "omise") for c in listing["data"]}
    assert {k: (v.status, v.failure.reason if v.failure else None) for k, v in found.items()} == {
        "chrg_test_paymuxcard": (ChargeStatus.SUCCEEDED, None),
        "chrg_test_paymuxwechat": (ChargeStatus.SUCCEEDED, None),
        "chrg_test_paymuxbankexp": (ChargeStatus.EXPIRED, FailureReason.EXPIRED),
        "chrg_test_paymuxnsf": (ChargeStatus.FAILED, FailureReason.INSUFFICIENT_FUNDS),
        "chrg_test_paymuxfraud": (ChargeStatus.FAILED, FailureReason.FRAUD_SUSPECTED),
    }


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("payment_expired", FailureReason.EXPIRED),
        ("payment_rejected", FailureReason.REJECTED),
        ("failed_processing", FailureReason.PROCESSING_ERROR),
        ("invalid_account", FailureReason.INVALID_ACCOUNT),
        ("insufficient_fund", FailureReason.INSUFFICIENT_FUNDS),
        ("failed_fraud_check", FailureReason.FRAUD_SUSPECTED),
        ("wallet_on_fire", FailureReason.UNKNOWN),
    ],
)
def test_failure_codes(kit: Any, code: str, reason: FailureReason) -> None:
    charge = kit.load_charge(f"charge_kakaopay_failed_{code}")
    # failed + payment_expired is the same outcome as status expired: one neutral status.
    expected = ChargeStatus.EXPIRED if code == "payment_expired" else ChargeStatus.FAILED
    assert charge.status is expected
    assert charge.failure is not None
    assert (charge.failure.reason, charge.failure.code) == (reason, code)


def test_expired_without_failure_code_still_says_expired(kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_expired")
    assert charge.failure is not None
    assert (charge.failure.reason, charge.failure.code) == (FailureReason.EXPIRED, None)


@given(status=st.text(min_size=1, max_size=20), code=st.one_of(st.none(), st.text(max_size=20)))
def test_unknown_status_or_code_is_never_paid(status: str, code: str | None) -> None:
    payload = {
        "object": "charge",
        "id": "chrg_test_x",
        "amount": 2000,
        "currency": "THB",
        "status": status,
        "failure_code": code,
        "authorize_uri": None,
        "source": None,
    }
    if status == "successful":
        return
    charge = parse_charge(payload, "omise")
    assert not charge.status.is_paid


def test_unknown_status_maps_to_pending_and_is_kept(kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_unknown_status")
    assert charge.status is ChargeStatus.PENDING
    assert charge.next_action is None
    assert charge.provider_status == "teleported"


def test_offline_qr_charge_shows_the_image_url(kit: Any) -> None:
    action = kit.load_charge("charge_paynow_offline_qr_pending").next_action
    assert isinstance(action, DisplayQrCode)
    assert action.image_url is not None
    assert action.image_url.endswith("/documents/docu_test_paymuxqr/downloads/0A1B2C3D")
    assert action.expires_at == datetime(2026, 3, 17, 4, 58, 1, tzinfo=UTC)


def test_refunded_amount_and_reference(kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_partially_refunded")
    assert charge.refunded_amount == Money(50000, "SGD")
    assert charge.refundable_amount == Money(100000, "SGD")
    assert charge.reference == "order-345678"


def test_2017_shape_lower_case_currency_and_created(kit: Any) -> None:
    charge = kit.load_charge("charge_kakaopay_successful_2017")
    assert charge.amount == Money(150000, "SGD")
    assert charge.created_at == datetime(2026, 3, 10, 4, 58, 1, tzinfo=UTC)


def test_kakaopay_charge_exposes_refund_deadline(kit: Any) -> None:
    # Paid 13:00 GMT+8 on 10 March -> refundable until 00:15 GMT+8 on 11 March.
    charge = kit.load_charge("charge_kakaopay_successful")
    assert charge.refund_deadline == datetime(2026, 3, 10, 16, 15, tzinfo=UTC)
    assert kit.load_charge("charge_card_successful").refund_deadline is None
    assert kit.load_charge("charge_kakaopay_pending").refund_deadline is None


@pytest.mark.parametrize(
    ("paid_at", "deadline"),
    [
        # 23:59 GMT+8 -> 00:15 next day: sixteen minutes.
        (datetime(2026, 3, 10, 15, 59, tzinfo=UTC), datetime(2026, 3, 10, 16, 15, tzinfo=UTC)),
        # 00:30 GMT+8 (16:30 UTC the day before) belongs to the next GMT+8 day.
        (datetime(2026, 3, 10, 16, 30, tzinfo=UTC), datetime(2026, 3, 11, 16, 15, tzinfo=UTC)),
    ],
)
def test_refund_deadline_follows_the_gmt8_calendar_day(
    paid_at: datetime, deadline: datetime
) -> None:
    assert refund_deadline("kakaopay", paid_at) == deadline


@given(st.datetimes(timezones=st.just(UTC)))
def test_refund_deadline_is_between_15_minutes_and_24_hours_15_after_payment(
    paid_at: datetime,
) -> None:
    deadline = refund_deadline("kakaopay", paid_at)
    assert deadline is not None
    assert timedelta(minutes=15) <= deadline - paid_at <= timedelta(hours=24, minutes=15)


@pytest.mark.parametrize(
    ("name", "status", "shown"),
    [
        ("refund_closed", RefundStatus.SUCCEEDED, "closed"),
        ("refund_closed_voided", RefundStatus.SUCCEEDED, "closed (voided)"),
        ("refund_unknown_status", RefundStatus.PENDING, "in_flight"),
    ],
)
def test_refund_status_table(kit: Any, name: str, status: RefundStatus, shown: str) -> None:
    refund = parse_refund(kit.load(name), "omise")
    assert (refund.status, refund.provider_status) == (status, shown)


def test_search_picks_the_exact_reference_only(kit: Any) -> None:
    near = kit.load("charge_kakaopay_pending")
    near["id"], near["metadata"] = "chrg_test_near", {"paymux_reference": "order-3456789"}
    exact = kit.load("charge_kakaopay_successful")
    result = {"object": "search", "data": [near, exact]}
    found = find_charge_by_reference(result, "order-345678", "omise")
    assert found is not None
    assert found.id == "chrg_test_paymuxpaid"
    assert find_charge_by_reference(result, "order-1", "omise") is None


def _response(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(status, content=body, request=httpx.Request("GET", "https://x.test/"))


def test_error_object_becomes_provider_error_with_code_and_status() -> None:
    body = b'{"object":"error","code":"failed_refund","message":"charge cannot be refunded"}'
    with pytest.raises(ProviderError) as caught:
        decode(_response(400, body), "omise")
    assert (caught.value.code, caught.value.http_status) == ("failed_refund", 400)
    assert caught.value.message == "charge cannot be refunded"


def test_authentication_failure_is_authentication_error() -> None:
    body = b'{"object":"error","code":"authentication_failure","message":"authentication failed"}'
    with pytest.raises(AuthenticationError):
        decode(_response(401, body), "omise")


def test_error_object_with_200_is_still_an_error() -> None:
    with pytest.raises(ProviderError):
        decode(_response(200, b'{"object":"error","code":"not_found","message":"x"}'), "omise")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
CHARGE_KEYS = st.sampled_from(
    [
        "object",
        "id",
        "amount",
        "currency",
        "status",
        "failure_code",
        "source",
        "refunds",
        "refunded_amount",
        "metadata",
        "paid_at",
        "created_at",
        "authorize_uri",
        "expires_at",
    ]
)


@given(st.dictionaries(CHARGE_KEYS, JSON, max_size=14))
def test_charge_parser_raises_only_payload_error_on_wrong_shapes(payload: dict[str, Any]) -> None:
    payload.setdefault("object", "charge")
    with contextlib.suppress(PayloadError):
        parse_charge(payload, "omise")


@given(
    st.sampled_from(["charge_kakaopay_successful", "charge_paynow_offline_qr_pending"]),
    CHARGE_KEYS,
    JSON,
)
def test_charge_parser_survives_any_single_field_replaced(name: str, key: str, value: Any) -> None:
    import json
    from pathlib import Path

    payload = json.loads((Path(__file__).parent / "data" / f"{name}.json").read_text())
    payload[key] = value
    with contextlib.suppress(PayloadError):
        parse_charge(payload, "omise")


@given(JSON)
def test_refund_parser_raises_only_payload_error(payload: Any) -> None:
    with contextlib.suppress(PayloadError):
        parse_refund(payload, "omise")


@given(st.integers(min_value=100, max_value=599), st.binary(max_size=64))
def test_decode_raises_only_paymux_errors(status: int, body: bytes) -> None:
    with contextlib.suppress(ProviderError):
        decode(_response(status, body), "omise")
