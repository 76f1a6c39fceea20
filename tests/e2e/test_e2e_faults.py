"""Faults on the sandbox: what a checkout service sees when providers and networks misbehave."""

from __future__ import annotations

from pathlib import Path

import pytest
from campaign import run_campaign


def test_duplicated_reordered_and_dropped_callbacks_converge(tmp_path: Path) -> None:
    result = run_campaign(40, f"sqlite:///{tmp_path / 'ledger.db'}", seed=7, threads=4)
    assert result.callbacks.get("duplicated", 0) > 0
    assert result.callbacks.get("reordered", 0) > 0
    assert result.callbacks.get("dropped", 0) > 0
    assert result.not_final == []
    assert result.double_charges == []
    assert result.lost_refunds == []
    assert result.disagreements == []


@pytest.mark.slow
def test_fault_campaign_of_a_thousand_checkouts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_campaign(1000, f"sqlite:///{tmp_path / 'ledger.db'}")
    with capsys.disabled():
        print(f"\nfault campaign: {result.summary()}")
    faults = sum(result.request_faults.values())
    assert 0.25 <= faults / result.requests <= 0.35, (
        "the campaign must really fail ~30% of requests"
    )
    assert result.double_charges == []
    assert result.lost_refunds == []
    assert result.not_final == []
    assert result.disagreements == []
