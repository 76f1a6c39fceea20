"""What telemetry costs ``Gateway.create_charge``, as ratios to the same gateway with it turned off.

One gateway against the fixed-answer server (servers.py ``fixed``), batches alternating between
telemetry on and off (``paymux.telemetry.configure(enabled=...)``), so both sides share connections,
caches and the machine's mood. Two figures: OpenTelemetry's API installed but no SDK configured
(what a library user who never set up tracing pays), and an SDK with an in-memory span exporter
and metric reader (every span and data point really built). Also shown, as context: what the
first provider call pays once to import the API (``import paymux`` never does).
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
from collections.abc import Callable

from _common import Result, emit, paired, rounds, server, spread
from bench_charge import ECOMMPAY, charge_request

from paymux import ChargeRequest, Gateway, telemetry

BATCH = 200
_seq = itertools.count()


def compare(
    gw: Gateway, n_rounds: int, turn_on: Callable[[], None], turn_off: Callable[[], None]
) -> tuple[float, list[float], float, float]:
    requests: list[ChargeRequest] = []

    def batch() -> None:
        for request in requests:
            gw.create_charge(request)

    def subject() -> None:
        turn_on()
        batch()

    def baseline() -> None:
        turn_off()
        batch()

    ratios: list[float] = []
    subj: list[float] = []
    base: list[float] = []
    for _ in range(n_rounds):
        # Built outside the timings; the fixed-answer server does not mind a reference twice.
        requests[:] = [charge_request(f"otel-{next(_seq)}") for _ in range(BATCH)]
        ratio, _, s, b = paired(subject, baseline, 1, warmup=0)
        ratios.append(ratio)
        subj.append(s)
        base.append(b)
    return statistics.median(ratios), ratios, statistics.median(subj), statistics.median(base)


def import_cost() -> float:
    """Milliseconds a fresh interpreter that has paymux spends importing the OpenTelemetry API."""
    probe = (
        "import time, paymux.gateway; t = time.perf_counter();"
        " import opentelemetry.trace, opentelemetry.metrics, opentelemetry.context;"
        " print(time.perf_counter() - t)"
    )
    samples = [
        float(
            subprocess.run(  # noqa: S603 - a fixed statement
                [sys.executable, "-c", probe], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(rounds(7))
    ]
    return statistics.median(samples) * 1000


def main() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def api_only(enabled: bool) -> Callable[[], None]:
        return lambda: telemetry.configure(enabled=enabled)

    def with_sdk(enabled: bool) -> Callable[[], None]:
        def turn() -> None:
            spans.clear()
            telemetry.configure(
                enabled=enabled, tracer_provider=tracer_provider, meter_provider=meter_provider
            )

        return turn

    results = []
    with server("fixed") as fixed:
        settings = {**ECOMMPAY, "base_url": f"{fixed['base_url']}/ecommpay"}
        with Gateway(providers={"ecommpay": settings}) as gw:
            compare(gw, 1, api_only(True), api_only(False))  # warm connections and caches
            api = compare(gw, rounds(21), api_only(True), api_only(False))
            compare(gw, 1, with_sdk(True), with_sdk(False))
            sdk = compare(gw, rounds(15), with_sdk(True), with_sdk(False))
    ms = import_cost()
    ratio, ratios, on, off = api
    results.append(
        Result(
            name="create_charge with OpenTelemetry's API, no SDK, vs telemetry off",
            figure=f"{ratio:.3f}x",
            value=ratio,
            target="<= 1.02x",
            met=ratio <= 1.02,
            notes=(
                f"median of {len(ratios)} rounds of {BATCH} charges (round ratios"
                f" {spread(ratios)}); {on / BATCH * 1e6:.0f} us vs {off / BATCH * 1e6:.0f} us"
                f" per charge; fixed-answer server. The first provider call imports the API once:"
                f" {ms:.0f} ms in a fresh interpreter (never at import paymux)"
            ),
        )
    )
    ratio, ratios, on, off = sdk
    results.append(
        Result(
            name="create_charge with the OpenTelemetry SDK (in-memory exporter) vs telemetry off",
            figure=f"{ratio:.3f}x",
            value=ratio,
            target="(reference)",
            met=None,
            notes=(
                f"median of {len(ratios)} rounds of {BATCH} charges (round ratios"
                f" {spread(ratios)}); {on / BATCH * 1e6:.0f} us vs {off / BATCH * 1e6:.0f} us"
                " per charge; two spans (operation, HTTP call), a histogram and a counter per"
                " charge, exported synchronously (SimpleSpanProcessor)"
            ),
        )
    )
    emit(results)


if __name__ == "__main__":
    main()
