"""Import time: paymux with both plugins vs httpx alone and vs the official omise client.

Each sample is a fresh interpreter timing its own import statement (interpreter start-up excluded),
the three kinds interleaved; medians of the samples. The paymux side also runs plugin discovery
(``available_providers()``), which every ``Gateway`` does once per process.

Bytecode: installed packages come with their ``.pyc`` files, but paymux and its plugins are
editable installs here, and ``PYTHONDONTWRITEBYTECODE`` (set in some shells and CI) would make
every sample compile paymux's sources again (about 30 ms of the figure, none of it a user's). So
every sample runs with a bytecode cache of its own (``PYTHONPYCACHEPREFIX`` in a temporary folder),
filled by one untimed run of each statement first: all three sides are then measured as installed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

from _common import Result, emit, rounds

STATEMENTS = {
    "httpx": "import httpx",
    "omise": "import omise",
    "paymux": (
        "import paymux; from paymux import Gateway; paymux.available_providers();"
        " import paymux_ecommpay, paymux_omise"
    ),
}
PROBE = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def sample(stmt: str, env: dict[str, str]) -> float:
    out = subprocess.run(  # noqa: S603 - fixed statements
        [sys.executable, "-c", PROBE.format(stmt=stmt)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(out.stdout.strip())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="paymux-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        for stmt in STATEMENTS.values():
            sample(stmt, env)  # fills the bytecode cache; not counted
        measure(env)


def measure(env: dict[str, str]) -> None:
    n = rounds(11, 7)
    times: dict[str, list[float]] = {k: [] for k in STATEMENTS}
    for _ in range(n):
        for name, stmt in STATEMENTS.items():
            times[name].append(sample(stmt, env))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    added = med["paymux"] - med["httpx"]
    emit(
        [
            Result(
                name="import paymux + both plugins, added over httpx alone",
                figure=f"+{added:.0f} ms",
                value=added,
                target="< 60 ms added",
                met=added < 60,
                notes=(
                    f"paymux {med['paymux']:.0f} ms vs httpx {med['httpx']:.0f} ms;"
                    f" median of {n} fresh interpreters each, with bytecode cached;"
                    " paymux side includes plugin discovery"
                ),
            ),
            Result(
                name="import paymux + both plugins vs omise",
                figure=f"{med['paymux'] / med['omise']:.2f}x",
                value=med["paymux"] / med["omise"],
                target="(reference)",
                met=None,
                notes=f"paymux {med['paymux']:.0f} ms vs omise {med['omise']:.0f} ms",
            ),
        ]
    )


if __name__ == "__main__":
    main()
