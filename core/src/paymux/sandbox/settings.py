"""Sandbox settings without a running sandbox, for commands that only need capabilities."""

from __future__ import annotations

from typing import Any

from .hub import SandboxHub
from .server import emulator_classes


def offline_settings(*, examples: bool = False) -> dict[str, dict[str, Any]]:
    """Every account the sandbox would serve (siblings included), by provider name; with
    ``examples``, the example plugins' accounts too (the plugin template)."""
    hub = SandboxHub("http://127.0.0.1:8765")
    try:
        settings: dict[str, dict[str, Any]] = {}
        for cls in emulator_classes(examples=examples).values():
            emulator = cls(hub)
            for account in (emulator, *emulator.sibling_accounts()):
                settings[account.name] = account.provider_settings()
        return settings
    finally:
        hub.close()
