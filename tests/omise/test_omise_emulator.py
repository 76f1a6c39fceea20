"""The Omise emulator: the official client agrees with it, and paymux runs whole checkouts on it."""

from __future__ import annotations

import httpx
import omise
import pytest
from omise_sandbox import official_client, sandbox

from paymux import ChargeRequest, ChargeStatus, Customer, Gateway, Money, RedirectToUrl, ReturnUrls
from paymux.errors import AuthenticationError, WebhookVerificationError
from paymux.sandbox import Sandbox
from paymux.sandbox.checkout import Shopper
from paymux_omise.emulator import SECRET_KEY

__all__ = ["official_client", "sandbox"]  # the fixtures, imported for pytest


@pytest.mark.usefixtures("official_client")
def test_official_omise_client_against_the_emulator(sandbox: Sandbox) -> None:
    source = omise.Source.create(
        type="kakaopay", amount=150000, currency="SGD", platform_type="WEB"
    )
    assert source.flow == "app_redirect"
    assert source.charge_status == "unknown"

    charge = omise.Charge.create(
        amount=150000,
        currency="SGD",
        source=source.id,
        return_uri="https://shop.example/orders/1/paid",
        metadata={"paymux_reference": "official-1"},
    )
    assert charge.status == "pending"
    page = httpx.get(charge.authorize_uri, follow_redirects=True, trust_env=False)
    assert "1,500.00 SGD" in page.text

    sandbox.hub.act("omise", charge.id, "pay")
    assert omise.Charge.retrieve(charge.id).status == "successful"

    refund = charge.refund(amount=50000)
    assert refund.status == "closed"
    assert refund.amount == 50000
    assert omise.Charge.retrieve(charge.id).refunded_amount == 50000

    with pytest.raises(omise.errors.NotFoundError):
        omise.Charge.retrieve("chrg_test_missing")


@pytest.mark.usefixtures("official_client")
def test_emulator_refuses_what_omise_refuses() -> None:
    source = omise.Source.create(type="kakaopay", amount=10000, currency="SGD")
    with pytest.raises(omise.errors.BaseError, match="match the source"):
        omise.Charge.create(
            amount=20000, currency="SGD", source=source.id, return_uri="https://s.example/r"
        )
    omise.api_secret = "skey_test_wrong"
    with pytest.raises(omise.errors.AuthenticationFailureError):
        omise.Charge.retrieve("chrg_test_x")


def singapore(reference: str, amount: str = "15.00") -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=Money.of(amount, "SGD"),
        method="kakaopay",
        country="SG",
        customer=Customer(id="c-sg", ip_address="192.0.2.30"),
        return_urls=ReturnUrls(success=f"https://shop.example/{reference}/paid"),
    )


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("pay", ChargeStatus.SUCCEEDED),
        ("decline", ChargeStatus.FAILED),
        ("abandon", ChargeStatus.EXPIRED),
    ],
)
def test_paymux_checkout_ends_in_the_customers_choice(
    sandbox: Sandbox, action: str, status: ChargeStatus
) -> None:
    with Gateway(providers=sandbox.provider_settings()) as gw:
        shopper = Shopper(gw, sandbox.hub)
        result = shopper.checkout(singapore(f"emu-{action}"), action=action)  # type: ignore[arg-type]
        shopper.close()
    assert result.next_actions == ["GET redirect"]
    assert result.charge.status is status
    assert result.callbacks == 1


def test_refunds_and_lookup_by_reference(sandbox: Sandbox) -> None:
    with Gateway(providers=sandbox.provider_settings()) as gw:
        shopper = Shopper(gw, sandbox.hub)
        result = shopper.checkout(
            singapore("emu-refunds", "20.00"), refunds=(Money.of("5.00", "SGD"), None)
        )
        shopper.close()
        assert result.charge.status is ChargeStatus.REFUNDED
        assert [r.amount for r in result.refunds] == [
            Money.of("5.00", "SGD"),
            Money.of("15.00", "SGD"),
        ]
        found = gw.retrieve_charge("omise", reference="emu-refunds")
        assert found.id == result.charge.id
        again = gw.create_charge(singapore("emu-refunds", "20.00"))
        assert again.id == result.charge.id, "a repeated reference returns the first charge"


def test_wrong_keys_and_forged_webhooks(sandbox: Sandbox) -> None:
    settings = sandbox.provider_settings()["omise"]
    with (
        Gateway(providers={"omise": {**settings, "secret_key": "skey_test_wrong"}}) as gw,
        pytest.raises(AuthenticationError),
    ):
        gw.retrieve_charge("omise", "chrg_test_x")
    with Gateway(providers=sandbox.provider_settings()) as gw:
        charge = gw.create_charge(singapore("emu-forge"))
        assert isinstance(charge.next_action, RedirectToUrl)
        sandbox.hub.act("omise", charge.id, "pay")
        assert sandbox.hub.callbacks.wait_idle()
        received = [c for c in sandbox.hub.inbox("omise") if charge.id.encode() in c.body][-1]
        forged = received.body.replace(b'"successful"', b'"failed"')
        with pytest.raises(WebhookVerificationError):
            gw.parse_webhook("omise", forged, received.headers)
        assert (
            gw.parse_webhook("omise", received.body, received.headers).charge.status
            is ChargeStatus.SUCCEEDED
        )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/charges/chrg_test_missing/capture"),
        ("POST", "/charges/chrg_test_missing/reverse"),
        ("GET", "/charges/chrg_test_missing/refunds"),
        ("GET", "/charges/chrg_test_missing/refunds/rfnd_test_x"),
        ("GET", "/charges/chrg_test_missing/events"),
    ],
)
def test_a_path_naming_an_unknown_charge_is_404_after_the_key_check(
    sandbox: Sandbox, method: str, path: str
) -> None:
    url = f"{sandbox.base_url}/omise{path}"
    wrong = httpx.request(method, url, auth=("skey_test_wrong", ""), trust_env=False)
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "authentication_failure"
    missing = httpx.request(method, url, auth=(SECRET_KEY, ""), trust_env=False)
    assert missing.status_code == 404
    body = missing.json()
    assert (body["code"], body["message"]) == (
        "not_found",
        "charge chrg_test_missing was not found",
    )
