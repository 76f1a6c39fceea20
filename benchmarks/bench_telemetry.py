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
import time
from collections.abc import Callable

from _common import Result, emit, rounds, server, spread
from bench_charge import ECOMMPAY, charge_request

from paymux import Gateway, telemetry

BATCH = 200
CHUNK = 10
_seq = itertools.count()


def compare(
    gw: Gateway, n_rounds: int, turn_on: Callable[[], None], turn_off: Callable[[], None]
) -> tuple[float, list[float], float, float]:
    """Median of per-round ratios on/off, the ratios, and seconds per batch of each side.

    Within a round the two sides alternate every ``CHUNK`` charges (order flipped each time):
    on a shared machine the load changes within seconds, and a difference of a few microseconds
    per charge is only visible when both sides see the same load.
    """
    ratios: list[float] = []
    on_times: list[float] = []
    off_times: list[float] = []
    for _ in range(n_rounds):
        # Built outside the timings; the fixed-answer server does not mind a reference twice.
        requests = [charge_request(f"otel-{next(_seq)}") for _ in range(CHUNK)]
        took = {True: 0.0, False: 0.0}
        for chunk in range(BATCH // CHUNK):
            for enabled in (True, False) if chunk % 2 == 0 else (False, True):
                (turn_on if enabled else turn_off)()
                started = time.perf_counter()
                for request in requests:
                    gw.create_charge(request)
                took[enabled] += time.perf_counter() - started
        ratios.append(took[True] / took[False])
        on_times.append(took[True])
        off_times.append(took[False])
    return (
        statistics.median(ratios),
        ratios,
        statistics.median(on_times),
        statistics.median(off_times),
    )


def quartiles(values: list[float]) -> tuple[float, float]:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


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
            api = compare(gw, rounds(61, 7), api_only(True), api_only(False))
            compare(gw, 1, with_sdk(True), with_sdk(False))
            sdk = compare(gw, rounds(15), with_sdk(True), with_sdk(False))
    ms = import_cost()
    ratio, ratios, on, off = api
    q1, q3 = quartiles(ratios)
    # The median's 95% interval (a box plot's notch, 1.57 IQR / sqrt(n)): "met" only when all
    # of it is within the target, "not met" only when all of it is outside.
    notch = 1.57 * (q3 - q1) / len(ratios) ** 0.5
    low, high = ratio - notch, ratio + notch
    met = True if high <= 1.02 else False if low > 1.02 else None
    results.append(
        Result(
            name="create_charge with OpenTelemetry's API, no SDK, vs telemetry off",
            figure=f"{ratio:.3f}x",
            value=ratio,
            target="<= 1.02x",
            met=met,
            notes=(
                f"median of {len(ratios)} rounds of {BATCH} charges, the two sides alternating"
                f" every {CHUNK} (round ratios {spread(ratios)}; the median's 95% interval"
                f" {low:.3f}-{high:.3f}); {on / BATCH * 1e6:.0f} us vs"
                f" {off / BATCH * 1e6:.0f} us per charge; fixed-answer server. The first provider"
                f" call imports the API once: {ms:.0f} ms in a fresh interpreter (never at"
                " import paymux)"
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
                f"median of {len(ratios)} rounds of {BATCH} charges, alternating every {CHUNK}"
                f" (round ratios {spread(ratios)}); {on / BATCH * 1e6:.0f} us vs"
                f" {off / BATCH * 1e6:.0f} us per charge; two spans (operation, HTTP call), a histogram and a counter per"
                " charge, exported synchronously (SimpleSpanProcessor)"
            ),
        )
    )
    emit(results)


if __name__ == "__main__":
    main()
