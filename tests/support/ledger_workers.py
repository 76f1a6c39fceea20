"""Campaigns for the ledger's concurrency tests, and the worker that runs in other processes.

Lives in tests/support so ``multiprocessing`` (spawn) children can import it by name.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ledger_support import charge_request
from ledgerpay import SECRET, Callback, LedgerPay, LedgerPayApi

from paymux import Gateway, Ledger


def run_campaign(api: LedgerPayApi, ledger: Ledger, charges: int, seed: int) -> list[Callback]:
    """Create ``charges`` charges through ``ledger``, then play a random life for each at the
    provider. Returns every callback the provider sent, in the order it sent them."""
    rng = random.Random(seed)
    for n in range(charges):
        ledger.create_charge(charge_request(reference=f"c-{n:04d}", amount=rng.randint(1, 50_000)))
    for charge in list(api.charges.values()):
        fate = rng.choice(["paid", "paid", "paid", "failed", "expired", "canceled", "action"])
        if fate == "action":
            continue
        api.set_state(charge["id"], fate)
        if fate == "paid":
            for _ in range(rng.randint(0, 3)):
                left = charge["amount"] - charge["refunded"]
                if left == 0:
                    break
                api.refund(charge["id"], rng.randint(1, left))
    return list(api.outbox)


def shuffled_with_duplicates(
    callbacks: Sequence[Callback], seed: int, parts: int
) -> list[list[tuple[bytes, dict[str, str]]]]:
    """Every callback twice, plus some a third time, shuffled, dealt into ``parts`` hands."""
    rng = random.Random(seed)
    deliveries = [(c.body, c.headers) for c in callbacks] * 2
    deliveries += [(c.body, c.headers) for c in rng.sample(list(callbacks), len(callbacks) // 5)]
    rng.shuffle(deliveries)
    return [deliveries[i::parts] for i in range(parts)]


def deliver(url: str, deliveries: Sequence[tuple[bytes, dict[str, str]]]) -> int:
    """Worker process: one checkout instance handling its share of the callbacks."""
    provider = LedgerPay.configure({"secret": SECRET}, name="ledgerpay")
    with Gateway(providers={"ledgerpay": provider}) as gw, Ledger(gw, url=url) as ledger:
        changed = 0
        for body, headers in deliveries:
            changed += ledger.handle_webhook("ledgerpay", body, headers).changed
        return changed


def final_states(ledger: Ledger, references: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """What must not differ between sequential and concurrent application."""
    states: dict[str, tuple[Any, ...]] = {}
    for reference in references:
        entry = ledger.entry(reference)
        assert entry is not None, reference
        webhook_events = sorted(e.event_id for e in entry.events if e.source == "webhook")
        refunds = sorted((r.provider_id, r.amount.amount, r.status) for r in entry.refunds)
        states[reference] = (
            entry.status,
            entry.refunded.amount,
            refunds,
            webhook_events,
            [f.kind for f in entry.flags],
        )
    return states


def provider_truth(api: LedgerPayApi) -> dict[str, tuple[str, int]]:
    truth = {}
    for charge in api.charges.values():
        status = LedgerPay.configure({"secret": SECRET}).to_charge(charge).status.value
        truth[charge["ref"]] = (status, charge["refunded"])
    return truth
