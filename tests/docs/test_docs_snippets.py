"""The webhook snippets shown in docs/webhooks.md, driven through each framework's test client.

Each snippet is imported from docs/snippets/ exactly as the page includes it, and receives
callbacks signed like the test-only ``fakepay`` provider signs them (HMAC-SHA256 of the body).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from plugin_dist import installed

from paymux import AsyncGateway, ChargeStatus, Gateway

SNIPPETS = Path(__file__).resolve().parents[2] / "docs" / "snippets"
KEY = "k_docs_fakepay"

# post(path, body, headers) -> (status, text)
Post = Callable[[str, bytes, dict[str, str]], tuple[int, str]]


@pytest.fixture
def snippets() -> Iterator[Callable[[str], ModuleType]]:
    sys.path.insert(0, str(SNIPPETS))
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        loaded.append(name)
        return importlib.import_module(name)

    try:
        yield load
    finally:
        sys.path.remove(str(SNIPPETS))
        for name in [*loaded, "webhook_store"]:
            sys.modules.pop(name, None)


@pytest.fixture
def fakepay(tmp_path: Path) -> Iterator[None]:
    with installed(tmp_path / "site", {"fakepay": "fakepay:FakePay"}):
        yield


def charge_payload(state: str, charge_id: str = "ch_1", refunded: int = 0) -> dict[str, Any]:
    return {
        "id": charge_id,
        "ref": "order-1",
        "amount": 5000,
        "currency": "KRW",
        "method": "kakaopay",
        "state": state,
        "refunded": refunded,
    }


def signed(payload: dict[str, Any], key: str = KEY) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Signature": signature, "Content-Type": "application/json"}


def fastapi_client(snippets: Callable[[str], ModuleType], tmp_path: Path) -> tuple[Post, Any]:
    with warnings.catch_warnings():
        # Starlette's TestClient prefers httpx2 and warns when it runs on httpx (what we have).
        warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient

    store = snippets("webhook_store").PaymentStore(str(tmp_path / "payments.sqlite3"))
    gateway = AsyncGateway(providers={"fakepay": {"api_key": KEY}})
    client = TestClient(snippets("webhook_fastapi").create_app(gateway, store))

    def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = client.post(path, content=body, headers=headers)
        return response.status_code, response.text

    return post, store


def flask_client(snippets: Callable[[str], ModuleType], tmp_path: Path) -> tuple[Post, Any]:
    store = snippets("webhook_store").PaymentStore(str(tmp_path / "payments.sqlite3"))
    gateway = Gateway(providers={"fakepay": {"api_key": KEY}})
    client = snippets("webhook_flask").create_app(gateway, store).test_client()

    def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = client.post(path, data=body, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    return post, store


def django_client(snippets: Callable[[str], ModuleType], tmp_path: Path) -> tuple[Post, Any]:
    import django
    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import clear_url_caches

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="docs-test-only",
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF="webhook_django",
            MIDDLEWARE=[
                "django.middleware.common.CommonMiddleware",
                "django.middleware.csrf.CsrfViewMiddleware",
            ],
            INSTALLED_APPS=[],
            USE_TZ=True,
        )
        django.setup()
    config = tmp_path / "paymux.toml"
    config.write_text('[providers.fakepay]\napi_key = "${FAKEPAY_DOCS_KEY}"\n')
    module = snippets("webhook_django")
    overrides = override_settings(
        PAYMUX_CONFIG=str(config), PAYMENTS_DB=str(tmp_path / "payments.sqlite3")
    )
    overrides.enable()
    clear_url_caches()  # ROOT_URLCONF names the snippet module, imported afresh for each test
    module.gateway.cache_clear()
    module.store.cache_clear()
    client = Client()

    def post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = client.generic("POST", path, data=body, headers=headers)
        return response.status_code, response.content.decode()

    post.cleanup = overrides.disable  # type: ignore[attr-defined]
    return post, module.store()


FRAMEWORKS = {"fastapi": fastapi_client, "flask": flask_client, "django": django_client}


@pytest.fixture(params=sorted(FRAMEWORKS))
def endpoint(
    request: pytest.FixtureRequest,
    snippets: Callable[[str], ModuleType],
    fakepay: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Post, Any]]:
    monkeypatch.setenv("FAKEPAY_DOCS_KEY", KEY)
    post, store = FRAMEWORKS[request.param](snippets, tmp_path)
    yield post, store
    cleanup = getattr(post, "cleanup", None)
    if cleanup is not None:
        cleanup()


def test_a_verified_callback_is_applied_and_acknowledged(endpoint: tuple[Post, Any]) -> None:
    post, store = endpoint
    assert store.status("fakepay", "ch_1") is None
    status, text = post("/webhooks/fakepay", *signed(charge_payload("paid")))
    assert (status, text) == (200, "OK")
    assert store.status("fakepay", "ch_1") is ChargeStatus.SUCCEEDED


def test_a_forged_callback_is_refused_and_changes_nothing(endpoint: tuple[Post, Any]) -> None:
    post, store = endpoint
    body, headers = signed(charge_payload("paid"), key="not-the-key")
    status, _ = post("/webhooks/fakepay", body, headers)
    assert status == 400
    assert store.status("fakepay", "ch_1") is None

    body, headers = signed(charge_payload("paid"))
    tampered = body.replace(b"5000", b"50")
    status, _ = post("/webhooks/fakepay", tampered, headers)
    assert status == 400
    assert store.status("fakepay", "ch_1") is None


def test_redeliveries_are_acknowledged_and_applied_once(endpoint: tuple[Post, Any]) -> None:
    post, store = endpoint
    for _ in range(3):
        status, text = post("/webhooks/fakepay", *signed(charge_payload("paid")))
        assert (status, text) == (200, "OK")
    assert store.status("fakepay", "ch_1") is ChargeStatus.SUCCEEDED


def test_a_late_older_event_does_not_undo_a_final_status(endpoint: tuple[Post, Any]) -> None:
    post, store = endpoint
    assert post("/webhooks/fakepay", *signed(charge_payload("paid")))[0] == 200
    # The "awaiting the customer" event was sent first but arrives last.
    assert post("/webhooks/fakepay", *signed(charge_payload("qr")))[0] == 200
    assert store.status("fakepay", "ch_1") is ChargeStatus.SUCCEEDED


def test_an_unknown_provider_is_not_found(endpoint: tuple[Post, Any]) -> None:
    post, _ = endpoint
    status, _ = post("/webhooks/nopay", *signed(charge_payload("paid")))
    assert status == 404


def test_an_authentic_but_unreadable_callback_asks_for_a_retry(endpoint: tuple[Post, Any]) -> None:
    post, store = endpoint
    body = b"not json"
    signature = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    status, _ = post("/webhooks/fakepay", body, {"X-Signature": signature})
    assert status == 500
    assert store.status("fakepay", "ch_1") is None
