"""PromptPay's and PayNow's figures held to what Omise recorded: a Thai account's
``GET /capability`` (omise-php's fixture) and a PayNow charge (omise-go's), both listed in
data/official/SOURCES.tsv. Which figures are confirmed is in docs/providers/omise.md."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paymux import Capability, ChargeRequest, Customer, DisplayQrCode, Money, ReturnUrls
from paymux.errors import InvalidRequest
from paymux_omise import OmiseProvider
from paymux_omise.responses import parse_charge
from paymux_omise.settings import OmiseSettings

OFFICIAL = Path(__file__).parent / "data" / "official"


def _recorded(name: str) -> Any:
    return json.loads((OFFICIAL / f"{name}.json").read_text())


def _thai_account() -> OmiseProvider:
    return OmiseProvider(
        OmiseSettings(secret_key="skey_test_figures", country="TH"), name="omise_th"
    )


def _capability(provider: OmiseProvider, method: str) -> Capability:
    return next(c for c in provider.capabilities() if c.method == method)


def _request(method: str, minor: int) -> ChargeRequest:
    return ChargeRequest(
        reference=f"figures-{method}-{minor}",
        amount=Money(minor, "THB"),
        method=method,
        country="TH",
        customer=Customer(id="c-th", ip_address="192.0.2.40"),
        return_urls=ReturnUrls(success="https://shop.example/paid"),
    )


def test_promptpay_is_declared_in_the_currencies_the_recorded_thai_account_lists() -> None:
    recorded = _recorded("php-capability-get")
    listed = {m["name"]: m["currencies"] for m in recorded["payment_methods"]}
    promptpay = _capability(_thai_account(), "promptpay")
    assert recorded["country"] == "TH" and promptpay.countries == ("TH",)
    assert sorted(a.currency for a in promptpay.amounts) == listed["promptpay"] == ["THB"]


@pytest.mark.parametrize("method", ["promptpay", "kakaopay"])
def test_the_thai_minimum_is_the_recorded_accounts_charge_minimum(method: str) -> None:
    """paymux neither refuses an amount the account takes nor sends one it refuses: the
    smallest charge the recorded account accepts passes, one satang less is refused locally."""
    minimum = _recorded("php-capability-get")["limits"]["charge_amount"]["min"]
    provider = _thai_account()
    (amounts,) = _capability(provider, method).amounts
    assert amounts.minimum == minimum
    provider.check_capability(_request(method, minimum))
    with pytest.raises(InvalidRequest) as refused:
        provider.check_capability(_request(method, minimum - 1))
    assert refused.value.field == "amount"


def test_a_paynow_qr_lasts_as_long_as_omise_says_seven_days_in_the_recording() -> None:
    """paymux invents no QR lifetime: the code expires when the charge does (``expires_at``)."""
    raw = _recorded("go-charge-paynow-offline-get")
    charge = parse_charge(raw, "omise")
    action = charge.next_action
    assert isinstance(action, DisplayQrCode)
    assert action.expires_at is not None
    assert action.expires_at.isoformat().replace("+00:00", "Z") == raw["expires_at"]
    # The recording's creation time sits under omise-go's bulk-renamed key (omise.md), which
    # paymux rightly does not read; the lifetime is seven days from it.
    created = datetime.fromisoformat(raw["created_at_at"])
    assert action.expires_at - created == timedelta(days=7)
