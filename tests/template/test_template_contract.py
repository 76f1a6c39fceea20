"""providers/_template passes the plugin contract kit and, with its emulator, the emulator
contract, as every plugin must."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from paymux import Customer, ReturnUrls
from paymux.testing.contract import CONTRACT_LOOKUP, ProviderContract, SignedWebhook
from paymux.testing.emulator_contract import EmulatorContract
from paymux_template import TemplateProvider
from paymux_template.emulator import TemplateEmulator
from paymux_template.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

API_KEY = "tk_test_contract_template"
WEBHOOK_SECRET = "whsec_test_contract_template"
CHARGE = json.loads((Path(__file__).parent / "data" / "charge_pending.json").read_text())
# What a valid request needs beyond its method, amount and market.
REQUEST = {
    "customer": Customer(id="c1"),
    "return_urls": ReturnUrls(success="https://shop.example/ok"),
}


class TestTemplateContract(ProviderContract):
    provider_class = TemplateProvider
    provider_settings = {"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET}
    request_fields = REQUEST
    home_country = "NL"
    charge_answer = CHARGE

    @pytest.fixture
    def signed_webhook(self) -> SignedWebhook:
        def webhook(word: str) -> tuple[bytes, dict[str, str]]:
            data = {**CHARGE, "id": CONTRACT_LOOKUP.charge_id, "status": word}
            body = json.dumps({"id": "evt_contract", "type": "charge.updated", "data": data})
            stamp = str(int(time.time()))
            signature = sign(WEBHOOK_SECRET.encode(), stamp, body.encode())
            return body.encode(), {SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: stamp}

        return webhook


class TestTemplateEmulatorContract(EmulatorContract):
    emulator_class = TemplateEmulator
    request_fields = REQUEST
    home_country = "NL"
