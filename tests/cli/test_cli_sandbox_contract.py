"""``paymux sandbox`` driven as a shop in another language would: CLI flags and HTTP only.

The sandbox runs in a subprocess; this test process is the shop: its own tiny HTTP receiver gets
the forwarded callbacks, ``Gateway.from_config`` reads the file the sandbox wrote, and the
customer acts through the JSON API. Nothing here imports the sandbox.
"""

from __future__ import annotations

import queue
import socket
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cli_process import cli_argv, run_cli

from paymux import ChargeRequest, Customer, Gateway, Money
from paymux.models import Charge, ReturnUrls


@dataclass(frozen=True)
class Delivered:
    path: str
    body: bytes
    headers: dict[str, str]


class Receiver:
    """The shop's webhook endpoint: keeps what arrives, answers 200."""

    def __init__(self) -> None:
        self.arrived: queue.Queue[Delivered] = queue.Queue()
        arrived = self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(size)
                arrived.put(Delivered(self.path, body, {k: v for k, v in self.headers.items()}))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Running:
    base_url: str
    config: Path
    process: subprocess.Popen[str]


def _start(tmp_path: Path, forward_to: str) -> Running:
    config = tmp_path / "paymux.toml"
    process = subprocess.Popen(
        cli_argv(
            "sandbox", "--port", "0", "--write-config", str(config), "--forward-to", forward_to
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not config.exists() or not config.read_text().endswith("\n"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"the sandbox did not write its config: {err}")
        time.sleep(0.05)
    settings = tomllib.loads(config.read_text())["providers"]
    base = settings["omise"]["base_url"].removesuffix("/omise")
    return Running(base, config, process)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def sandbox(tmp_path: Path, receiver: Receiver) -> Iterator[Running]:
    running = _start(tmp_path, receiver.url + "/hooks/{provider}")
    try:
        yield running
    finally:
        running.process.terminate()
        running.process.communicate(timeout=15)


def _request(reference: str, amount: Money, country: str) -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=amount,
        method="kakaopay",
        country=country,
        customer=Customer(id="c-1", ip_address="192.0.2.10", email="c@example.com"),
        return_urls=ReturnUrls(
            success=f"https://shop.example/{reference}/paid",
            decline=f"https://shop.example/{reference}/failed",
        ),
        description="contract test",
    )


def _next_verified(gw: Gateway, receiver: Receiver, provider: str, charge: Charge) -> Charge:
    """The next forwarded callback about ``charge``, verified the way the shop's endpoint would."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        delivered = receiver.arrived.get(timeout=max(0.1, deadline - time.monotonic()))
        assert delivered.path == f"/hooks/{provider}", "{provider} in --forward-to is replaced"
        event = gw.parse_webhook(provider, delivered.body, delivered.headers)
        if event.charge is not None and event.charge.id == charge.id:
            return event.charge
    pytest.fail(f"no verified callback about {charge.reference}")


def test_a_shop_in_another_process_checks_out_on_each_provider(
    sandbox: Running, receiver: Receiver
) -> None:
    text = sandbox.config.read_text()
    assert "TEST keys" in text
    with (
        Gateway.from_config(sandbox.config) as gw,
        httpx.Client(base_url=sandbox.base_url, trust_env=False, timeout=10) as http,
    ):
        assert gw.provider("ecommpay").settings.confirm_callbacks, "confirmation stays on"

        # ECommPay: the QR arrives by callback; the customer pays by the provider's payment id.
        kr = gw.create_charge(_request("contract-kr-1", Money(10_000, "KRW"), "KR"))
        assert kr.provider == "ecommpay"
        kr = _next_verified(gw, receiver, "ecommpay", kr)
        assert kr.next_action is not None
        paid = http.post(f"/customer/api/ecommpay/{kr.id}/pay")
        assert paid.status_code == 200, paid.text
        assert paid.json()["state"] == "pay"
        while not kr.status.is_final:
            kr = _next_verified(gw, receiver, "ecommpay", kr)
        assert kr.status.is_paid

        # Omise: the customer pays by the shop's own reference, not Omise's charge id.
        sg = gw.create_charge(_request("contract-sg-1", Money(1_500, "SGD"), "SG"))
        assert sg.provider == "omise"
        paid = http.post("/customer/api/omise/contract-sg-1/pay")
        assert paid.status_code == 200, paid.text
        assert paid.json()["id"] == sg.id
        assert paid.json()["reference"] == "contract-sg-1"
        sg = _next_verified(gw, receiver, "omise", sg)
        assert sg.status.is_paid

        # The Thai Omise account: PromptPay, routed by country, its callbacks forwarded too.
        thai = _request("contract-th-1", Money(35_000, "THB"), "TH").model_copy(
            update={"method": "promptpay", "return_urls": None}
        )
        th = gw.create_charge(thai)
        assert th.provider == "omise_th"
        assert http.post("/customer/api/omise_th/contract-th-1/pay").status_code == 200
        th = _next_verified(gw, receiver, "omise_th", th)
        assert th.status.is_paid

        log = http.get("/merchant/api/callbacks").json()
        for provider in ("ecommpay", "omise", "omise_th"):
            mine = [d for d in log if d["provider"] == provider]
            assert mine, f"{provider}'s deliveries are listed"
            assert all(d["url"] == f"{receiver.url}/hooks/{provider}" for d in mine)
            assert all(d["status"] == 200 and d["error"] is None for d in mine)
        only = http.get("/merchant/api/callbacks", params={"provider": "omise"}).json()
        assert {d["provider"] for d in only} == {"omise"}

        again = http.post("/customer/api/omise/contract-sg-1/pay")
        assert again.status_code == 409
        assert http.post("/customer/api/omise/no-such-reference/pay").status_code == 404


def test_faults_over_http(sandbox: Running) -> None:
    with httpx.Client(base_url=sandbox.base_url, trust_env=False, timeout=10) as http:
        plan = http.post("/merchant/api/faults", json={"callback_duplicate": 1.0, "seed": 3})
        assert plan.status_code == 200
        assert plan.json()["callback_duplicate"] == 1.0
        assert http.get("/merchant/api/faults").json()["seed"] == 3
        for bad in (
            {"callback_drop": 2},
            {"error": "often"},
            {"no_such_fault": 1},
            {"once": [["/omise/charges", "explode"]]},
            [1, 2],
        ):
            answer = http.post("/merchant/api/faults", json=bad)
            assert answer.status_code == 400, bad
            assert "error" in answer.json()
        assert http.get("/merchant/api/faults").json()["callback_drop"] == 0.0
        once = http.post("/merchant/api/faults", json={"once": [["/omise/charges", "error"]]})
        assert once.json()["once"] == [["/omise/charges", "error"]]


def test_the_settings_file_is_also_served_and_private(sandbox: Running) -> None:
    served = httpx.get(f"{sandbox.base_url}/_sandbox/paymux.toml", trust_env=False).text
    assert tomllib.loads(served) == tomllib.loads(sandbox.config.read_text())
    assert sandbox.config.stat().st_mode & 0o077 == 0


def test_a_busy_port_fails_before_any_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "paymux.toml"
        result = run_cli("sandbox", "--port", str(port), "--write-config", str(config))
    assert result.returncode == 3
    assert result.stdout == ""
    assert not config.exists()
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--port" in result.stderr


def test_forwarding_beyond_loopback_is_refused(tmp_path: Path) -> None:
    result = run_cli("sandbox", "--port", "0", "--forward-to", "http://192.0.2.1/{provider}")
    assert result.returncode == 1
    assert "loopback" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unwritable_config_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(
        "sandbox", "--port", "0", "--write-config", str(tmp_path / "no" / "paymux.toml")
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("paymux: --write-config")
