"""reconcile: charges whose callbacks were dropped end in their provider state; the CLI."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from ledger_support import Clock, charge_request
from ledgerpay import LedgerPayApi, gateway

from paymux import Charge, ChargeStatus, Gateway, Ledger
from paymux.cli import main
from paymux.cli_support import EXIT_FAILED, EXIT_NO_DATABASE
from paymux.errors import NotFound, TransportError
from paymux.ledger import cli
from paymux.provider import ChargeLookup, Flow, no_io


def _lose_every_answer(api: LedgerPayApi) -> Callable[[httpx.Request], httpx.Response | None]:
    """A fault that lets a POST reach the provider, then loses every answer."""

    def fault(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            api.process(request)
        raise httpx.ReadTimeout("gone", request=request)

    return fault


def _stuck(ledger: Ledger, api: LedgerPayApi, outcomes: dict[str, str]) -> None:
    """Create charges, let the customer act at the provider, and lose every callback."""
    api.drop_callbacks = True
    for reference, state in outcomes.items():
        charge = ledger.create_charge(charge_request(reference=reference))
        if state != "action":
            api.set_state(charge.id, state)


def test_charges_stuck_by_dropped_callbacks_reach_their_provider_state(
    ledger: Ledger, api: LedgerPayApi, clock: Clock
) -> None:
    outcomes = {"o-paid": "paid", "o-failed": "failed", "o-expired": "expired", "o-open": "action"}
    _stuck(ledger, api, outcomes)
    assert {ledger.get(r).status for r in outcomes} == {ChargeStatus.REQUIRES_ACTION}  # type: ignore[union-attr]

    clock.advance(minutes=10)
    report = ledger.reconcile(older_than=timedelta(minutes=5))

    assert {r: ledger.get(r).status for r in outcomes} == {  # type: ignore[union-attr]
        "o-paid": ChargeStatus.SUCCEEDED,
        "o-failed": ChargeStatus.FAILED,
        "o-expired": ChargeStatus.EXPIRED,
        "o-open": ChargeStatus.REQUIRES_ACTION,
    }
    assert (report.checked, report.changed, report.unchanged, report.errors) == (4, 3, 1, {})
    assert sorted(t[0] for t in report.transitions) == ["o-expired", "o-failed", "o-paid"]

    # Final charges are not polled again; the open one is, once it has been quiet long enough.
    assert ledger.reconcile(older_than=timedelta(minutes=5)).checked == 0
    clock.advance(minutes=6)
    assert ledger.reconcile(older_than=timedelta(minutes=5)).checked == 1


def test_fresh_charges_wait_for_older_than_and_the_providers_own_delay(
    ledger: Ledger, api: LedgerPayApi, clock: Clock
) -> None:
    _stuck(ledger, api, {"o-1": "paid"})
    clock.advance(seconds=30)
    assert ledger.reconcile(older_than=timedelta(minutes=1)).checked == 0
    # Past older_than but not past the provider's reconcile_after (60 s): not due yet.
    report = ledger.reconcile(older_than=timedelta(seconds=10))
    assert (report.checked, report.skipped) == (0, 1)
    assert api.count("GET /charges/ch_1") == 0
    clock.advance(seconds=31)
    assert ledger.reconcile(older_than=timedelta(seconds=10)).changed == 1


def test_a_create_left_unknown_is_recovered_by_reconcile(
    ledger: Ledger, api: LedgerPayApi, clock: Clock
) -> None:
    api.fault = _lose_every_answer(api)
    with pytest.raises(Exception, match="may have been processed"):
        ledger.create_charge(charge_request())
    api.fault = None
    api.set_state(api.by_ref("order-1")["id"], "paid")
    clock.advance(minutes=10)
    report = ledger.reconcile(older_than=timedelta(minutes=5))
    assert report.changed == 1
    assert ledger.get("order-1").status is ChargeStatus.SUCCEEDED  # type: ignore[union-attr]
    assert ledger.entry("order-1").create_state == "created"  # type: ignore[union-attr]
    assert api.count("POST /charges") == 1


def test_a_provider_error_is_reported_per_charge_and_the_rest_continue(
    ledger: Ledger, api: LedgerPayApi, clock: Clock
) -> None:
    _stuck(ledger, api, {"o-1": "paid", "o-2": "paid"})
    api.fault = lambda r: (
        httpx.Response(404, json={"error": "gone"}) if r.url.path.endswith("ch_1") else None
    )
    clock.advance(minutes=10)
    seen: list[tuple[int, int, str]] = []
    report = ledger.reconcile(older_than=timedelta(minutes=5), progress=lambda *a: seen.append(a))
    assert list(report.errors) == ["o-1"]
    assert report.changed == 1
    assert seen == [(1, 2, "o-1"), (2, 2, "o-2")]


def test_cli_reconcile_and_show(
    tmp_path: Path,
    api: LedgerPayApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    gw = gateway(api)
    with Ledger(gw, url=db) as ledger:
        _stuck(ledger, api, {"o-cli": "paid"})
    # Charges were created "long ago" as far as the command is concerned: older_than 0, and
    # the provider's own delay set to 0 through the settings the command's gateway is built from.
    monkeypatch.setattr(cli, "_gateway", lambda args: gateway(api, reconcile_after_seconds=0))
    code = cli.reconcile_command(argparse.Namespace(db=db, config=None, older_than=0))
    out = capsys.readouterr().out
    assert code == 0
    assert "o-cli: requires_action -> succeeded" in out
    assert "changed" in out

    assert cli.show_command(argparse.Namespace(reference="o-cli", db=db, config=None)) == 0
    out = capsys.readouterr().out
    assert "succeeded" in out and "10,000 KRW" in out and "poll" in out

    assert main(["ledger", "show", "nope", "--db", db]) == EXIT_FAILED
    assert "no charge 'nope'" in capsys.readouterr().err


def test_cli_reconcile_exits_1_when_a_charge_could_not_be_checked(
    tmp_path: Path,
    api: LedgerPayApi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    with Ledger(gateway(api), url=db) as ledger:
        _stuck(ledger, api, {"o-cli": "paid"})
    api.fault = lambda r: httpx.Response(503, json={"error": "down"})
    monkeypatch.setattr(cli, "_gateway", lambda args: gateway(api, reconcile_after_seconds=0))
    assert cli.reconcile_command(argparse.Namespace(db=db, config=None, older_than=0)) == 1
    assert "o-cli" in capsys.readouterr().out


def test_refresh_polls_one_charge_now(ledger: Ledger, api: LedgerPayApi) -> None:
    _stuck(ledger, api, {"o-1": "paid", "o-2": "paid"})
    charge = ledger.refresh("o-1")
    assert charge is not None and charge.status is ChargeStatus.SUCCEEDED
    assert ledger.get("o-2").status is ChargeStatus.REQUIRES_ACTION  # type: ignore[union-attr]


def test_a_ledger_needs_the_matching_gateway(api: LedgerPayApi, tmp_path: Path) -> None:
    from ledgerpay import FAST, SECRET, LedgerPay

    from paymux import AsyncGateway
    from paymux.errors import InvalidRequest
    from paymux.ledger import AsyncLedger

    provider = LedgerPay.configure({"secret": SECRET}, name="ledgerpay")
    agw = AsyncGateway(providers={"ledgerpay": provider}, retry=FAST)
    with pytest.raises(InvalidRequest, match="Ledger needs a Gateway"):
        Ledger(agw, url=f"sqlite:///{tmp_path / 'x.db'}")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="AsyncLedger needs a AsyncGateway"):
        AsyncLedger(gateway(api), url=f"sqlite:///{tmp_path / 'x.db'}")  # type: ignore[arg-type]


def test_cli_show_does_not_create_a_database_for_a_mistyped_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    assert main(["ledger", "show", "o-1", "--db", f"sqlite:///{missing}"]) == EXIT_NO_DATABASE
    assert not missing.exists()
    assert "no ledger database" in capsys.readouterr().err


def test_a_create_that_reached_nobody_is_released_by_reconcile_after_a_certain_miss(
    ledger: Ledger, api: LedgerPayApi, clock: Clock
) -> None:
    def lost_on_the_way(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ReadTimeout("gone", request=request)  # sent, never processed

    api.fault = lost_on_the_way
    with pytest.raises(TransportError):
        ledger.create_charge(charge_request())
    assert ledger.entry("order-1").create_state == "unknown"  # type: ignore[union-attr]
    api.fault = None
    clock.advance(minutes=10)
    report = ledger.reconcile(older_than=timedelta(minutes=5))
    assert (report.checked, report.unchanged, report.errors) == (1, 1, {})
    # LedgerPay's look-up is exact and does not lag: the miss is certain, the create may go.
    assert ledger.entry("order-1").create_state == "new"  # type: ignore[union-attr]
    assert ledger.create_charge(charge_request()).reference == "order-1"
    assert len(api.charges) == 1


def test_an_uncertain_miss_leaves_the_create_unknown_and_reports_no_error(
    ledger: Ledger, gw: Gateway, api: LedgerPayApi, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.fault = _lose_every_answer(api)
    with pytest.raises(TransportError):
        ledger.create_charge(charge_request())
    api.fault = None

    def not_yet() -> Charge:
        raise NotFound("not in the search yet", provider="ledgerpay", conclusive=False)

    def lagging(lookup: ChargeLookup) -> Flow[Charge]:
        return no_io(not_yet)

    monkeypatch.setattr(gw.provider("ledgerpay"), "retrieve_charge", lagging)
    clock.advance(minutes=10)
    report = ledger.reconcile(older_than=timedelta(minutes=5))
    assert (report.checked, report.unchanged, report.errors) == (1, 1, {})
    assert ledger.entry("order-1").create_state == "unknown"  # type: ignore[union-attr]
    monkeypatch.undo()
    clock.advance(minutes=10)
    assert ledger.reconcile(older_than=timedelta(minutes=5)).changed == 1  # adopted once visible
    assert ledger.entry("order-1").create_state == "created"  # type: ignore[union-attr]
    assert api.count("POST /charges") == 1
