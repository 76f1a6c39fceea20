"""The ``paymux`` command as an operator runs it: a fresh interpreter, text in and out."""

from __future__ import annotations

import subprocess
import sys


def cli_argv(*args: str) -> list[str]:
    # The running interpreter, so the command sees this venv's paymux and plugins.
    return [sys.executable, "-m", "paymux.cli", *args]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``paymux *args`` to the end (a minute at most); the exit status is the caller's to check."""
    return subprocess.run(cli_argv(*args), capture_output=True, text=True, timeout=60, check=False)
