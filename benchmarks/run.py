"""``make bench``: run every benchmark, print a table, write docs/performance.md.

Each benchmark runs in its own interpreter (and starts its own loopback servers); every figure is
a ratio measured within one run, the median of repeated rounds. PAYMUX_BENCH_QUICK=1: fewer rounds.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import ROOT, Result  # noqa: E402

BENCHMARKS = [
    "bench_charge.py",
    "bench_telemetry.py",
    "bench_async.py",
    "bench_omise.py",
    "bench_webhooks.py",
    "bench_ledger.py",
    "bench_import.py",
]


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "Python": platform.python_version(),
        "OS": platform.platform(),
    }


def run_one(script: str) -> list[Result]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    env = {**os.environ, "PAYMUX_BENCH_OUT": path}
    started = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own scripts
        [sys.executable, str(HERE / script)], env=env, cwd=ROOT, check=False
    )
    took = time.perf_counter() - started
    try:
        rows = json.loads(Path(path).read_text() or "[]")
    except (OSError, ValueError):
        rows = []
    finally:
        Path(path).unlink(missing_ok=True)
    if proc.returncode != 0 or not rows:
        return [Result(name=script, figure="failed", target="", met=False, notes="see the log")]
    print(f"  {script}: {took:.0f} s", file=sys.stderr)
    return [Result(**row) for row in rows]


def status(result: Result) -> str:
    return {True: "met", False: "**not met**", None: "-"}[result.met]


def write_page(results: list[Result], info: dict[str, str], took: float) -> None:
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand. Every figure is a"
        " ratio measured within one run on loopback, the median of repeated rounds, so it holds"
        " up on a shared, noisy machine better than any absolute time would.",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {took:.0f} s.",
        "",
        "| Machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        "",
        "| Measurement | Figure | Target | Status | Notes |",
        "|---|---|---|---|---|",
        *[f"| {r.name} | {r.figure} | {r.target} | {status(r)} | {r.notes} |" for r in results],
        "",
    ]
    notes = ROOT / "benchmarks" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    (ROOT / "docs" / "performance.md").write_text("\n".join(lines))


def main() -> int:
    started = time.perf_counter()
    results: list[Result] = []
    for script in BENCHMARKS:
        results += run_one(script)
    took = time.perf_counter() - started
    info = machine()
    width = max(len(r.name) for r in results)
    for k, v in info.items():
        print(f"{k}: {v}")
    print(f"{'measurement':<{width}}  {'figure':<24} {'target':<22} status")
    for r in results:
        print(f"{r.name:<{width}}  {r.figure:<24} {r.target:<22} {status(r).strip('*')}")
    write_page(results, info, took)
    print(f"wrote docs/performance.md ({took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
