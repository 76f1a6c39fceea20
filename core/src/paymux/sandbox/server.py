"""Runs the sandbox on loopback: in a background thread (tests, demo) or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

from ..errors import ConfigurationError
from .emulator import Emulator
from .faults import FaultPlan
from .hub import SandboxHub


class _InjectedFaults(logging.Filter):
    """Drops uvicorn's report of a connection the fault plan cut on purpose; keeps the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, ConnectionAbortedError) and "sandbox fault" in str(error))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def emulator_classes() -> dict[str, type[Emulator]]:
    """Installed emulators whose provider plugin is installed too."""
    from ..plugins import SANDBOXES_GROUP, discover

    providers = discover().loaded
    found = discover(SANDBOXES_GROUP).loaded
    return {
        name: cls
        for name, cls in sorted(found.items())
        if name in providers and isinstance(cls, type) and issubclass(cls, Emulator)
    }


class Sandbox:
    """Every installed emulator behind one loopback port.

    Callbacks go to the sandbox's merchant inbox (``hub.inbox``), or, for a provider named in
    ``callback_urls``, to that URL: e.g. ``{"omise": "http://127.0.0.1:8000/webhooks/omise"}``.

    >>> with Sandbox() as sandbox:
    ...     gw = Gateway(providers=sandbox.provider_settings())
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        emulators: dict[str, type[Emulator]] | None = None,
        callback_urls: dict[str, str] | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigurationError(
                "the sandbox serves loopback only (127.0.0.1, localhost or ::1)"
            )
        self.host = host
        self.port = port or free_port(host)
        self.hub = SandboxHub(f"http://{host}:{self.port}", faults, callback_urls)
        classes = emulators if emulators is not None else emulator_classes()
        self.emulators = {name: cls(self.hub) for name, cls in classes.items()}
        self.hub.emulators = dict(self.emulators)
        from .app import build_app

        self.app = build_app(self.hub, list(self.emulators.values()))
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return self.hub.base_url

    @property
    def faults(self) -> FaultPlan:
        return self.hub.faults

    def provider_settings(self) -> dict[str, dict[str, Any]]:
        """Gateway ``providers=`` settings pointing every provider at its emulator."""
        return {name: emulator.provider_settings() for name, emulator in self.emulators.items()}

    def _config(self) -> Any:
        import uvicorn

        error_log = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, _InjectedFaults) for f in error_log.filters):
            error_log.addFilter(_InjectedFaults())
        return uvicorn.Config(
            self.app,
            # Leave the application's logging set-up alone; uvicorn's own would replace it.
            log_config=None,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )

    def start(self) -> Self:
        import uvicorn

        self._server = uvicorn.Server(self._config())
        self._thread = threading.Thread(target=self._server.run, name="paymux-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigurationError(f"the sandbox could not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.hub.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(host: str = "127.0.0.1", port: int = 8765) -> int:
    import uvicorn

    sandbox = Sandbox(host=host, port=port)
    if not sandbox.emulators:
        print("No emulators installed: pip install paymux-ecommpay paymux-omise")
        return 1
    print(f"paymux sandbox on {sandbox.base_url}")
    for name, settings in sandbox.provider_settings().items():
        shown = {k: v for k, v in settings.items() if "secret" not in k}
        print(f"  {name}: {sandbox.base_url}/{name}  settings: {shown} (built-in test keys)")
    print(f"  customer pages: {sandbox.base_url}/customer/api/payments")
    print(f"  faults: POST {sandbox.base_url}/_sandbox/faults")
    try:
        uvicorn.Server(sandbox._config()).run()
    finally:
        sandbox.hub.close()
    return 0
