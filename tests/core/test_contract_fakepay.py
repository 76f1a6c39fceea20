"""The plugin contract kit, run on the core's own test provider (as any plugin would run it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fakepay import FakePay

from paymux import Capability, ChargeRequest, Customer, Money
from paymux.provider import Provider
from paymux.testing.contract import ProviderContract, RequestFactory, StatusAnswer


class TestFakePayContract(ProviderContract):
    @pytest.fixture
    def provider(self) -> Provider[Any]:
        return FakePay.configure({"api_key": "k_test_contract_secret"})

    @pytest.fixture
    def secrets(self) -> list[str]:
        return ["k_test_contract_secret"]

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        def make(capability: Capability, amount: Money) -> ChargeRequest:
            return ChargeRequest(
                reference="contract-1",
                amount=amount,
                method=capability.method,
                country=(capability.countries or ("US",))[0],
                customer=Customer(id="c1", ip_address="192.0.2.1"),
            )

        return make

    @pytest.fixture
    def status_answer(self) -> StatusAnswer:
        def answer(word: str) -> httpx.Response:
            charge = {"id": "contract-charge-1", "amount": 100, "currency": "KRW", "state": word}
            return httpx.Response(200, json=charge)

        return answer
