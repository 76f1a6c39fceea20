"""The plugin contract kit on the ECommPay provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from paymux import Customer, ReturnUrls
from paymux.testing.contract import (
    CONTRACT_LOOKUP,
    ProviderContract,
    SignedWebhook,
    StatusAnswer,
)
from paymux.testing.emulator_contract import EmulatorContract
from paymux_ecommpay import EcommpayProvider, sign
from paymux_ecommpay.emulator import EcommpayEmulator

SECRET = "contract-secret-for-ecommpay"
# What a valid request needs beyond its method, amount and market.
REQUEST = {
    "customer": Customer(
        id="c1", ip_address="192.0.2.1", phone="+254700000001", email="customer@example.com"
    ),
    "return_urls": ReturnUrls(success="https://shop.example/ok", decline="https://shop.example/no"),
}
# A sale callback from the KakaoPay method page (seed 000, in data/seed_callbacks.json).
SALE_CALLBACK = json.loads((Path(__file__).parent / "data" / "seed_callbacks.json").read_text())[
    "cases"
][0]["body"]


def _signed(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "signature": sign(payload, SECRET)}


class TestEcommpayContract(ProviderContract):
    provider_class = EcommpayProvider
    provider_settings = {"project_id": 210, "secret_key": SECRET}
    request_fields = REQUEST
    home_country = "KE"

    @pytest.fixture
    def status_answer(self) -> StatusAnswer:
        def answer(word: str) -> httpx.Response:
            # The Gate's signed /v2/payment/status answer, payment and sale in that status.
            payment = {**SALE_CALLBACK["payment"], "id": CONTRACT_LOOKUP.charge_id, "status": word}
            sale = {**SALE_CALLBACK["operation"], "status": word}
            payload = {"project_id": 210, "payment": payment, "operations": [sale]}
            return httpx.Response(200, json=_signed(payload))

        return answer

    @pytest.fixture
    def signed_webhook(self) -> SignedWebhook:
        def webhook(word: str) -> tuple[bytes, dict[str, str]]:
            payment = {**SALE_CALLBACK["payment"], "id": CONTRACT_LOOKUP.charge_id, "status": word}
            sale = {**SALE_CALLBACK["operation"], "status": word}
            payload = {**SALE_CALLBACK, "project_id": 210, "payment": payment, "operation": sale}
            return json.dumps(_signed(payload)).encode(), {"content-type": "application/json"}

        return webhook


class TestEcommpayEmulatorContract(EmulatorContract):
    emulator_class = EcommpayEmulator
    request_fields = REQUEST
    home_country = "KE"
