"""The plugin contract kit on the Omise provider."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from paymux import Capability, ChargeRequest, Customer, Money, ReturnUrls
from paymux.provider import Provider
from paymux.testing.contract import ProviderContract, RequestFactory, StatusAnswer
from paymux.testing.emulator_contract import EmulatorContract
from paymux_omise import OmiseProvider
from paymux_omise.emulator import OmiseEmulator, OmiseThaiEmulator

SECRET = "skey_test_contract"
WEBHOOK_SECRET = base64.b64encode(b"contract webhook secret").decode()


class TestOmiseContract(ProviderContract):
    @pytest.fixture
    def provider(self) -> Provider[Any]:
        return OmiseProvider.configure(
            {"secret_key": SECRET, "country": "SG", "webhook_secret": WEBHOOK_SECRET}
        )

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

    @pytest.fixture
    def status_answer(self) -> StatusAnswer:
        charge = json.loads(
            (Path(__file__).parent / "data" / "charge_kakaopay_pending.json").read_text()
        )

        def answer(word: str) -> httpx.Response:
            return httpx.Response(200, json={**charge, "id": "contract-charge-1", "status": word})

        return answer


class TestOmiseEmulatorContract(EmulatorContract):
    emulator_class = OmiseEmulator

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        def make(capability: Capability, amount: Money) -> ChargeRequest:
            return ChargeRequest(
                reference="contract-1",
                amount=amount,
                method=capability.method,
                country=(capability.countries or ("SG",))[0],
                customer=Customer(id="c1", ip_address="192.0.2.1", email="customer@example.com"),
                return_urls=ReturnUrls(
                    success="https://shop.example/ok", decline="https://shop.example/no"
                ),
            )

        return make


class TestOmiseThaiContract(TestOmiseContract):
    """A Thai account: KakaoPay and PromptPay in THB."""

    @pytest.fixture
    def provider(self) -> Provider[Any]:
        return OmiseProvider.configure(
            {"secret_key": SECRET, "country": "TH", "webhook_secret": WEBHOOK_SECRET}
        )


class TestOmiseThaiEmulatorContract(TestOmiseEmulatorContract):
    """PromptPay and KakaoPay checkouts on the Thai account's emulator."""

    emulator_class = OmiseThaiEmulator


class TestOmiseUnstatedCountryContract(TestOmiseContract):
    """An account configured without its country (DESIGN.md's config): both markets declared,
    each currency in its own country."""

    @pytest.fixture
    def provider(self) -> Provider[Any]:
        return OmiseProvider.configure({"secret_key": SECRET, "webhook_secret": WEBHOOK_SECRET})
