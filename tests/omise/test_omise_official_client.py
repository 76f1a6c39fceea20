"""The official ``omise`` client (0.16.0) against the Omise emulator: every call it makes for the
objects paymux supports (charge, source, refund, event, capability, search), each answered with the
fields Omise's recorded answers have (``data/official/``, sources in its ``SOURCES.tsv``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import omise
import pytest
from omise_sandbox import emulator, official_client, sandbox

from paymux import ChargeStatus, FailureReason, Gateway
from paymux.sandbox import Sandbox
from paymux_omise.emulator import SECRET_KEY
from paymux_omise.emulator_objects import SEED_FAILURE_CODES, refund_window_closes
from paymux_omise.responses import parse_charge

__all__ = ["emulator", "official_client", "sandbox"]  # the fixtures, imported for pytest
# Every test here drives the official client.
pytestmark = pytest.mark.usefixtures("official_client")

OFFICIAL = Path(__file__).parent / "data" / "official"


def recorded(name: str) -> Any:
    return json.loads((OFFICIAL / f"{name}.json").read_text())


def keys(value: Any) -> frozenset[str]:
    return frozenset(value._attributes if isinstance(value, omise.Base) else value)


# The field sets of the recorded answers, by object kind (all 2019-05-29).
CHARGES = [
    recorded("seed004-charge-kakaopay-pending"),
    recorded("php-charge-get"),
    recorded("php-charge-expire-post"),
    recorded("php-charge-patch"),
    *recorded("php-charges-get")["data"],
]
RECORDED = {
    "charge": CHARGES,
    "source": [
        recorded("seed004-source-kakaopay"),
        recorded("php-source-post"),
        recorded("php-source-get"),
        *(c["source"] for c in CHARGES if c["source"]),
    ],
    "refund": [recorded("php-refund-post"), recorded("php-refund-get")],
    "event": [recorded("php-event-get"), *recorded("php-events-get")["data"]],
    "capability": [recorded("php-capability-get")],
    "search": [recorded("php-search-get")],
    "list": [recorded("php-charges-get"), recorded("php-events-get")],
    "error": [recorded("go-charge-404-get"), recorded("go-refund-404-get")],
}


def assert_recorded_fields(value: Any) -> None:
    """Every field each recorded answer of this kind has, and none that no recording has."""
    data = value._attributes if isinstance(value, omise.Base) else value
    kind = data["object"]
    found = keys(data)
    for sample in RECORDED[kind]:
        assert keys(sample) <= found, f"{kind} lacks {sorted(keys(sample) - found)}"
    invented = found - frozenset().union(*(keys(s) for s in RECORDED[kind]))
    assert not invented, f"{kind} has fields no recording has: {sorted(invented)}"
    if isinstance(value, omise.Base):
        # The client's attribute access: what raised AttributeError before.
        for name in found:
            getattr(value, name)


def _charge(amount: int = 150000, **extra: Any) -> Any:
    source = omise.Source.create(type="kakaopay", amount=amount, currency="SGD")
    return omise.Charge.create(
        amount=amount,
        currency="SGD",
        source=source.id,
        return_uri="https://shop.example/orders/1/paid",
        **extra,
    )


def _paid(sandbox: Sandbox, amount: int = 150000, **extra: Any) -> Any:
    charge = _charge(amount, **extra)
    sandbox.hub.act("omise", charge.id, "pay")
    return charge.reload()


def test_sources_and_charges_have_every_recorded_field(sandbox: Sandbox, emulator: Any) -> None:
    source = omise.Source.create(
        type="kakaopay", amount=150000, currency="SGD", platform_type="IOS"
    )
    assert_recorded_fields(source)
    assert_recorded_fields(omise.Source.retrieve(source.id))
    charge = omise.Charge.create(
        amount=150000,
        currency="SGD",
        source=source.id,
        return_uri="https://shop.example/orders/1/paid",
        metadata={"order": "1"},
    )
    assert_recorded_fields(charge)
    assert_recorded_fields(charge.source)
    assert (charge.status, charge.source.charge_status, charge.refundable) == (
        "pending",
        "pending",
        False,
    )
    sandbox.hub.act("omise", charge.id, "pay")
    paid = omise.Charge.retrieve(charge.id)
    assert_recorded_fields(paid)
    assert (paid.status, paid.paid, paid.refundable, paid.partially_refundable) == (
        "successful",
        True,
        True,
        True,
    )


def test_refunds_through_every_call_of_the_client(sandbox: Sandbox, emulator: Any) -> None:
    charge = _paid(sandbox)
    refund = charge.refund(amount=50000, metadata={"why": "size"})
    assert_recorded_fields(refund)
    # The client reloads the charge after a refund.
    assert (charge.refunded_amount, charge.refunds.total) == (50000, 1)
    assert refund.reload().status == "closed"
    assert_recorded_fields(refund)
    assert charge.refunds.retrieve(refund.id).amount == 50000
    assert [r.id for r in charge.list_refunds()] == [refund.id]
    assert refund.id in {r.id for r in omise.Refund.list()}
    second = charge.refund(amount=100000)
    assert (charge.refunded_amount, charge.refundable) == (150000, False)
    with pytest.raises(omise.errors.FailedRefundError):
        charge.refund(amount=1)
    assert len(charge.list_refunds()) == 2
    assert second.id in {r.id for r in charge.list_refunds().offset(limit=1, offset=1)}


def test_events_lists_and_capability(sandbox: Sandbox, emulator: Any) -> None:
    charge = _paid(sandbox)
    charge.refund(amount=1000)
    events = list(charge.list_events())
    assert [e.key for e in events] == ["charge.complete", "refund.create"]
    for event in events:
        assert_recorded_fields(event)
    fetched = omise.Event.retrieve(events[0].id)
    assert_recorded_fields(fetched)
    assert fetched.data.id == charge.id
    assert fetched.reload().key == "charge.complete"
    assert {e.id for e in events} <= {e.id for e in omise.Event.list()}
    first_page = omise.Event.retrieve()
    assert_recorded_fields(first_page)
    for event in first_page:
        assert_recorded_fields(event)
    with pytest.raises(omise.errors.NotFoundError):
        omise.Charge.list_schedules()  # card schedules: not something this account has
    every = list(omise.Charge.list())
    assert charge.id in {c.id for c in every}
    for listed in every:
        assert_recorded_fields(listed)
    assert len(omise.Charge.list()) == len(every)
    page = omise.Charge.retrieve()
    assert_recorded_fields(page)
    capability = omise.Capability.retrieve()
    assert_recorded_fields(capability)
    methods = {m["name"]: m["currencies"] for m in capability.payment_methods}
    assert methods == {"kakaopay": ["SGD"], "paynow": ["SGD"]}
    assert capability.reload().country == "SG"


def test_update_expire_capture_reverse(sandbox: Sandbox, emulator: Any) -> None:
    charge = _charge(metadata={"order": "7"})
    charge.update(description="Blue shoes", metadata={"order": "7", "gift": "yes"})
    again = omise.Charge.retrieve(charge.id)
    assert again.description == "Blue shoes"
    assert again._attributes["metadata"] == {"order": "7", "gift": "yes"}
    charge.expire()
    assert_recorded_fields(charge)
    assert (charge.status, charge.expired, charge.source.charge_status) == (
        "expired",
        True,
        "expired",
    )
    assert charge.expire().status == "expired", "expiring twice answers the same charge"
    with pytest.raises(ValueError, match="already handled"):
        sandbox.hub.act("omise", charge.id, "pay")
    assert omise.Charge.retrieve(charge.id).status == "expired"
    assert [e.key for e in charge.list_events()] == ["charge.expire"]
    paid = _paid(sandbox)
    with pytest.raises(omise.errors.InvalidChargeError):
        paid.expire()
    with pytest.raises(omise.errors.FailedCaptureError):
        paid.capture()
    with pytest.raises(omise.errors.InvalidChargeError):
        paid.reverse()


def test_errors_in_omises_form(sandbox: Sandbox, emulator: Any) -> None:
    with pytest.raises(
        omise.errors.NotFoundError, match=r"^charge chrg_test_missing was not found"
    ):
        omise.Charge.retrieve("chrg_test_missing")
    with pytest.raises(omise.errors.NotFoundError, match=r"^source src_test_missing was not found"):
        omise.Source.retrieve("src_test_missing")
    with pytest.raises(omise.errors.NotFoundError, match=r"^event evnt_test_x was not found"):
        omise.Event.retrieve("evnt_test_x")
    charge = _paid(sandbox)
    with pytest.raises(omise.errors.NotFoundError, match=r"^refund rfnd_test_x was not found"):
        omise.Refund.from_data(
            {"object": "refund", "location": f"/omise/charges/{charge.id}/refunds/rfnd_test_x"}
        ).reload()
    auth = (SECRET_KEY, "")
    for method, path in [
        ("GET", "/omise/nowhere"),
        ("DELETE", f"/omise/charges/{charge.id}"),
        ("POST", "/omise/charges/chrg_x/refunds/rfnd_x"),
    ]:
        answer = httpx.request(method, sandbox.base_url + path, auth=auth, trust_env=False)
        body = answer.json()
        assert answer.status_code == 404
        assert set(body) == set(RECORDED["error"][0])
        assert (body["object"], body["code"]) == ("error", "not_found")
    omise.api_secret = "skey_test_wrong"
    with pytest.raises(omise.errors.AuthenticationFailureError):
        omise.Charge.retrieve(charge.id)


def test_the_omise_version_header_is_respected(sandbox: Sandbox, emulator: Any) -> None:
    charge = _paid(sandbox)
    omise.api_version = "2017-11-02"
    old = omise.Charge.retrieve(charge.id)
    assert "created" in old._attributes and "created_at" not in old._attributes
    assert "refundable" not in old._attributes
    assert (old.refunded, old.currency) == (0, "sgd")
    assert parse_charge(old._attributes, "omise").status is ChargeStatus.SUCCEEDED
    omise.api_version = "2001-01-01"
    with pytest.raises(omise.errors.BaseError, match="Omise-Version"):
        omise.Charge.retrieve(charge.id)
    # Without the header the account's default answers.
    omise.api_version = None
    emulator.tune(account_version="2017-11-02")
    assert "created" in omise.Charge.retrieve(charge.id)._attributes


def test_refund_window_closes_at_0015_gmt8_the_next_day(sandbox: Sandbox, emulator: Any) -> None:
    charge = _paid(sandbox)
    paid_at = datetime.fromisoformat(charge.paid_at.replace("Z", "+00:00"))
    closes = refund_window_closes(paid_at)
    assert (closes.hour, closes.minute, closes.utcoffset()) == (0, 15, timedelta(hours=8))
    assert closes.astimezone(UTC).date() - paid_at.astimezone(UTC).date() <= timedelta(days=1)
    # Just inside the window: still refundable.
    emulator.tune(clock_offset=closes - datetime.now(UTC) - timedelta(minutes=5))
    assert omise.Charge.retrieve(charge.id).refundable is True
    emulator.tune(clock_offset=closes - datetime.now(UTC) + timedelta(minutes=1))
    late = omise.Charge.retrieve(charge.id)
    assert (late.refundable, late.partially_refundable) == (False, False)
    with pytest.raises(omise.errors.FailedRefundError, match="not refundable"):
        late.refund(amount=100)
    assert parse_charge(late._attributes, "omise").status is ChargeStatus.SUCCEEDED


@pytest.mark.parametrize("code", sorted(SEED_FAILURE_CODES))
def test_every_seed_failure_code_is_reachable(sandbox: Sandbox, emulator: Any, code: str) -> None:
    emulator.tune(decline_code=code)
    charge = _charge()
    sandbox.hub.act("omise", charge.id, "decline")
    failed = charge.reload()
    assert_recorded_fields(failed)
    assert (failed.status, failed.failure_code) == ("failed", code)
    assert failed.failure_message


def test_an_abandoned_charge_can_fail_as_payment_expired(sandbox: Sandbox, emulator: Any) -> None:
    emulator.tune(abandon_as_failed=True)
    charge = _charge()
    sandbox.hub.act("omise", charge.id, "abandon")
    failed = charge.reload()
    assert (failed.status, failed.failure_code) == ("failed", "payment_expired")
    seen = parse_charge(failed._attributes, "omise")
    assert seen.status is ChargeStatus.EXPIRED
    assert seen.failure is not None
    assert seen.failure.reason is FailureReason.EXPIRED
    emulator.tune(abandon_as_failed=False)
    other = _charge()
    sandbox.hub.act("omise", other.id, "abandon")
    assert other.reload().status == "expired"
    with pytest.raises(ValueError, match="decline_code"):
        emulator.tune(decline_code="wallet_on_fire")


def test_search_whole_words_any_case_in_pages(sandbox: Sandbox, emulator: Any) -> None:
    made = [
        _charge(description=f"Zebra Order {i}", metadata={"ref": f"zebra-{i}"}) for i in range(3)
    ]
    found = omise.Search.execute("charge", query="ZEBRA", per_page=2, order="chronological")
    assert_recorded_fields(found)
    assert (found.total, found.total_pages, found.page) == (3, 2, 1)
    assert [c.id for c in found] == [made[0].id, made[1].id]
    second = omise.Search.execute("charge", query="zebra", per_page=2, page=2)
    assert [c.id for c in second] == [made[2].id]
    assert omise.Search.execute("charge", query="zeb").total == 0, "whole words only"
    assert omise.Search.execute("charge", query="zebra-1").total == 1
    sandbox.hub.act("omise", made[0].id, "pay")
    paid = omise.Search.execute("charge", query="zebra", filters={"status": "successful"})
    assert [c.id for c in paid] == [made[0].id]
    for charge in paid:
        assert_recorded_fields(charge)


def _delivered(sandbox: Sandbox, charge_id: str, key: str) -> Any:
    assert sandbox.hub.callbacks.wait_idle()
    return next(
        c
        for c in reversed(sandbox.hub.inbox("omise"))
        if charge_id.encode() in c.body and json.loads(c.body)["key"] == key
    )


def test_webhooks_in_the_accounts_version_are_read_by_paymux(
    sandbox: Sandbox, emulator: Any
) -> None:
    # Omise serialises events in the account's default version, not the request's.
    emulator.tune(account_version="2017-11-02")
    charge = _paid(sandbox)
    received = _delivered(sandbox, charge.id, "charge.complete")
    body = json.loads(received.body)
    assert "created" in body and "created" in body["data"] and "refundable" not in body["data"]
    with Gateway(providers=sandbox.provider_settings()) as gateway:
        event = gateway.parse_webhook("omise", received.body, received.headers)
    assert event.charge is not None
    assert event.charge.status is ChargeStatus.SUCCEEDED


def test_an_expired_charge_reaches_paymux_as_expired(sandbox: Sandbox, emulator: Any) -> None:
    charge = _charge()
    charge.expire()
    received = _delivered(sandbox, charge.id, "charge.expire")
    with Gateway(providers=sandbox.provider_settings()) as gateway:
        event = gateway.parse_webhook("omise", received.body, received.headers)
        assert event.charge is not None
        assert event.charge.status is ChargeStatus.EXPIRED
        assert gateway.retrieve_charge("omise", charge.id).status is ChargeStatus.EXPIRED


@pytest.mark.parametrize(("as_failed", "status"), [(False, "expired"), (True, "failed")])
def test_a_charge_past_expires_at_lapses_on_the_emulated_clock(
    sandbox: Sandbox, emulator: Any, as_failed: bool, status: str
) -> None:
    emulator.tune(abandon_as_failed=as_failed)
    charge = _charge()
    expires_at = datetime.fromisoformat(charge.expires_at.replace("Z", "+00:00"))
    emulator.tune(clock_offset=expires_at - datetime.now(UTC) - timedelta(minutes=1))
    assert omise.Charge.retrieve(charge.id).status == "pending"
    emulator.tune(clock_offset=expires_at - datetime.now(UTC) + timedelta(minutes=1))
    lapsed = omise.Charge.retrieve(charge.id)
    assert lapsed.status == status
    assert parse_charge(lapsed._attributes, "omise").status is ChargeStatus.EXPIRED
    with pytest.raises(ValueError, match="already handled"):
        sandbox.hub.act("omise", charge.id, "pay")
    assert json.loads(_delivered(sandbox, charge.id, "charge.complete").body)["data"]["status"] == (
        status
    )
