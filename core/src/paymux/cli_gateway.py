"""The gateway a ``paymux`` command works with (shared by ``cli`` and ``ledger.cli``).

Apart from ``cli_support`` because it reaches into the sandbox, which itself uses
``cli_support``; here nothing imports back.
"""

from __future__ import annotations

import argparse
from typing import Any

from .cli_support import UsageError


def gateway_from_args(args: argparse.Namespace) -> Any:
    """``--config``'s gateway, else one on the embedded sandbox's test settings."""
    from .gateway import Gateway

    if getattr(args, "config", None):
        return Gateway.from_config(args.config)
    from .sandbox.settings import offline_settings

    settings = offline_settings()
    if not settings:
        raise UsageError(
            "no provider plugins with a sandbox are installed: pass --config paymux.toml"
        )
    return Gateway(providers=settings)
