"""Webhooks through the gateway: signature, re-fetch, forgeries (cassettes/omise/test_omise_webhooks/)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from paymux import ChargeStatus, Gateway, RefundStatus
from paymux.errors import WebhookVerificationError

EVENT = "event_charge_complete_successful"


@pytest.mark.vcr
def test_signed_webhook_is_verified_then_refetched(make_gateway: Any, kit: Any) -> None:
    gateway = make_gateway(webhook_secret=kit.WEBHOOK_SECRET)
    body = kit.body(EVENT)
    event = gateway.parse_webhook("omise", body, kit.signed_headers(body))
    # Typed by what it reports (the refetched charge is paid); Omise's own word is kept.
    assert (event.id, event.type, event.verified_by) == (
        "evnt_test_paymuxcomplete",
        "charge.succeeded",
        "signature+refetch",
    )
    assert event.provider_data == {"event": "charge.complete"}
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.SUCCEEDED


def test_tampered_webhook_is_refused_before_any_request(make_gateway: Any, kit: Any) -> None:
    gateway: Gateway = make_gateway(webhook_secret=kit.WEBHOOK_SECRET)
    body = kit.body(EVENT)
    headers = kit.signed_headers(body)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        gateway.parse_webhook("omise", body.replace(b"150000", b"150001"), headers)


def test_stale_webhook_is_refused(make_gateway: Any, kit: Any) -> None:
    gateway: Gateway = make_gateway(webhook_secret=kit.WEBHOOK_SECRET)
    body = kit.body(EVENT)
    headers = kit.signed_headers(body, at=kit.NOW - timedelta(minutes=6))
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        gateway.parse_webhook("omise", body, headers)


def test_tolerance_is_configurable(make_gateway: Any, kit: Any) -> None:
    gateway: Gateway = make_gateway(
        webhook_secret=kit.WEBHOOK_SECRET, webhook_tolerance=60, refetch_webhooks=False
    )
    body = kit.body(EVENT)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        gateway.parse_webhook(
            "omise", body, kit.signed_headers(body, at=kit.NOW - timedelta(seconds=61))
        )
    event = gateway.parse_webhook(
        "omise", body, kit.signed_headers(body, at=kit.NOW - timedelta(seconds=59))
    )
    assert event.verified_by == "signature"


@pytest.mark.vcr
def test_rolled_secret_signatures(make_gateway: Any, kit: Any) -> None:
    gateway = make_gateway(webhook_secret=kit.WEBHOOK_SECRET)
    body = kit.body(EVENT)
    old = kit.signed_headers(body, key=b"the secret before the roll")
    new = kit.signed_headers(body)
    headers = {**new, "Omise-Signature": f"{old['Omise-Signature']},{new['Omise-Signature']}"}
    event = gateway.parse_webhook("omise", body, headers)
    assert event.charge is not None


@pytest.mark.vcr
def test_unsigned_webhook_returns_the_state_omise_reports(gateway: Gateway, kit: Any) -> None:
    # The body claims "successful"; the API says the charge is still pending. The API wins.
    event = gateway.parse_webhook("omise", kit.body(EVENT), {})
    assert event.verified_by == "refetch"
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.REQUIRES_ACTION


@pytest.mark.vcr
def test_unsigned_webhook_for_a_charge_omise_does_not_know_is_forged(
    gateway: Gateway, kit: Any
) -> None:
    with pytest.raises(WebhookVerificationError, match="unknown to Omise"):
        gateway.parse_webhook("omise", kit.body("event_charge_complete_unknown_charge"), {})


def test_signed_webhook_with_a_wrong_signature_is_forged(make_gateway: Any, kit: Any) -> None:
    gateway: Gateway = make_gateway(webhook_secret=kit.WEBHOOK_SECRET)
    body = kit.body(EVENT)
    with pytest.raises(WebhookVerificationError):
        gateway.parse_webhook("omise", body, kit.signed_headers(body, key=b"attacker's guess"))


@pytest.mark.vcr
def test_unsigned_refund_event_is_checked_against_the_charge(gateway: Gateway, kit: Any) -> None:
    event = gateway.parse_webhook("omise", kit.body("event_refund_create"), {})
    assert event.type == "refund.succeeded"
    assert event.provider_data == {"event": "refund.create"}
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.PARTIALLY_REFUNDED
    assert event.refund is not None
    assert (event.refund.id, event.refund.status) == (
        "rfnd_test_paymuxpartial1",
        RefundStatus.SUCCEEDED,
    )


@pytest.mark.vcr
def test_unsigned_non_charge_event_must_exist_at_omise(gateway: Gateway, kit: Any) -> None:
    with pytest.raises(WebhookVerificationError):
        gateway.parse_webhook("omise", kit.body("event_customer_create"), {})


def test_2017_event_shape_with_refetch_off(make_gateway: Any, kit: Any) -> None:
    gateway: Gateway = make_gateway(webhook_secret=kit.WEBHOOK_SECRET, refetch_webhooks=False)
    body = kit.body("event_charge_complete_2017")
    event = gateway.parse_webhook("omise", body, kit.signed_headers(body))
    assert event.id == "evnt_test_paymuxold2017"
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.SUCCEEDED
    assert event.charge.amount.currency == "SGD"
    assert event.occurred_at is not None
