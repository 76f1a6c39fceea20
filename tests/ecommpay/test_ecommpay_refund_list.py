"""The status answer lists every refund operation (``Charge.refunds``): what the Ledger matches
its held refunds against, by the ``request_id`` the refund call answered with."""

from __future__ import annotations

import pytest
from ecommpay_support import json_response, make_provider
from test_ecommpay_flows import op, status_answer

from paymux import Money, RefundStatus
from paymux.errors import ProviderError
from paymux.testing import run_flow


def _retrieve(answer: dict[str, object]) -> object:
    provider = make_provider()
    return run_flow(
        provider.retrieve_charge(provider.lookup("test_payment")),
        lambda _request: json_response(200, answer),
    )


def test_every_refund_operation_is_listed_with_its_request_id() -> None:
    operations = [
        op("sale", "success", 1000, request_id="sale-1"),
        op("refund", "success", 300, request_id="rq-a"),
        op("refund", "decline", 200, code="20000", request_id="rq-b"),
        op("refund", "processing", 100, code="9999", request_id="rq-c"),
    ]
    charge = _retrieve(status_answer("partially refunded", operations, remaining=700))
    refunds = charge.refunds  # type: ignore[attr-defined]
    assert [(r.id, r.amount, r.status) for r in refunds] == [
        ("rq-a", Money(300, "KRW"), RefundStatus.SUCCEEDED),
        ("rq-b", Money(200, "KRW"), RefundStatus.FAILED),
        ("rq-c", Money(100, "KRW"), RefundStatus.PENDING),
    ]
    # The status answer carries no merchant_refund_id per operation: none is made up.
    assert all(r.reference is None and r.charge_id == "test_payment" for r in refunds)
    assert all(r.raw is None for r in refunds)


def test_no_refund_operations_is_an_empty_list_not_an_unknown_one() -> None:
    charge = _retrieve(status_answer("success", [op("sale", "success", 1000)]))
    assert charge.refunds == ()  # type: ignore[attr-defined]


def test_a_refund_operation_without_an_amount_is_unreadable() -> None:
    broken = op("refund", "success", 100)
    del broken["sum_initial"]
    with pytest.raises(ProviderError, match="unreadable status answer"):
        _retrieve(status_answer("partially refunded", [op("sale", "success", 1000), broken]))
