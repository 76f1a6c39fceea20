"""PromptPay (Thailand) and PayNow (Singapore) through Omise, and Omise's one-country accounts.

The QR codes are read back with an independent decoder (zxing-cpp) and their EMVCo payload is
parsed here, field by field, without paymux's or the emulator's code.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import zxingcpp
from omise_sandbox import sandbox
from PIL import Image

from paymux import (
    ChargeRequest,
    ChargeStatus,
    Customer,
    DisplayQrCode,
    FailureReason,
    Gateway,
    Money,
    ReturnUrls,
)
from paymux.errors import ConfigurationError, InvalidRequest, NoRouteError
from paymux.sandbox import Sandbox

__all__ = ["sandbox"]  # the fixture, imported for pytest


def _request(reference: str, method: str, amount: Money, country: str) -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=amount,
        method=method,
        country=country,
        customer=Customer(id=f"c-{country.lower()}", ip_address="192.0.2.30"),
        return_urls=ReturnUrls(success=f"https://shop.example/{reference}/paid"),
    )


def _accounts(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """The sandbox's two Omise accounts under names of the merchant's choosing."""
    settings = sandbox.provider_settings()
    singapore = {**settings["omise"], "plugin": "omise"}
    return {"omise_sg": singapore, "omise_th": settings["omise_th"]}


@pytest.fixture(scope="module")
def gw(sandbox: Sandbox) -> Any:
    with Gateway(providers=_accounts(sandbox)) as gateway:
        yield gateway


# -- an independent reading of the QR code -------------------------------------------------------


def _decode(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1, "one QR code in the image"
    return str(results[0].text)


def _tlv(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    at = 0
    while at < len(text):
        tag, size = text[at : at + 2], int(text[at + 2 : at + 4])
        fields[tag] = text[at + 4 : at + 4 + size]
        at += 4 + size
    assert at == len(text), "the payload is whole EMVCo fields"
    return fields


def _crc_ccitt(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _emvco(png: bytes) -> dict[str, str]:
    text = _decode(png)
    fields = _tlv(text)
    assert text.endswith("6304" + fields["63"])
    assert int(fields["63"], 16) == _crc_ccitt(text[:-4].encode()), "the payload's CRC holds"
    assert (fields["00"], fields["01"]) == ("01", "12"), "a one-payment (dynamic) QR code"
    return fields


# -- PromptPay and PayNow through the router -------------------------------------------------------

QR_CASES = [
    # method, country, amount, account, ISO 4217 number, merchant template, scheme id
    ("promptpay", "TH", Money.of("350.00", "THB"), "omise_th", "764", "30", "A000000677010112"),
    ("paynow", "SG", Money.of("42.50", "SGD"), "omise_sg", "702", "26", "SG.PAYNOW"),
]


@pytest.mark.parametrize(
    ("method", "country", "amount", "account", "number", "template", "scheme"),
    QR_CASES,
    ids=["promptpay", "paynow"],
)
def test_qr_charge_shows_a_scannable_code_and_pays(
    gw: Gateway,
    sandbox: Sandbox,
    method: str,
    country: str,
    amount: Money,
    account: str,
    number: str,
    template: str,
    scheme: str,
) -> None:
    request = _request(f"qr-{method}", method, amount, country)
    assert gw.route(request).provider == account
    charge = gw.create_charge(request)
    assert (charge.provider, charge.status) == (account, ChargeStatus.REQUIRES_ACTION)
    assert charge.provider_data["flow"] == "offline"
    qr = charge.next_action
    assert isinstance(qr, DisplayQrCode)
    assert qr.image_png is not None and qr.image_url is not None
    assert qr.expires_at is not None and qr.expires_at > charge.created_at  # type: ignore[operator]

    fields = _emvco(qr.image_png)
    assert fields[template].startswith(f"00{len(scheme):02d}{scheme}")
    assert fields["53"] == number
    assert fields["54"] == f"{amount.amount // 100}.{amount.amount % 100:02d}"
    assert fields["58"] == country
    if method == "paynow":
        # SGQR's expiry date is the charge's own.
        assert _tlv(fields["26"])["04"] == qr.expires_at.strftime("%Y%m%d")

    sandbox.hub.act(account if account != "omise_sg" else "omise", charge.id, "pay")
    paid = gw.retrieve_charge(charge)
    assert paid.status is ChargeStatus.SUCCEEDED
    assert paid.next_action is None
    refund = gw.refund(paid, Money(amount.amount // 2, amount.currency))
    assert refund.amount.amount == amount.amount // 2
    after = gw.retrieve_charge(paid)
    assert after.status is ChargeStatus.PARTIALLY_REFUNDED
    assert after.refunded_amount == refund.amount
    # Omise's Refunds API window (365 days), not KakaoPay's next-day one.
    assert after.refund_deadline is not None and paid.created_at is not None
    assert (after.refund_deadline - paid.created_at).days >= 364


@pytest.mark.parametrize(
    ("action", "status"), [("decline", ChargeStatus.FAILED), ("abandon", ChargeStatus.EXPIRED)]
)
def test_unpaid_qr_charge_ends_failed_or_expired(
    gw: Gateway, sandbox: Sandbox, action: str, status: ChargeStatus
) -> None:
    charge = gw.create_charge(_request(f"qr-{action}", "promptpay", Money.of("25.00", "THB"), "TH"))
    sandbox.hub.act("omise_th", charge.id, action)  # type: ignore[arg-type]
    ended = gw.retrieve_charge(charge)
    assert ended.status is status
    assert ended.next_action is None
    assert ended.failure is not None
    if status is ChargeStatus.EXPIRED:
        assert ended.failure.reason is FailureReason.EXPIRED


def test_qr_charge_completes_by_a_verified_webhook(gw: Gateway, sandbox: Sandbox) -> None:
    charge = gw.create_charge(_request("qr-hook", "paynow", Money.of("9.90", "SGD"), "SG"))
    seen = len(sandbox.hub.inbox("omise"))
    sandbox.hub.act("omise", charge.id, "pay")
    received = sandbox.hub.wait_for_callback("omise", seen)
    assert received is not None
    event = gw.parse_webhook("omise_sg", received.body, received.headers)
    assert event.provider_data == {"event": "charge.complete"}
    assert event.charge is not None and event.charge.id == charge.id
    assert event.charge.status is ChargeStatus.SUCCEEDED


def test_an_unpaid_qr_charge_can_be_canceled(gw: Gateway) -> None:
    charge = gw.create_charge(_request("qr-cancel", "paynow", Money.of("5.00", "SGD"), "SG"))
    assert gw.cancel_charge(charge).status is ChargeStatus.EXPIRED


# -- two accounts, one country each ---------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "amount", "account"),
    [("TH", Money.of("500.00", "THB"), "omise_th"), ("SG", Money.of("15.00", "SGD"), "omise_sg")],
)
def test_two_omise_accounts_route_by_country_without_rules(
    gw: Gateway, country: str, amount: Money, account: str
) -> None:
    request = _request(f"route-{country}", "kakaopay", amount, country)
    decision = gw.route(request)
    assert decision.provider == account
    charge = gw.create_charge(request)
    assert (charge.provider, charge.amount) == (account, amount)


def test_the_router_and_create_agree_on_a_currency_no_account_takes_there(gw: Gateway) -> None:
    # Issue 13's case: kakaopay in SG charged in THB. Neither account takes it, and both say why.
    request = _request("sg-thb", "kakaopay", Money.of("500.00", "THB"), "SG")
    for attempt in (gw.route, gw.create_charge):
        with pytest.raises(NoRouteError) as caught:
            attempt(request)
        assert caught.value.reasons == {
            "omise_sg": "kakaopay does not take THB (only SGD)",
            "omise_th": "kakaopay is not offered in SG (only TH)",
        }


def test_a_currency_of_the_other_market_is_refused_before_the_network(gw: Gateway) -> None:
    with pytest.raises(InvalidRequest) as caught:
        gw.create_charge(
            _request("sg-in-thb", "kakaopay", Money.of("500.00", "THB"), "SG"), provider="omise_sg"
        )
    assert caught.value.field == "amount.currency"


# -- the account checked against GET /capability ------------------------------------------------


def test_account_check_passes_for_the_right_country(gw: Gateway) -> None:
    assert gw.check_account("omise_th") == {
        "country": "TH",
        "currency": "THB",
        "methods": "kakaopay, promptpay",
    }


def test_account_check_names_a_wrong_country(sandbox: Sandbox) -> None:
    wrong = {**sandbox.provider_settings()["omise"], "country": "TH"}
    with (
        Gateway(providers={"omise": wrong}) as gateway,
        pytest.raises(
            ConfigurationError, match="it is a SG account, the settings say country = 'TH'"
        ),
    ):
        gateway.check_account("omise")


def test_cli_checks_every_account(
    sandbox: Sandbox, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from paymux.cli import main
    from paymux.sandbox import config_file

    settings = _accounts(sandbox)
    # A provider without an account check is listed as such, and fails nothing.
    fake_ecommpay = {"project_id": 210, "secret_key": "not-a-real-secret"}
    good = config_file.write(
        tmp_path / "good.toml", {**settings, "ecommpay": fake_ecommpay}, sandbox.base_url
    )
    assert main(["providers", "--config", str(good), "--check"]) == 0
    out = capsys.readouterr().out
    assert "ecommpay: no account check" in out
    assert "omise_sg: the account matches the settings (country SG, currency SGD" in out
    assert "omise_th: the account matches the settings (country TH, currency THB" in out

    swapped = {**settings, "omise_th": {**settings["omise_th"], "country": "SG"}}
    bad = config_file.write(tmp_path / "bad.toml", swapped, sandbox.base_url)
    assert main(["providers", "--config", str(bad), "--check"]) == 1
    out = capsys.readouterr().out
    assert (
        "omise_th: the Omise account does not match the settings:"
        " it is a TH account, the settings say country = 'SG'"
    ) in out
