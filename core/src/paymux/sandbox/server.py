"""Runs the sandbox on loopback: in a background thread (tests, demo) or in the foreground."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any, Self

from ..cli_support import EXIT_PORT_BUSY
from ..errors import ConfigurationError
from .emulator import Emulator
from .faults import FaultPlan
from .hub import SandboxHub


class _InjectedFaults(logging.Filter):
    """Drops uvicorn's report of a connection the fault plan cut on purpose; keeps the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, ConnectionAbortedError) and "sandbox fault" in str(error))


def check_loopback(host: str) -> None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigurationError("the sandbox serves loopback only (127.0.0.1, localhost or ::1)")


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, so that a busy port is known before anything is announced."""
    check_loopback(host)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As uvicorn does; on Linux it still refuses a port another socket listens on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def emulator_classes(*, examples: bool = False) -> dict[str, type[Emulator]]:
    """Installed emulators whose provider plugin is installed too; a plugin marked
    ``example`` (the plugin template) only when ``examples`` is set."""
    from ..plugins import SANDBOXES_GROUP, discover

    providers = discover().loaded
    found = discover(SANDBOXES_GROUP).loaded
    return {
        name: cls
        for name, cls in sorted(found.items())
        if name in providers
        and (examples or not getattr(providers[name], "example", False))
        and isinstance(cls, type)
        and issubclass(cls, Emulator)
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
        check_loopback(host)
        self.host = host
        self.port = port or free_port(host)
        # An IPv6 literal needs brackets in a URL.
        netloc = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        self.hub = SandboxHub(f"http://{netloc}", faults, callback_urls)
        classes = emulators if emulators is not None else emulator_classes()
        self.emulators = {name: cls(self.hub) for name, cls in classes.items()}
        for emulator in list(self.emulators.values()):
            self.emulators.update((e.name, e) for e in emulator.sibling_accounts())
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


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    write_config: str | None = None,
    forward_to: str | None = None,
) -> int:
    """``paymux sandbox``: bind first (a busy port exits with ``EXIT_PORT_BUSY`` before any
    banner), write the settings file, print where everything is, then serve until stopped."""
    import sys

    import uvicorn

    from . import config_file

    classes = emulator_classes()
    if not classes:
        print(
            "paymux: no emulators installed: pip install 'paymux-ecommpay[sandbox]' paymux-omise",
            file=sys.stderr,
        )
        return 1
    try:
        sock = listen(host, port)
    except OSError as error:
        print(
            f"paymux: cannot listen on {host}:{port} ({error.strerror or error}):"
            " pick another --port (0 takes a free one)",
            file=sys.stderr,
        )
        return EXIT_PORT_BUSY
    try:
        bound = int(sock.getsockname()[1])
        forwards = (
            {name: forward_to.replace("{provider}", name) for name in classes}
            if forward_to
            else None
        )
        sandbox = Sandbox(host=host, port=bound, emulators=classes, callback_urls=forwards)
        if forward_to:
            # Sibling accounts (the Thai Omise account) are known once the emulators exist.
            for name in sandbox.emulators:
                sandbox.hub.callback_urls.setdefault(name, forward_to.replace("{provider}", name))
    except ConfigurationError:
        sock.close()
        if not forwards:
            raise
        raise ConfigurationError(
            "--forward-to must be an http(s) URL on a loopback address (the sandbox never"
            " calls out), e.g. http://127.0.0.1:8000/webhooks/{provider}"
        ) from None
    except BaseException:
        sock.close()
        raise
    try:
        written = (
            config_file.write(write_config, sandbox.provider_settings(), sandbox.base_url)
            if write_config
            else None
        )
        base = sandbox.base_url
        print(f"paymux sandbox on {base}")
        for name in sandbox.emulators:
            print(f"  {name}: {base}/{name}")
        where = f"written to {written}" if written else f"GET {base}/_sandbox/paymux.toml"
        print(f"  settings with the built-in test keys: {where}")
        for name in sandbox.emulators:
            print(f"  {name} callbacks -> {sandbox.hub.merchant_url(name)}")
        print(f"  callbacks delivered: GET {base}/merchant/api/callbacks")
        print(f"  customer: GET {base}/customer/api/payments")
        print(f"  faults: POST {base}/merchant/api/faults")
        sys.stdout.flush()
        uvicorn.Server(sandbox._config()).run(sockets=[sock])
    finally:
        sock.close()
        sandbox.hub.close()
    return 0
