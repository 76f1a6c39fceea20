"""Several instances applying the same and conflicting callbacks at once lose no update, on
SQLite (threads and processes) and PostgreSQL (processes)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from ledger_workers import (
    deliver,
    final_states,
    provider_truth,
    run_campaign,
    shuffled_with_duplicates,
)
from ledgerpay import Callback, LedgerPayApi, gateway

from paymux import Ledger


def _sequential(tmp_path: Path, callbacks: Sequence[Callback]) -> Ledger:
    """The reference: every callback once, in the order the provider sent it, one instance."""
    ledger = Ledger(gateway(LedgerPayApi()), url=f"sqlite:///{tmp_path / 'sequential.db'}")
    for callback in callbacks:
        ledger.handle_webhook("ledgerpay", callback.body, callback.headers)
    return ledger


def _check_against_sequential(
    concurrent: Ledger, tmp_path: Path, api: LedgerPayApi, callbacks: Sequence[Callback]
) -> None:
    references = sorted(c["ref"] for c in api.charges.values())
    with _sequential(tmp_path, callbacks) as sequential:
        expected = final_states(sequential, references)
    got = final_states(concurrent, references)
    assert got == expected
    # ... and both are what the provider itself ended with.
    truth = provider_truth(api)
    assert {r: (s[0], s[1]) for r, s in got.items()} == truth


def _campaign(url: str, charges: int, seed: int) -> tuple[LedgerPayApi, list[Callback]]:
    api = LedgerPayApi()
    with gateway(api) as gw, Ledger(gw, url=url) as ledger:
        callbacks = run_campaign(api, ledger, charges, seed)
    return api, callbacks


def _in_processes(url: str, hands: list[list[tuple[bytes, dict[str, str]]]]) -> int:
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(hands)) as pool:
        return sum(pool.starmap(deliver, [(url, hand) for hand in hands]))


def test_sqlite_threads_converge_to_sequential_application(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'threads.db'}"
    api, callbacks = _campaign(url, charges=60, seed=11)
    hands = shuffled_with_duplicates(callbacks, seed=12, parts=4)
    errors: list[BaseException] = []
    start = threading.Barrier(len(hands))

    def instance(hand: list[tuple[bytes, dict[str, str]]]) -> None:
        try:
            start.wait(30)
            deliver(url, hand)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=instance, args=(hand,)) for hand in hands]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with Ledger(gateway(api), url=url) as ledger:
        _check_against_sequential(ledger, tmp_path, api, callbacks)


def test_sqlite_processes_converge_to_sequential_application(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'processes.db'}"
    api, callbacks = _campaign(url, charges=100, seed=21)
    changed = _in_processes(url, shuffled_with_duplicates(callbacks, seed=22, parts=4))
    assert changed > 0
    with Ledger(gateway(api), url=url) as ledger:
        _check_against_sequential(ledger, tmp_path, api, callbacks)


@pytest.mark.postgres
def test_postgres_four_processes_500_charges_end_as_sequential_application(
    postgres_url: str, tmp_path: Path
) -> None:
    api, callbacks = _campaign(postgres_url, charges=500, seed=31)
    hands = shuffled_with_duplicates(callbacks, seed=32, parts=4)
    assert sum(len(h) for h in hands) > 2 * len(callbacks)
    _in_processes(postgres_url, hands)
    with Ledger(gateway(api), url=postgres_url) as ledger:
        _check_against_sequential(ledger, tmp_path, api, callbacks)
        # No event was recorded twice and none was lost.
        assert sum(len(ledger.entry(c["ref"]).events) for c in api.charges.values()) == (  # type: ignore[union-attr]
            len(callbacks) + len(api.charges)  # every callback once, plus each create
        )
