"""A charge lists its refunds (``Charge.refunds``) only when Omise's embedded list holds them
all: a partial page could not prove a refund absent, so the Ledger must not read it as complete.
Fixture: ``charge_kakaopay_partially_refunded.json`` (official charge shape, see data/)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from paymux import Money, RefundStatus
from paymux_omise.responses import parse_charge

DATA = Path(__file__).parent / "data"


def _charge() -> dict[str, Any]:
    data = json.loads((DATA / "charge_kakaopay_partially_refunded.json").read_text())
    assert isinstance(data, dict)
    return data


def test_a_complete_list_gives_each_refund_with_its_reference() -> None:
    charge = parse_charge(_charge(), "omise")
    assert charge.refunds is not None
    (refund,) = charge.refunds
    assert (refund.id, refund.reference, refund.amount, refund.status) == (
        "rfnd_test_paymuxpartial1",
        "order-345678-r1",
        Money(50000, "SGD"),
        RefundStatus.SUCCEEDED,
    )
    assert refund.raw is None


def test_a_partial_page_lists_nothing() -> None:
    data = _charge()
    data["refunds"]["total"] = 2  # one more refund than this page holds
    assert parse_charge(data, "omise").refunds is None


def test_no_list_at_all_lists_nothing() -> None:
    data = copy.deepcopy(_charge())
    del data["refunds"]
    assert parse_charge(data, "omise").refunds is None
