"""``paymux sandbox --write-config``: the emulators' settings as a ``paymux.toml``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..cli_support import UsageError
from ..errors import ConfigurationError


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # A JSON string with ASCII escapes is also a valid TOML basic string.
        return json.dumps(value)
    raise ConfigurationError(f"cannot write a sandbox setting of type {type(value).__name__}")


def render(settings: dict[str, dict[str, Any]], base_url: str) -> str:
    lines = [
        f"# Written by `paymux sandbox` serving {base_url}.",
        "# The keys below are the emulators' built-in TEST keys: they work against this",
        "# sandbox only. Load it with Gateway.from_config(path).",
    ]
    for provider, values in settings.items():
        lines += ["", f"[providers.{provider}]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def write(path: str | Path, settings: dict[str, dict[str, Any]], base_url: str) -> Path:
    """Write the file readable by its owner only (test keys, but keys all the same)."""
    target = Path(path)
    text = render(settings, base_url)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        raise UsageError(
            f"--write-config {target}: cannot write it ({error.strerror or error})"
        ) from None
    return target
