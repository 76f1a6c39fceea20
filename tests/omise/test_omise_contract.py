"""The plugin contract kit on the Omise provider."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from paymux import Customer, ReturnUrls
from paymux.testing.contract import CONTRACT_LOOKUP, ProviderContract, SignedWebhook
from paymux.testing.emulator_contract import EmulatorContract
from paymux_omise import OmiseProvider
from paymux_omise.emulator import OmiseEmulator, OmiseThaiEmulator
from paymux_omise.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

SECRET = "skey_test_contract"
WEBHOOK_SECRET = base64.b64encode(b"contract webhook secret").decode()
DATA = Path(__file__).parent / "data"
CHARGE = json.loads((DATA / "charge_kakaopay_pending.json").read_text())
EVENT = json.loads((DATA / "event_charge_complete_successful.json").read_text())
# What a valid request needs beyond its method, amount and market.
REQUEST = {
    "customer": Customer(id="c1", ip_address="192.0.2.1", email="customer@example.com"),
    "return_urls": ReturnUrls(success="https://shop.example/ok", decline="https://shop.example/no"),
}


class TestOmiseContract(ProviderContract):
    provider_class = OmiseProvider
    provider_settings = {"secret_key": SECRET, "country": "SG", "webhook_secret": WEBHOOK_SECRET}
    request_fields = REQUEST
    home_country = "SG"
    charge_answer = CHARGE

    @pytest.fixture
    def signed_webhook(self) -> SignedWebhook:
        def webhook(word: str) -> tuple[bytes, dict[str, str]]:
            # A charge.complete event; the provider reads the charge back (status_answer).
            data = {**CHARGE, "id": CONTRACT_LOOKUP.charge_id, "status": word}
            body = json.dumps({**EVENT, "data": data}).encode()
            stamp = str(int(time.time()))
            signature = sign(base64.b64decode(WEBHOOK_SECRET), stamp, body)
            return body, {SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: stamp}

        return webhook


class TestOmiseEmulatorContract(EmulatorContract):
    emulator_class = OmiseEmulator
    request_fields = REQUEST
    home_country = "SG"
    # Omise keeps no unique reference: the plugin looks it up before creating (on by default).
    reused_reference_settings = {"dedupe_by_reference": True}


class TestOmiseThaiContract(TestOmiseContract):
    """A Thai account: KakaoPay and PromptPay in THB."""

    provider_settings = {**TestOmiseContract.provider_settings, "country": "TH"}


class TestOmiseThaiEmulatorContract(TestOmiseEmulatorContract):
    """PromptPay and KakaoPay checkouts on the Thai account's emulator."""

    emulator_class = OmiseThaiEmulator


class TestOmiseUnstatedCountryContract(TestOmiseContract):
    """An account configured without its country (DESIGN.md's config): both markets declared,
    each currency in its own country."""

    provider_settings = {"secret_key": SECRET, "webhook_secret": WEBHOOK_SECRET}
