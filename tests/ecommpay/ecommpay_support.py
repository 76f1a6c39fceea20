"""Shared helpers of the ECommPay tests (a plain module: test modules import it by name)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from paymux import ChargeRequest, Customer, Money, ReturnUrls
from paymux_ecommpay import EcommpayProvider, sign

DATA = Path(__file__).parent / "data"

# Re-recording (`make record PROVIDER=ecommpay`) swaps in a real test project through the
# environment; replaying uses these values, which the hand-written cassettes were made with.
REPLAY_SECRET_KEY = "paymux-test-secret"
PROJECT_ID = int(os.environ.get("ECOMMPAY_PROJECT_ID", "210"))
SECRET_KEY = os.environ.get("ECOMMPAY_SECRET_KEY", REPLAY_SECRET_KEY)
RECORDING = bool(os.environ.get("PAYMUX_RECORDING")) or "ECOMMPAY_SECRET_KEY" in os.environ


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def make_provider(project_id: int = PROJECT_ID, **settings: Any) -> EcommpayProvider:
    provider = EcommpayProvider.configure(
        {"project_id": project_id, "secret_key": SECRET_KEY, **settings}
    )
    assert isinstance(provider, EcommpayProvider)
    return provider


def signed_callback(body: dict[str, Any], *, where: str = "top", secret: str = SECRET_KEY) -> bytes:
    """``body`` as ECommPay would send it: JSON with a signature at top level or in general."""
    data = json.loads(json.dumps(body))
    signature = sign(data, secret)
    if where == "top":
        data["signature"] = signature
    else:
        data.setdefault("general", {})["signature"] = signature
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def charge_request(method: str = "kakaopay", **overrides: Any) -> ChargeRequest:
    amounts = {
        "kakaopay": Money(1000, "KRW"),
        "payco": Money(1000, "KRW"),
        "card": Money(1000, "KES"),
    }
    values: dict[str, Any] = {
        "reference": "test_payment",
        "amount": amounts.get(method, Money(1000, "KRW")),
        "method": method,
        "country": "KE" if method == "card" else "KR",
        "customer": Customer(id="customer123", ip_address="192.0.2.0"),
        "return_urls": ReturnUrls(
            success="http://example.com/success",
            decline="http://example.com/decline",
            back="http://example.com/return",
        ),
    }
    values.update(overrides)
    return ChargeRequest(**values)


def json_response(status: int, payload: Any) -> httpx.Response:
    return httpx.Response(status, json=payload)


def body_of(request: httpx.Request) -> dict[str, Any]:
    data = json.loads(request.content)
    assert isinstance(data, dict)
    return data


def resign_for_replay(response: dict[str, Any]) -> dict[str, Any]:
    """``before_record_response`` hook: a recorded answer's signature, made with the real key,
    is replaced by one made with the replay key, so the cassette verifies and leaks nothing."""
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes | str):
        try:
            payload = json.loads(body)
        except ValueError:
            return response
        if isinstance(payload, dict) and "signature" in payload:
            payload.pop("signature")
            payload["signature"] = sign(payload, REPLAY_SECRET_KEY)
            response["body"]["string"] = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return response
