"""The plugin contract kit, run on the core's own test provider (as any plugin would run it)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from fakepay import FakePay

from paymux import Customer
from paymux.testing.contract import CONTRACT_LOOKUP, ProviderContract, SignedWebhook

API_KEY = "k_test_contract_secret"
CHARGE = {"id": CONTRACT_LOOKUP.charge_id, "amount": 100, "currency": "KRW", "state": "pending"}


class TestFakePayContract(ProviderContract):
    provider_class = FakePay
    provider_settings = {"api_key": API_KEY}
    request_fields = {"customer": Customer(id="c1", ip_address="192.0.2.1")}
    charge_answer = CHARGE
    status_key = "state"

    @pytest.fixture
    def signed_webhook(self) -> SignedWebhook:
        def webhook(word: str) -> tuple[bytes, dict[str, str]]:
            body = json.dumps({**CHARGE, "state": word}).encode()
            signature = hmac.new(API_KEY.encode(), body, hashlib.sha256).hexdigest()
            return body, {"x-signature": signature}

        return webhook
