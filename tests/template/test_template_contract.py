"""providers/_template passes the plugin contract kit and, with its emulator, the emulator
contract, as every plugin must."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from paymux import Capability, ChargeRequest, Customer, Money, ReturnUrls
from paymux.provider import Provider
from paymux.testing.contract import ProviderContract, RequestFactory, StatusAnswer
from paymux.testing.emulator_contract import EmulatorContract
from paymux_template import TemplateProvider
from paymux_template.emulator import TemplateEmulator

API_KEY = "tk_test_contract_template"
WEBHOOK_SECRET = "whsec_test_contract_template"
CHARGE = json.loads((Path(__file__).parent / "data" / "charge_pending.json").read_text())


def make_request(capability: Capability, amount: Money) -> ChargeRequest:
    """A request the capability takes, but for ``amount``."""
    return ChargeRequest(
        reference="contract-1",
        amount=amount,
        method=capability.method,
        country=(capability.countries or ("NL",))[0],
        customer=Customer(id="c1"),
        return_urls=ReturnUrls(success="https://shop.example/ok"),
    )


class TestTemplateContract(ProviderContract):
    @pytest.fixture
    def provider(self) -> Provider[Any]:
        return TemplateProvider.configure({"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET})

    @pytest.fixture
    def secrets(self) -> list[str]:
        return [API_KEY, WEBHOOK_SECRET]

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        return make_request

    @pytest.fixture
    def status_answer(self) -> StatusAnswer:
        def answer(word: str) -> httpx.Response:
            return httpx.Response(200, json={**CHARGE, "id": "contract-charge-1", "status": word})

        return answer


class TestTemplateEmulatorContract(EmulatorContract):
    emulator_class = TemplateEmulator

    @pytest.fixture
    def make_request(self) -> RequestFactory:
        return make_request
