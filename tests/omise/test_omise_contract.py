"""The plugin contract kit on the Omise provider."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from paymux import Capability, ChargeRequest, Customer, Money, ReturnUrls
from paymux.provider import Provider
from paymux.testing.contract import ProviderContract, RequestFactory
from paymux_omise import OmiseProvider

SECRET = "skey_test_contract"
WEBHOOK_SECRET = base64.b64encode(b"contract webhook secret").decode()


class TestOmiseContract(ProviderContract):
    @pytest.fixture
    def provider(self) -> Provider[Any]:
        return OmiseProvider.configure({"secret_key": SECRET, "webhook_secret": WEBHOOK_SECRET})

    @pytest.fixture
    def secrets(self) -> list[str]:
        return [SECRET, WEBHOOK_SECRET]

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        def make(capability: Capability, amount: Money) -> ChargeRequest:
            country = {"SGD": "SG", "THB": "TH"}.get(amount.currency, "SG")
            return ChargeRequest(
                reference="contract-1",
                amount=amount,
                method=capability.method,
                country=country,
                customer=Customer(id="c1", ip_address="192.0.2.1"),
                return_urls=ReturnUrls(success="https://shop.example/ok"),
            )

        return make
