"""The official ``omise`` client vs paymux: create a KakaoPay charge, then retrieve it.

Against the Omise emulator (paymux's sandbox in its own process). Both sides do the same two calls;
paymux with ``dedupe_by_reference=False`` for the pure create (the headline figure), and with the
default (a look-up by reference before each create: the search, then the charge list of the
last ``search_lag``, two more requests) shown too. The official
client opens a new connection per call (``requests`` without a session): that is how it works.
"""

from __future__ import annotations

import itertools
from typing import Any

import omise
from _common import Result, emit, paired, rounds, server, spread

from paymux import ChargeRequest, Customer, Gateway, Money, ReturnUrls

BATCH = 50
_seq = itertools.count()


def request(reference: str) -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=Money(1500, "SGD"),
        method="kakaopay",
        country="SG",
        customer=Customer(id="customer-sg-1", ip_address="192.0.2.30"),
        return_urls=ReturnUrls(success="https://shop.example/orders/paid"),
        description=reference,
    )


def main() -> None:
    results = []
    with server("sandbox") as sandbox:
        settings: dict[str, Any] = sandbox["settings"]["omise"]
        omise.api_secret = settings["secret_key"]
        omise.api_public = settings["public_key"]
        omise.api_main = settings["base_url"] + "/"
        pure = Gateway(providers={"omise": {**settings, "dedupe_by_reference": False}})
        default = Gateway(providers={"omise": settings})

        def official() -> None:
            for _ in range(BATCH):
                reference = f"off-{next(_seq)}"
                charge = omise.Charge.create(
                    amount=1500,
                    currency="SGD",
                    return_uri="https://shop.example/orders/paid",
                    source={"type": "kakaopay", "platform_type": "WEB"},
                    metadata={"paymux_reference": reference},
                    description=reference,
                    ip="192.0.2.30",
                )
                omise.Charge.retrieve(charge.id)

        def with_paymux(gw: Gateway) -> None:
            for _ in range(BATCH):
                charge = gw.create_charge(request(f"pmx-{next(_seq)}"))
                gw.retrieve_charge(charge)

        n = rounds(9)
        ratio, ratios, t_off, t_pmx = paired(official, lambda: with_paymux(pure), n)
        results.append(
            Result(
                name="official omise client vs paymux, create + retrieve (dedupe_by_reference=False)",
                figure=f"paymux {ratio:.2f}x faster",
                value=ratio,
                target="paymux faster (> 1x)",
                met=ratio > 1,
                notes=(
                    f"{t_off / BATCH * 1e3:.2f} ms vs {t_pmx / BATCH * 1e3:.2f} ms per create +"
                    f" retrieve; median of {n} rounds of {BATCH} ({spread(ratios)})"
                ),
            )
        )
        ratio, ratios, t_off, t_pmx = paired(official, lambda: with_paymux(default), n)
        results.append(
            Result(
                name="official omise client vs paymux, create + retrieve (default: search first)",
                figure=f"paymux {ratio:.2f}x faster",
                value=ratio,
                target="(reference)",
                met=None,
                notes=(
                    f"{t_off / BATCH * 1e3:.2f} ms vs {t_pmx / BATCH * 1e3:.2f} ms; paymux sends"
                    " 3 requests (search, create, retrieve) to the official client's 2; the"
                    " emulator's search scans every charge it holds, so it slows as the run goes on"
                ),
            )
        )
        pure.close()
        default.close()
    emit(results)


if __name__ == "__main__":
    main()
