"""Per-charge overhead of ``Gateway.create_charge`` vs raw httpx posting the same signed body.

Both sides use one ``httpx.Client`` each (same timeouts, keep-alive) and post to the ECommPay sale
endpoint. The headline figure uses the fixed-answer server (servers.py ``fixed``): the emulator
verifies signatures, stores the payment and sends callbacks for every sale, work that is the same on
both sides and would only dilute the ratio. The emulator figure is shown too, for reference.
"""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Any

import httpx
from _common import Result, emit, rounds, server

from paymux import ChargeRequest, Customer, Gateway, Money, ReturnUrls
from paymux.runner import DEFAULT_TIMEOUT
from paymux_ecommpay import requests as gate
from paymux_ecommpay.settings import EcommpaySettings

BATCH = 200
CHUNK = 10
_seq = itertools.count()

ECOMMPAY = {
    "project_id": 210,
    "secret_key": "paymux-sandbox-ecommpay-secret",
    "callback_url": "http://127.0.0.1:9/merchant/ecommpay",
}


def charge_request(reference: str) -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=Money(10_000, "KRW"),
        method="kakaopay",
        country="KR",
        customer=Customer(id="customer-kr-1", ip_address="192.0.2.10", email="minji@example.com"),
        return_urls=ReturnUrls(
            success="https://shop.example/orders/paid",
            decline="https://shop.example/orders/failed",
            back="https://shop.example/orders/cart",
        ),
        description="paymux benchmark",
    )


def signed_post(settings: dict[str, Any], reference: str) -> tuple[str, bytes, dict[str, str]]:
    """URL, body and headers exactly as paymux sends them (built once, outside the timing)."""
    request = gate.gate_request(
        EcommpaySettings.model_validate(settings),
        "payment/wallet/kakaopay/sale",
        gate.sale_body(charge_request(reference), EcommpaySettings.model_validate(settings)),
        operation="create_charge",
        retry_safe=True,
    )
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return str(request.url), request.content, headers


def compare(settings: dict[str, Any], n_rounds: int, unique_bodies: bool) -> tuple[float, ...]:
    """Median of per-round ratios paymux/raw, their range, and seconds per charge of each side.

    Within a round the two sides alternate every ``CHUNK`` charges (order flipped each time): on
    a shared machine the load changes within seconds, and whole batches timed one after the
    other measured the load as much as paymux (round ratios 0.6-3.7 on a busy machine).
    """
    gw = Gateway(providers={"ecommpay": settings})
    raw = httpx.Client(timeout=DEFAULT_TIMEOUT)
    fixed = signed_post(settings, "bench-fixed")
    ratios: list[float] = []
    subj: list[float] = []
    base: list[float] = []
    for _ in range(n_rounds):
        # Both sides' inputs built outside the timings: ChargeRequest objects for paymux, signed
        # bodies (or one fixed body) for raw httpx.
        requests = [charge_request(f"pmx-{next(_seq)}") for _ in range(BATCH)]
        posts = (
            [signed_post(settings, f"raw-{next(_seq)}") for _ in range(BATCH)]
            if unique_bodies
            else [fixed] * BATCH
        )
        took = {"paymux": 0.0, "raw": 0.0}
        for chunk in range(0, BATCH, CHUNK):
            for side in ("paymux", "raw") if (chunk // CHUNK) % 2 == 0 else ("raw", "paymux"):
                started = time.perf_counter()
                if side == "paymux":
                    for request in requests[chunk : chunk + CHUNK]:
                        gw.create_charge(request)
                else:
                    for url, body, headers in posts[chunk : chunk + CHUNK]:
                        raw.post(url, content=body, headers=headers).json()
                took[side] += time.perf_counter() - started
        ratios.append(took["paymux"] / took["raw"])
        subj.append(took["paymux"])
        base.append(took["raw"])
    gw.close()
    raw.close()
    return (
        statistics.median(ratios),
        min(ratios),
        max(ratios),
        statistics.median(subj) / BATCH,
        statistics.median(base) / BATCH,
    )


def main() -> None:
    results = []
    with server("fixed") as fixed:
        settings = {**ECOMMPAY, "base_url": f"{fixed['base_url']}/ecommpay"}
        # Warm both sides (connections, caches) before measuring.
        compare(settings, 1, unique_bodies=False)
        ratio, low, high, per_pmx, per_raw = compare(settings, rounds(15), unique_bodies=False)
    results.append(
        Result(
            name="Gateway.create_charge vs raw httpx (sync, fixed-answer server)",
            figure=f"{ratio:.3f}x",
            value=ratio,
            target="<= 1.15x",
            met=ratio <= 1.15,
            notes=(
                f"median of {rounds(15)} rounds of {BATCH} charges, the two sides alternating every"
                f" {CHUNK} (round ratios {low:.2f}-{high:.2f});"
                f" {per_pmx * 1e6:.0f} us vs {per_raw * 1e6:.0f} us per charge; inputs pre-built on"
                " both sides (ChargeRequest objects / signed bodies)"
            ),
        )
    )
    with server("sandbox") as sandbox:
        settings = {**sandbox["settings"]["ecommpay"]}
        compare(settings, 1, unique_bodies=True)
        ratio, low, high, per_pmx, per_raw = compare(settings, rounds(7), unique_bodies=True)
    results.append(
        Result(
            name="Gateway.create_charge vs raw httpx (sync, ECommPay emulator)",
            figure=f"{ratio:.3f}x",
            value=ratio,
            target="(reference)",
            met=None,
            notes=(
                f"median of {rounds(7)} rounds of {BATCH}, alternating every {CHUNK}"
                f" (round ratios {low:.2f}-{high:.2f});"
                f" {per_pmx * 1e6:.0f} us vs {per_raw * 1e6:.0f} us per charge;"
                " the emulator's own work per sale dilutes the difference"
            ),
        )
    )
    emit(results)


if __name__ == "__main__":
    main()
