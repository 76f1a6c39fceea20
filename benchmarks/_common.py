"""Shared helpers: paired timing rounds, results, the helper servers run in child processes."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUICK = os.environ.get("PAYMUX_BENCH_QUICK") == "1"
"""Fewer rounds, for a smoke run (``PAYMUX_BENCH_QUICK=1``); figures are noisier."""


def rounds(full: int, quick: int = 3) -> int:
    return quick if QUICK else full


@dataclass
class Result:
    """One row of docs/performance.md."""

    name: str
    figure: str
    target: str
    met: bool | None  # None: informational, or not measured
    value: float | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def emit(results: list[Result]) -> None:
    """Hand results to run.py (a JSON file named by PAYMUX_BENCH_OUT), or print them."""
    out = os.environ.get("PAYMUX_BENCH_OUT")
    rows = [r.as_dict() for r in results]
    if out:
        Path(out).write_text(json.dumps(rows, indent=1))
    else:
        for row in rows:
            print(json.dumps(row))


def paired(
    subject: Callable[[], None], baseline: Callable[[], None], n_rounds: int, warmup: int = 1
) -> tuple[float, list[float], float, float]:
    """Time ``subject`` and ``baseline`` in alternating rounds (order flipped every round).

    Each callable runs one batch of work. Returns the median of the per-round ratios
    subject/baseline, the ratios themselves, and the median seconds of each side.
    """
    for _ in range(warmup):
        subject()
        baseline()
    ratios: list[float] = []
    subj_times: list[float] = []
    base_times: list[float] = []
    for i in range(n_rounds):
        order = (subject, baseline) if i % 2 == 0 else (baseline, subject)
        took = {}
        for fn in order:
            started = time.perf_counter()
            fn()
            took[fn] = time.perf_counter() - started
        subj_times.append(took[subject])
        base_times.append(took[baseline])
        ratios.append(took[subject] / took[baseline])
    return (
        statistics.median(ratios),
        ratios,
        statistics.median(subj_times),
        statistics.median(base_times),
    )


def spread(values: list[float]) -> str:
    """``min-max`` of a list of ratios, for the notes."""
    return f"{min(values):.2f}-{max(values):.2f}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(kind: str) -> Iterator[dict[str, Any]]:
    """Start ``servers.py <kind>`` in a child process (its own core and GIL); yield its info."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(HERE / "servers.py"), kind, str(port)],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} server did not start")
        yield json.loads(line)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the server exits when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
