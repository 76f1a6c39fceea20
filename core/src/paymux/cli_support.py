"""What every ``paymux`` command shares: exit statuses, one-line errors, help with defaults."""

from __future__ import annotations

import argparse
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
"""paymux refused or the work failed (a ``PaymuxError``, a reconcile with errors, no such charge)."""
EXIT_USAGE = 2
"""Bad usage: a wrong or missing option, a file that cannot be read, a missing extra."""
EXIT_PORT_BUSY = 3
"""``paymux sandbox``: its address is taken; nothing was started."""
EXIT_NO_DATABASE = 4
"""``reconcile``, ``ledger show``: the database does not exist or holds no paymux ledger."""
EXIT_INTERRUPTED = 130

EXTRAS = {
    "rich": "cli",
    "sqlalchemy": "ledger",
    "psycopg": "postgres",
    "starlette": "sandbox",
    "uvicorn": "sandbox",
    "segno": "qr",
    "opentelemetry": "otel",
}
"""Top-level module -> the paymux extra that installs it."""


class UsageError(Exception):
    """A command was called in a way it cannot work with; the message says what to pass."""


class NoDatabase(Exception):
    """The ledger database named by ``--db`` is missing or holds no paymux schema."""


def missing_extra(error: ModuleNotFoundError) -> str:
    module = (error.name or "").partition(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return f"the Python package {module!r} is not installed: pip install {module}"
    return f"this command needs {module}: pip install 'paymux[{extra}]'"


def one_line(text: str) -> str:
    """Errors go to cron mail and CI logs, where a message must fit one line."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


class HelpWithDefaults(argparse.HelpFormatter):
    """Shows ``(default: ...)`` where an option has a default worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default: Any = action.default
        if (
            "%(default)" in text
            or default is None
            or default is False
            or default == argparse.SUPPRESS
            or default == []
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """Every sub-command parser inherits the formatter (argparse builds them from this class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpWithDefaults)
        super().__init__(*args, **kwargs)
