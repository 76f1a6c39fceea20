"""The plugin contract kit on the ECommPay provider."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from paymux import Capability, ChargeRequest, Customer, Money, ReturnUrls
from paymux.provider import Provider
from paymux.testing.contract import ProviderContract, RequestFactory, StatusAnswer
from paymux.testing.emulator_contract import EmulatorContract
from paymux_ecommpay import EcommpayProvider, sign
from paymux_ecommpay.emulator import EcommpayEmulator

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
                return_urls=ReturnUrls(
                    success="https://shop.example/ok", decline="https://shop.example/no"
                ),
            )

        return make

    @pytest.fixture
    def status_answer(self) -> StatusAnswer:
        def answer(word: str) -> httpx.Response:
            # The Gate's signed /v2/payment/status answer, payment and sale in that status.
            payload: dict[str, Any] = {
                "project_id": 210,
                "payment": {
                    "id": "contract-charge-1",
                    "type": "purchase",
                    "status": word,
                    "method": "kakaopay",
                    "sum": {"amount": 1000, "currency": "KRW"},
                },
                "operations": [
                    {
                        "id": 1,
                        "request_id": "req-1",
                        "type": "sale",
                        "status": word,
                        "date": "2024-05-01T10:00:00+0000",
                        "code": "0",
                        "message": "",
                        "sum_initial": {"amount": 1000, "currency": "KRW"},
                    }
                ],
            }
            payload["signature"] = sign(payload, SECRET)
            return httpx.Response(200, json=payload)

        return answer


class TestEcommpayEmulatorContract(EmulatorContract):
    emulator_class = EcommpayEmulator

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        def make(capability: Capability, amount: Money) -> ChargeRequest:
            return ChargeRequest(
                reference="contract-1",
                amount=amount,
                method=capability.method,
                country=(capability.countries or ("KE",))[0],
                customer=Customer(
                    id="c1",
                    ip_address="192.0.2.1",
                    phone="+254700000001",
                    email="customer@example.com",
                ),
                return_urls=ReturnUrls(
                    success="https://shop.example/ok", decline="https://shop.example/no"
                ),
            )

        return make
