"""Servers for the benchmarks, each run in its own process: ``python servers.py <kind> <port>``.

* ``fixed``: a minimal HTTP/1.1 keep-alive server on asyncio that answers every request with the
  same body, shaped like ECommPay Gate's "request accepted". Its cost per request is a few tens of
  microseconds, so what a comparison against it shows is the client's cost, not the server's.
* ``sandbox``: paymux's embedded sandbox (both provider emulators, uvicorn).

The process prints one JSON line (base URL, provider settings) when it is ready, and stops when its
standard input is closed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any

ACCEPTED = json.dumps(
    {
        "status": "success",
        "request_id": "c2d4a1f0e9b8c7d6a5b4c3d2e1f0a9b8c7d6e5f4-a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e-00000001",
        "project_id": 210,
        "payment_id": "bench",
    },
    separators=(",", ":"),
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(ACCEPTED)).encode()
    + b"\r\n\r\n"
    + ACCEPTED
)


class FixedAnswer(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.transport.write(RESPONSE)


def _wait_for_stdin_close(stop: Any) -> None:
    sys.stdin.read()
    stop()


def serve_fixed(port: int) -> None:
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(FixedAnswer, "127.0.0.1", port, backlog=2048)
    )
    base = f"http://127.0.0.1:{port}"
    print(json.dumps({"base_url": base}), flush=True)
    threading.Thread(
        target=_wait_for_stdin_close,
        args=(lambda: loop.call_soon_threadsafe(loop.stop),),
        daemon=True,
    ).start()
    loop.run_forever()
    server.close()


def serve_sandbox(port: int) -> None:
    from paymux.sandbox import Sandbox

    with Sandbox(port=port) as sandbox:
        print(
            json.dumps({"base_url": sandbox.base_url, "settings": sandbox.provider_settings()}),
            flush=True,
        )
        sys.stdin.read()


if __name__ == "__main__":
    kind, port_text = sys.argv[1], sys.argv[2]
    {"fixed": serve_fixed, "sandbox": serve_sandbox}[kind](int(port_text))
