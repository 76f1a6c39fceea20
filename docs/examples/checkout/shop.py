"""Runs the example shop next to the sandbox, on loopback, in a background thread."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from paymux import AsyncGateway
from paymux.ledger import AsyncLedger
from paymux.sandbox import Sandbox
from paymux.sandbox.server import free_port

from .app import create_app

HOST = "127.0.0.1"


@dataclass(frozen=True)
class RunningShop:
    url: str
    """The shop, over HTTP: start here."""
    secure_url: str | None
    """The same shop over HTTPS (a self-signed certificate), where customers come back to."""
    sandbox: Sandbox


def self_signed_certificate(directory: Path) -> tuple[Path, Path] | None:
    """A throwaway certificate for 127.0.0.1, made with the openssl command; None without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "shop-cert.pem", directory / "shop-key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def forwarding_sandbox(shop_url: str) -> Sandbox:
    """A sandbox whose every account sends its callbacks to the shop's webhook endpoint.

    The accounts are read from the sandbox itself: a plugin may run more than one (the Thai
    Omise account next to the Singapore one), and one left out would send its callbacks to
    the sandbox's own inbox, where the shop never sees them."""
    sandbox = Sandbox()
    # As ``paymux sandbox --forward-to`` does: the accounts are known once the sandbox exists.
    sandbox.hub.callback_urls.update(
        (name, f"{shop_url}/webhooks/{name}") for name in sandbox.emulators
    )
    return sandbox


@contextmanager
def running_shop(
    port: int = 0, tls_port: int = 0, *, wait_seconds: float = 10.0
) -> Iterator[RunningShop]:
    """Start the sandbox and the shop; stop both on exit. Port 0 takes a free port."""
    port = port or free_port(HOST)
    url = f"http://{HOST}:{port}"
    with (
        tempfile.TemporaryDirectory(prefix="paymux-shop-") as tmp,
        forwarding_sandbox(url) as sandbox,
    ):
        certificate = self_signed_certificate(Path(tmp))
        tls_port = tls_port or free_port(HOST)
        secure_url = f"https://{HOST}:{tls_port}" if certificate else None
        gateway = AsyncGateway(providers=sandbox.provider_settings())
        ledger = AsyncLedger(gateway, url=f"sqlite:///{tmp}/shop.db")
        app = create_app(
            gateway, ledger, shop_url=url, secure_shop_url=secure_url, wait_seconds=wait_seconds
        )

        def listener(port: int, certificate: tuple[Path, Path] | None = None) -> uvicorn.Server:
            cert, key = certificate or (None, None)
            config = uvicorn.Config(
                app,
                host=HOST,
                port=port,
                ssl_certfile=cert,
                ssl_keyfile=key,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
            return uvicorn.Server(config)

        servers = [listener(port)] + ([listener(tls_port, certificate)] if certificate else [])

        async def serve() -> None:
            try:
                await asyncio.gather(*(server.serve() for server in servers))
            finally:
                await ledger.aclose()
                await gateway.aclose()

        thread = threading.Thread(
            target=asyncio.run, args=(serve(),), name="example-shop", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 15
        while not all(server.started for server in servers):
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the example shop could not start on {HOST}:{port}")
            time.sleep(0.02)
        try:
            yield RunningShop(url, secure_url, sandbox)
        finally:
            for server in servers:
                server.should_exit = True
            thread.join(timeout=10)
