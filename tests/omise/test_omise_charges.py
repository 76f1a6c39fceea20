"""Charges through the real gateway and httpx, replayed from cassettes/omise/test_omise_charges/."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from paymux import ChargeStatus, DisplayQrCode, FailureReason, Gateway, Money, RedirectToUrl
from paymux.errors import InvalidRequest, NotFound

SEED_AUTHORIZE = "https://pay.omise.co/payments/pay2_test_5w4415ngh7cl13qfgpk/authorize"


@pytest.mark.vcr
def test_one_call_charge(gateway: Gateway, kit: Any, vcr: Any) -> None:
    charge = gateway.create_charge(kit.request())
    assert charge.status is ChargeStatus.REQUIRES_ACTION
    assert charge.next_action == RedirectToUrl(url=SEED_AUTHORIZE, method="GET")
    assert (charge.provider, charge.id, charge.reference) == (
        "omise",
        "chrg_test_5w4415netlwqpc54tyg",
        "order-345678",
    )
    sent = json.loads(vcr.requests[-1].body)
    assert sent["source"] == {"type": "kakaopay", "platform_type": "WEB"}
    assert sent["metadata"] == {"paymux_reference": "order-345678"}


@pytest.mark.vcr
def test_charge_of_an_existing_source(gateway: Gateway, kit: Any, vcr: Any) -> None:
    request = kit.request(provider_options={"source_id": "src_test_5w4415ken4foy3yfgk4"})
    charge = gateway.create_charge(request)
    assert charge.status is ChargeStatus.REQUIRES_ACTION
    assert isinstance(charge.next_action, RedirectToUrl)
    assert json.loads(vcr.requests[-1].body)["source"] == "src_test_5w4415ken4foy3yfgk4"


@pytest.mark.vcr
def test_source_with_another_amount_is_refused_before_charging(
    gateway: Gateway, kit: Any, vcr: Any
) -> None:
    from paymux import Money

    request = kit.request(
        amount=Money(100000, "SGD"), provider_options={"source_id": "src_test_5w4415ken4foy3yfgk4"}
    )
    with pytest.raises(InvalidRequest, match="equal"):
        gateway.create_charge(request)
    # The look-up by reference (search, then the recent charge list), the source; no POST.
    assert [r.method for r in vcr.requests] == ["GET", "GET", "GET"]


@pytest.mark.vcr
def test_second_create_with_the_same_reference_returns_the_first_charge(
    gateway: Gateway, kit: Any, vcr: Any
) -> None:
    charge = gateway.create_charge(kit.request())
    assert charge.id == "chrg_test_paymuxpending"
    assert [r.method for r in vcr.requests] == ["GET"]


STATUS_CASES = [
    ("pending", "chrg_test_paymuxpending", ChargeStatus.REQUIRES_ACTION, None),
    ("successful", "chrg_test_paymuxpaid", ChargeStatus.SUCCEEDED, None),
    ("partially_refunded", "chrg_test_paymuxpartial", ChargeStatus.PARTIALLY_REFUNDED, None),
    ("refunded", "chrg_test_paymuxrefunded", ChargeStatus.REFUNDED, None),
    ("failed", "chrg_test_paymuxfailpaymentrej", ChargeStatus.FAILED, FailureReason.REJECTED),
    (
        "failed_unknown_code",
        "chrg_test_paymuxfailwalletonfi",
        ChargeStatus.FAILED,
        FailureReason.UNKNOWN,
    ),
    ("expired", "chrg_test_paymuxexpired", ChargeStatus.EXPIRED, FailureReason.EXPIRED),
    ("reversed", "chrg_test_paymuxreversed", ChargeStatus.CANCELED, FailureReason.CANCELED),
    ("offline_qr", "chrg_test_paymuxpaynowqr", ChargeStatus.REQUIRES_ACTION, None),
]


@pytest.mark.vcr
@pytest.mark.parametrize(
    ("status", "charge_id", "expected", "reason"),
    [pytest.param(*case, id=case[0]) for case in STATUS_CASES],
)
def test_retrieve_charge_in_every_status(
    gateway: Gateway,
    status: str,
    charge_id: str,
    expected: ChargeStatus,
    reason: FailureReason | None,
) -> None:
    charge = gateway.retrieve_charge("omise", charge_id)
    assert charge.id == charge_id
    assert charge.status is expected
    assert (charge.failure.reason if charge.failure else None) is reason
    if status == "offline_qr":
        assert isinstance(charge.next_action, DisplayQrCode)


@pytest.mark.vcr
def test_retrieve_by_reference_after_a_lost_create(gateway: Gateway) -> None:
    charge = gateway.retrieve_charge("omise", "order-345678")
    assert (charge.id, charge.reference) == ("chrg_test_paymuxpending", "order-345678")


@pytest.mark.vcr
def test_retrieve_by_unknown_reference(gateway: Gateway, vcr: Any) -> None:
    with pytest.raises(NotFound) as caught:
        gateway.retrieve_charge("omise", reference="order-345678")
    # The search may lag; the charge list of the last search_lag does not: the miss is certain.
    assert caught.value.code == "not_found"
    assert caught.value.conclusive
    assert [r.path for r in vcr.requests] == ["/search", "/charges"]


@pytest.mark.vcr
@pytest.mark.parametrize(
    ("method", "country", "currency"),
    [("paynow", "SG", "SGD"), ("promptpay", "TH", "THB")],
    ids=["paynow", "promptpay"],
)
def test_qr_charge(
    make_gateway: Any, kit: Any, vcr: Any, method: str, country: str, currency: str
) -> None:
    gateway = make_gateway(country=country)
    request = kit.request(
        method=method, country=country, amount=Money(150000, currency), return_urls=None
    )
    charge = gateway.create_charge(request)
    assert (charge.method, charge.status) == (method, ChargeStatus.REQUIRES_ACTION)
    assert charge.provider_data["flow"] == "offline"
    qr = charge.next_action
    assert isinstance(qr, DisplayQrCode)
    create, download = vcr.requests[-2], vcr.requests[-1]
    sent = json.loads(create.body)
    assert sent["source"] == {"type": method}
    assert "return_uri" not in sent, "the customer never leaves the checkout"
    assert qr.image_url == str(download.url)
    assert "authorization" not in {k.lower() for k in download.headers}
    assert qr.image_png is not None and qr.image_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert qr.expires_at == datetime(2026, 3, 17, 10, 0, tzinfo=UTC)
