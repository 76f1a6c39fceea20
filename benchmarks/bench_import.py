"""Import time: paymux with both plugins vs httpx alone and vs the official omise client.

Each sample is a fresh interpreter timing its own import statement (interpreter start-up excluded),
the three kinds interleaved; medians of the samples.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from _common import Result, emit, rounds

STATEMENTS = {
    "httpx": "import httpx",
    "omise": "import omise",
    "paymux": "from paymux import Gateway; import paymux_ecommpay, paymux_omise",
}
PROBE = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def sample(stmt: str) -> float:
    out = subprocess.run(  # noqa: S603 - fixed statements
        [sys.executable, "-c", PROBE.format(stmt=stmt)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    n = rounds(11, 7)
    times: dict[str, list[float]] = {k: [] for k in STATEMENTS}
    for _ in range(n):
        for name, stmt in STATEMENTS.items():
            times[name].append(sample(stmt))
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
                    f" median of {n} fresh interpreters each"
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
