"""``Sandbox(callback_urls=...)``: the emulators' callbacks go to the merchant's own endpoint."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import uvicorn
from fakepay_emulator import FakePayEmulator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from paymux import ChargeRequest, ChargeStatus, Customer, Gateway, Money
from paymux.errors import ConfigurationError
from paymux.sandbox import Sandbox, SandboxHub
from paymux.sandbox.server import free_port

pytestmark = pytest.mark.usefixtures("fakepay_installed")


class Merchant:
    """A tiny merchant app on loopback that keeps every callback it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes, dict[str, str]]] = []
        self.arrived = threading.Event()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

        async def webhook(request: Request) -> PlainTextResponse:
            provider = request.path_params["provider"]
            self.received.append((provider, await request.body(), dict(request.headers)))
            self.arrived.set()
            return PlainTextResponse("OK")

        app = Starlette(routes=[Route("/hooks/{provider}", webhook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Merchant:
        self.thread.start()
        while not self.server.started:
            self.arrived.wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@pytest.fixture
def merchant() -> Iterator[Merchant]:
    with Merchant() as running:
        yield running


def test_callbacks_reach_the_configured_url_instead_of_the_inbox(merchant: Merchant) -> None:
    hooks = {"fakepay": f"{merchant.url}/hooks/fakepay"}
    with (
        Sandbox(emulators={"fakepay": FakePayEmulator}, callback_urls=hooks) as sandbox,
        Gateway(providers=sandbox.provider_settings()) as gw,
    ):
        assert sandbox.hub.merchant_url("fakepay") == hooks["fakepay"]
        charge = gw.create_charge(
            ChargeRequest(
                reference="order-hooked",
                amount=Money(5000, "KRW"),
                method="kakaopay",
                country="KR",
                customer=Customer(id="c1", ip_address="192.0.2.10"),
            )
        )
        sandbox.hub.act("fakepay", charge.id, "pay")
        assert merchant.arrived.wait(5), "the callback never reached the merchant's endpoint"
        assert sandbox.hub.callbacks.wait_idle()
        assert sandbox.hub.inbox("fakepay") == [], "nothing lands in the sandbox's own inbox"

        provider, body, headers = merchant.received[0]
        event = gw.parse_webhook(provider, body, headers)
        assert event.charge is not None
        assert event.charge.status is ChargeStatus.SUCCEEDED


def test_providers_without_a_url_keep_the_inbox() -> None:
    hub = SandboxHub("http://127.0.0.1:9", callback_urls={"omise": "http://localhost:8000/w"})
    try:
        assert hub.merchant_url("omise") == "http://localhost:8000/w"
        assert hub.merchant_url("ecommpay") == "http://127.0.0.1:9/merchant/ecommpay"
    finally:
        hub.close()


@pytest.mark.parametrize(
    "url", ["https://shop.example/webhooks", "http://192.0.2.1/hooks", "ftp://127.0.0.1/x", "x"]
)
def test_callback_urls_must_stay_on_loopback(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"must be http\(s\) on 127\.0\.0\.1"):
        Sandbox(emulators={"fakepay": FakePayEmulator}, callback_urls={"fakepay": url})
