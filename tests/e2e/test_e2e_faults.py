"""Faults on the sandbox: what a checkout service sees when providers and networks misbehave.

The campaign (tests/support/campaign.py) would have failed on the Ledger's double charge behind a
lagging Omise search and on refunds credited by totals: it asserts that every kind of fault really
happened, and that the Ledger agrees with the emulators' books and the merchant's asks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from campaign import CampaignResult, run_campaign


def _check(result: CampaignResult, kills: int) -> None:
    missing = [kind for kind, count in result.fault_kinds().items() if count == 0]
    assert missing == [], f"faults that never happened: {missing}"
    assert result.crashes == []
    assert result.unexpected_errors == {}, "errors the faults cannot explain"
    assert result.kills.killed == kills, result.kills.missed
    assert result.kills.in_window == kills, result.kills.missed
    assert "gave up" not in result.kills.restarted
    assert sum(len(a) for a in result.asks.values()) > 2 * len(result.asks) - len(result.asks)
    assert max(len(a) for a in result.asks.values()) >= 3, "several partial refunds per charge"
    assert result.audit.charges > 0
    assert result.audit.failures() == {}


def test_fault_campaign_agrees_with_the_books_and_the_asks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_campaign(48, f"sqlite:///{tmp_path / 'ledger.db'}", seed=7, threads=4, kills=4)
    with capsys.disabled():
        print(f"\nfault campaign: {result.summary()}")
    _check(result, kills=4)


@pytest.mark.slow
def test_fault_campaign_of_a_thousand_checkouts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_campaign(1000, f"sqlite:///{tmp_path / 'ledger.db'}", kills=12)
    with capsys.disabled():
        print(f"\nfault campaign: {result.summary()}")
    _check(result, kills=12)
