"""The plugin contract kit on the ECommPay provider."""

from __future__ import annotations

from typing import Any

import pytest

from paymux import Capability, ChargeRequest, Customer, Money, ReturnUrls
from paymux.provider import Provider
from paymux.testing.contract import ProviderContract, RequestFactory
from paymux_ecommpay import EcommpayProvider

SECRET = "contract-secret-for-ecommpay"


class TestEcommpayContract(ProviderContract):
    @pytest.fixture
    def provider(self) -> Provider[Any]:
        return EcommpayProvider.configure({"project_id": 210, "secret_key": SECRET})

    @pytest.fixture
    def secrets(self) -> list[str]:
        return [SECRET]

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        def make(capability: Capability, amount: Money) -> ChargeRequest:
            return ChargeRequest(
                reference="contract-1",
                amount=amount,
                method=capability.method,
                country=(capability.countries or ("KE",))[0],
                customer=Customer(id="c1", ip_address="192.0.2.1", phone="+254700000001"),
                return_urls=ReturnUrls(success="https://shop.example/ok"),
            )

        return make
