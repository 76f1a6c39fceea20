"""Omise test set-up: keys, a fixed clock, a gateway, and cassette scrubbing for re-recording.

``make record PROVIDER=omise`` runs these tests with ``--record-mode=rewrite``; with
``OMISE_PUBLIC_KEY``/``OMISE_SECRET_KEY`` set they talk to Omise's test API. Whatever is recorded is
scrubbed first: the Authorization header (shared config), any Omise key in a body, and the personal
data Omise echoes back (names, e-mails, phones, addresses, IPs, card fingerprints).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paymux import Charge, ChargeRequest, Customer, Gateway, Money, ReturnUrls
from paymux.runner import RetryPolicy
from paymux_omise import OmiseProvider, OmiseSettings
from paymux_omise.responses import parse_charge
from paymux_omise.webhooks import sign

DATA = Path(__file__).parent / "data"

SECRET_KEY = os.environ.get("OMISE_SECRET_KEY", "skey_test_paymux")
PUBLIC_KEY = os.environ.get("OMISE_PUBLIC_KEY", "pkey_test_paymux")
WEBHOOK_SECRET = base64.b64encode(b"paymux-omise-webhook-test-secret").decode()

# 2026-03-10 10:00 UTC: after the sample payments (05:00 UTC), before their refund deadline.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)

_KEY = re.compile(rb"\b([ps]key_(?:test_)?)[A-Za-z0-9]+")
_PERSONAL = frozenset(
    {
        "email",
        "name",
        "phone_number",
        "mobile_number",
        "street1",
        "street2",
        "city",
        "postal_code",
        "ip",
        "fingerprint",
        "first_digits",
        "last_digits",
        "billing",
        "shipping",
        "payload",
    }
)


def _redact_personal(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (
                "REDACTED"
                if k in _PERSONAL and v not in (None, "", [], {})
                else _redact_personal(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_personal(v) for v in value]
    return value


def scrub_body(body: Any) -> Any:
    if not isinstance(body, bytes | bytearray):
        return body
    body = _KEY.sub(rb"\1paymux", bytes(body))
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return json.dumps(_redact_personal(parsed)).encode()


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    shared_request = vcr_config["before_record_request"]
    shared_response = vcr_config["before_record_response"]

    def before_request(request: Any) -> Any:
        request = shared_request(request)
        request.body = scrub_body(request.body)
        return request

    def before_response(response: dict[str, Any]) -> dict[str, Any]:
        response = shared_response(response)
        body = response.get("body", {})
        if "string" in body:
            body["string"] = scrub_body(body["string"])
        return response

    return {
        **vcr_config,
        "filter_headers": [*vcr_config["filter_headers"], ("user-agent", None)],
        "before_record_request": before_request,
        "before_record_response": before_response,
    }


class Kit:
    """Test helpers as one session fixture (the suite runs in importlib mode, so test modules
    cannot import a helper module from this folder)."""

    NOW = NOW
    SECRET_KEY = SECRET_KEY
    WEBHOOK_SECRET = WEBHOOK_SECRET
    WEBHOOK_KEY = base64.b64decode(WEBHOOK_SECRET)

    @staticmethod
    def load(name: str) -> Any:
        return json.loads((DATA / f"{name}.json").read_text())

    @staticmethod
    def body(name: str) -> bytes:
        return (DATA / f"{name}.json").read_bytes()

    def load_charge(self, name: str) -> Charge:
        return parse_charge(self.load(name), "omise")

    @staticmethod
    def settings(**overrides: Any) -> OmiseSettings:
        values: dict[str, Any] = {
            "public_key": PUBLIC_KEY,
            "secret_key": SECRET_KEY,
            # The recorded charges are of a Singapore account (SGD); override for a Thai one.
            "country": "SG",
            "clock": lambda: NOW,
        }
        values.update(overrides)
        return OmiseSettings(**values)

    def provider(self, **overrides: Any) -> OmiseProvider:
        return OmiseProvider(self.settings(**overrides))

    @staticmethod
    def request(**overrides: Any) -> ChargeRequest:
        values: dict[str, Any] = {
            "reference": "order-345678",
            "amount": Money(150000, "SGD"),
            "method": "kakaopay",
            "country": "SG",
            "customer": Customer(id="customer1", ip_address="192.0.2.10"),
            "return_urls": ReturnUrls(success="https://shop.example/orders/345678/complete"),
            "description": "Order 345678",
        }
        values.update(overrides)
        return ChargeRequest(**values)

    def signed_headers(
        self, body: bytes, *, at: datetime | None = None, key: bytes | None = None
    ) -> dict[str, str]:
        stamp = str(int((at or NOW).timestamp()))
        return {
            "Omise-Signature": sign(key or self.WEBHOOK_KEY, stamp, body),
            "Omise-Signature-Timestamp": stamp,
            "Content-Type": "application/json",
        }


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit()


# No waiting between retries in tests; the policy itself is the core's.
FAST_RETRY = RetryPolicy(initial_wait=0.0, max_wait=0.0, jitter=0.0)


@pytest.fixture
def make_gateway() -> Iterator[Callable[..., Gateway]]:
    gateways: list[Gateway] = []

    def build(**overrides: Any) -> Gateway:
        gateway = Gateway(providers={"omise": Kit().provider(**overrides)}, retry=FAST_RETRY)
        gateways.append(gateway)
        return gateway

    yield build
    for gateway in gateways:
        gateway.close()


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway()
