"""``AsyncGateway`` with 1,000 concurrent charges vs raw ``httpx.AsyncClient`` doing the same posts.

Same fixed-answer server as the sync comparison (servers.py ``fixed``), inputs pre-built on both
sides, and one client configuration for both: 20 connections, no pool timeout. httpcore's async pool
slows down sharply with a thousand requests queued (tens of seconds per batch at its default 100
connections on this machine, and PoolTimeouts at its default 10 s pool timeout, for raw httpx as
much as for paymux); 20 connections keeps a batch to a few seconds. Figure: raw time / paymux time, i.e.
paymux's throughput as a fraction of raw httpx's.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time

import httpx
from _common import Result, emit, rounds, server, spread
from bench_charge import ECOMMPAY, charge_request, signed_post

from paymux import AsyncGateway
from paymux.runner import DEFAULT_TIMEOUT

CONCURRENT = 1000
_seq = itertools.count()


async def measure(base_url: str, n_rounds: int) -> tuple[float, list[float], float, float]:
    settings = {**ECOMMPAY, "base_url": f"{base_url}/ecommpay"}

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(DEFAULT_TIMEOUT.read, pool=None),
            limits=httpx.Limits(max_connections=20),
        )

    gw = AsyncGateway(providers={"ecommpay": settings}, http_client=client())
    raw = client()
    url, body, headers = signed_post(settings, "bench-fixed")

    async def with_paymux() -> float:
        requests = [charge_request(f"a-{next(_seq)}") for _ in range(CONCURRENT)]
        started = time.perf_counter()
        await asyncio.gather(*(gw.create_charge(r) for r in requests))
        return time.perf_counter() - started

    async def post() -> None:
        (await raw.post(url, content=body, headers=headers)).json()

    async def with_httpx() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(CONCURRENT)))
        return time.perf_counter() - started

    ratios, t_pmx, t_raw = [], [], []
    for i in range(n_rounds):
        if i % 2:
            b = await with_httpx()
            a = await with_paymux()
        else:
            a = await with_paymux()
            b = await with_httpx()
        t_pmx.append(a)
        t_raw.append(b)
        ratios.append(b / a)
    await gw._client.aclose()
    await raw.aclose()
    return statistics.median(ratios), ratios, statistics.median(t_pmx), statistics.median(t_raw)


def main() -> None:
    n = rounds(5, 3)
    with server("fixed") as fixed:
        ratio, ratios, t_pmx, t_raw = asyncio.run(measure(fixed["base_url"], n))
    emit(
        [
            Result(
                name="AsyncGateway, 1,000 concurrent charges, throughput vs raw httpx.AsyncClient",
                figure=f"{ratio:.2f}",
                value=ratio,
                target=">= 0.8",
                met=ratio >= 0.8,
                notes=(
                    f"{CONCURRENT / t_pmx:,.0f} vs {CONCURRENT / t_raw:,.0f} charges/s; median of"
                    f" {n} rounds ({spread(ratios)}); fixed-answer server"
                ),
            )
        ]
    )


if __name__ == "__main__":
    main()
