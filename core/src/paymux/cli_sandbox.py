"""``paymux sandbox`` and ``paymux demo``: their arguments and how they start."""

from __future__ import annotations

import argparse
from typing import Any


def port(text: str) -> int:
    """An argparse type: a TCP port (0 picks a free one)."""
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r:.20} is not a port number (0-65535)")
    return int(text)


def cmd_demo(args: argparse.Namespace) -> int:
    from .sandbox.demo import run_demo

    return int(run_demo(port=args.port))


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox.server import serve_forever

    return serve_forever(
        host=args.host, port=args.port, write_config=args.write_config, forward_to=args.forward_to
    )


def add_parsers(sub: Any) -> None:
    demo = sub.add_parser("demo", help="run six checkouts end to end on the embedded sandbox")
    demo.add_argument(
        "--port", type=port, default=0, help="loopback port for the sandbox (0: free)"
    )
    demo.set_defaults(func=cmd_demo)

    sandbox = sub.add_parser("sandbox", help="serve the provider emulators on loopback")
    sandbox.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    sandbox.add_argument("--port", type=port, default=8765, help="port (0: a free one)")
    sandbox.add_argument(
        "--write-config",
        metavar="FILE",
        help="write a paymux.toml with every emulator's test keys and URLs",
    )
    sandbox.add_argument(
        "--forward-to",
        metavar="URL",
        help="deliver every provider's signed callbacks to this loopback URL"
        " ('{provider}' in it is replaced by the provider's name)",
    )
    sandbox.set_defaults(func=cmd_sandbox)
