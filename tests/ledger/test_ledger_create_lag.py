"""A create never charges twice, whatever Omise's search lag: the two reproductions of issue 12,
and the create lease (a setting, and a retry that asks the provider instead of waiting).

Run against the real Omise plugin and its emulator (search lag, lost answers), on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ledger_support import Clock
from omise_sandbox import emulator, sandbox

from paymux import (
    AsyncGateway,
    ChargeRequest,
    ChargeStatus,
    Customer,
    Gateway,
    Ledger,
    Money,
    ReturnUrls,
)
from paymux.errors import InvalidRequest, TransportError
from paymux.ledger import AsyncLedger, create
from paymux.ledger.row_writes import WriteContext
from paymux.runner import RetryPolicy
from paymux.sandbox import Sandbox

__all__ = ["emulator", "sandbox"]  # the fixtures, imported for pytest

FAST = RetryPolicy(initial_wait=0.0, max_wait=0.0, jitter=0.0)
# Well beyond the 3 s of the report, so that the search really misses while the test runs.
SEARCH_LAG = 120.0


@pytest.fixture
def gw(sandbox: Sandbox) -> Iterator[Gateway]:
    with Gateway(providers={"omise": sandbox.provider_settings()["omise"]}, retry=FAST) as g:
        yield g


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each reproduction on both stores (PostgreSQL: skipped unless a server is configured)."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def _request(reference: str) -> ChargeRequest:
    return ChargeRequest(
        reference=reference,
        amount=Money(150000, "SGD"),
        method="kakaopay",
        country="SG",
        customer=Customer(id="customer-1", ip_address="192.0.2.10"),
        return_urls=ReturnUrls(success="https://shop.example/orders/1/done"),
    )


def _held(emulator: Any, reference: str) -> list[dict[str, Any]]:
    """The charges Omise's own books hold for ``reference``."""
    return [
        c for c in emulator.books().values() if c["metadata"].get("paymux_reference") == reference
    ]


def _die_mid_create(ledger: Ledger, gw: Gateway, request: ChargeRequest) -> str:
    """What a worker killed between Omise's answer and the ledger's write leaves behind: the
    create claimed (``sending``, under its lease), the charge made at Omise, nothing recorded."""
    lease = ledger.create_lease
    ledger.store.ensure_schema()
    ledger.store.write(
        lambda c: create.claim_create(
            c, WriteContext(ledger.store, ledger._clock()), request, "omise", False, lease
        )
    )
    charge = gw.create_charge(request, provider="omise")
    assert ledger.entry(request.reference).create_state == "sending"  # type: ignore[union-attr]
    return charge.id


def test_a_lost_create_answer_during_the_search_lag_makes_one_charge(
    gw: Gateway, emulator: Any, db: str
) -> None:
    """Reproduction (a): the answer to the first POST /charges is lost and the search lags.
    Before the fix, the look-up missed, the row went back to ``new``, the retry charged again."""
    emulator.tune(search_lag=SEARCH_LAG, lose_answers={"charges": 1})
    reference = f"lag-a-{'pg' if db.startswith('postgres') else 'sqlite'}"
    request = _request(reference)
    with Ledger(gw, url=db) as ledger:
        try:
            charge = ledger.create_charge(request)
        except TransportError:
            charge = ledger.create_charge(request)  # what a caller does next
        assert ledger.create_charge(request) == charge
        assert ledger.entry(reference).create_state == "created"  # type: ignore[union-attr]
    held = _held(emulator, reference)
    assert [c["id"] for c in held] == [charge.id]
    # The faults really happened: the answer was lost after Omise acted, the search missed it.
    assert emulator.fault_counts["answer_lost:charges"] == 1
    assert emulator.fault_counts["search_lag_hidden"] >= 1


def test_reconcile_during_the_search_lag_adopts_a_charge_whose_creator_died(
    gw: Gateway, emulator: Any, db: str
) -> None:
    """Reproduction (b): the process dies mid-create, reconcile runs during the lag. Before the
    fix, the row became ``rejected`` and the next create charged again."""
    emulator.tune(search_lag=SEARCH_LAG)
    clock = Clock()
    reference = f"lag-b-{'pg' if db.startswith('postgres') else 'sqlite'}"
    request = _request(reference)
    with Ledger(gw, url=db, clock=clock) as ledger:
        made = _die_mid_create(ledger, gw, request)
        clock.advance(minutes=10)  # past the lease: the sender is presumed dead
        report = ledger.reconcile(older_than=timedelta(0))
        assert (report.checked, report.errors) == (1, {})
        entry = ledger.entry(reference)
        assert entry is not None
        assert (entry.create_state, entry.provider_id) == ("created", made)
        again = ledger.create_charge(request)
    assert again.id == made
    assert [c["id"] for c in _held(emulator, reference)] == [made]
    assert emulator.fault_counts["search_lag_hidden"] >= 1


def test_reconcile_adopts_a_dead_creators_charge_before_its_lease_runs_out(
    gw: Gateway, emulator: Any, tmp_path: Path
) -> None:
    emulator.tune(search_lag=SEARCH_LAG)
    request = _request("lag-c")
    with Ledger(gw, url=f"sqlite:///{tmp_path / 'c.db'}", clock=Clock()) as ledger:
        made = _die_mid_create(ledger, gw, request)
        report = ledger.reconcile(older_than=timedelta(0))  # the lease is still running
        assert report.errors == {}
        assert ledger.entry("lag-c").create_state == "created"  # type: ignore[union-attr]
        assert ledger.get("lag-c").id == made  # type: ignore[union-attr]


def test_a_retry_asks_the_provider_instead_of_waiting_out_the_lease(
    gw: Gateway, emulator: Any, tmp_path: Path
) -> None:
    """12.3: after a crash mid-create the retry used to block for the whole 2-minute lease."""
    emulator.tune(search_lag=SEARCH_LAG)
    request = _request("lag-d")
    clock = Clock()  # frozen: the lease never runs out unless the retry looks the charge up
    with Ledger(gw, url=f"sqlite:///{tmp_path / 'd.db'}", clock=clock) as ledger:
        made = _die_mid_create(ledger, gw, request)
        charge = ledger.create_charge(request)
    assert charge.id == made
    assert len(_held(emulator, "lag-d")) == 1


def test_a_create_that_never_reached_omise_is_sent_once_its_lease_runs_out(
    gw: Gateway, emulator: Any, tmp_path: Path
) -> None:
    request = _request("lag-e")
    lease = timedelta(milliseconds=300)
    with Ledger(gw, url=f"sqlite:///{tmp_path / 'e.db'}", create_lease=lease) as ledger:
        ledger.store.ensure_schema()
        # A worker claimed the create and died before its POST left.
        ledger.store.write(
            lambda c: create.claim_create(
                c, WriteContext(ledger.store, ledger._clock()), request, "omise", False, lease
            )
        )
        charge = ledger.create_charge(request)  # waits out the short lease, looks, then sends
        assert charge.status is ChargeStatus.REQUIRES_ACTION
    assert [c["id"] for c in _held(emulator, "lag-e")] == [charge.id]


@pytest.mark.parametrize("lease", [timedelta(0), timedelta(seconds=-1), 120])
def test_the_create_lease_is_a_positive_timedelta(gw: Gateway, tmp_path: Path, lease: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        Ledger(gw, url=f"sqlite:///{tmp_path / 'x.db'}", create_lease=lease)
    assert caught.value.field == "create_lease"


async def test_the_async_ledger_makes_one_charge_after_a_lost_answer_during_the_lag(
    sandbox: Sandbox, emulator: Any, tmp_path: Path
) -> None:
    emulator.tune(search_lag=SEARCH_LAG, lose_answers={"charges": 1})
    request = _request("lag-async")
    settings = {"omise": sandbox.provider_settings()["omise"]}
    async with (
        AsyncGateway(providers=settings, retry=FAST) as agw,
        AsyncLedger(agw, url=f"sqlite:///{tmp_path / 'async.db'}") as ledger,
    ):
        try:
            charge = await ledger.create_charge(request)
        except TransportError:
            charge = await ledger.create_charge(request)
        assert await ledger.create_charge(request) == charge
    assert [c["id"] for c in _held(emulator, "lag-async")] == [charge.id]
    assert emulator.fault_counts["search_lag_hidden"] >= 1
