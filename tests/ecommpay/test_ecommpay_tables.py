"""The status and code tables cover every value ECommPay documents, and nothing maps to paid by accident."""

from __future__ import annotations

import pytest

from paymux import ChargeStatus, FailureReason, RefundStatus
from paymux_ecommpay import CODE_REASONS, OPERATION_STATUSES, PAYMENT_STATUSES
from paymux_ecommpay.responses import charge_status, failure_for

# Every payment status of the official SDKs and plugins (research notes, section 3.6).
DOCUMENTED_PAYMENT_STATUSES = [
    "success", "decline", "awaiting customer", "expired", "error", "internal error", "external error",
    "refunded", "partially refunded", "reversed", "partially reversed", "canceled", "cancelled",
    "processing", "external processing", "awaiting 3ds result", "awaiting redirect result",
    "awaiting customer action", "awaiting clarification", "awaiting clarify data", "awaiting capture",
    "awaiting merchant auth", "awaiting approval", "awaiting confirmation", "awaiting payment",
    "awaiting retry", "awaiting clearing", "awaiting partially clearing", "clearing processing",
    "scheduled recurring processing", "partially paid", "partially paid out", "invoice sent",
    "invoice cancelled", "decline renewal",
]  # fmt: skip

DOCUMENTED_OPERATION_STATUSES = [
    "success", "decline", "processing", "awaiting 3ds result", "awaiting redirect result",
    "awaiting customer", "awaiting customer action", "awaiting clarification", "awaiting merchant auth",
    "awaiting approval", "awaiting finalization", "awaiting confirmation", "awaiting payment",
    "external processing", "external error", "internal error", "error", "expired", "invoice sent",
    "invoice cancelled", "unknown",
]  # fmt: skip


@pytest.mark.parametrize("status", DOCUMENTED_PAYMENT_STATUSES)
def test_every_documented_payment_status_is_in_the_table(status: str) -> None:
    assert status in PAYMENT_STATUSES


@pytest.mark.parametrize("status", DOCUMENTED_OPERATION_STATUSES)
def test_every_documented_operation_status_is_in_the_table(status: str) -> None:
    assert status in OPERATION_STATUSES


def test_only_success_means_paid_and_only_refund_words_mean_refunded() -> None:
    paid = {word for word, status in PAYMENT_STATUSES.items() if status.is_paid}
    assert paid == {"success", "refunded", "reversed", "partially refunded", "partially reversed"}
    assert [w for w, s in OPERATION_STATUSES.items() if s is RefundStatus.SUCCEEDED] == ["success"]


def test_status_words_are_matched_case_insensitively_and_unknown_ones_stay_open() -> None:
    assert charge_status("Success", None) is ChargeStatus.SUCCEEDED
    assert charge_status("settled", "success") is ChargeStatus.PENDING
    assert charge_status(None, "success") is ChargeStatus.SUCCEEDED
    assert charge_status(None, "awaiting finalization") is ChargeStatus.PENDING


def test_code_table() -> None:
    assert CODE_REASONS["20000"] is FailureReason.DECLINED
    assert CODE_REASONS["20105"] is FailureReason.INSUFFICIENT_FUNDS
    assert "0" not in CODE_REASONS and "9999" not in CODE_REASONS
    assert failure_for("123456", "odd").reason is FailureReason.UNKNOWN
    assert failure_for("123456", "odd").code == "123456"
    assert failure_for(None, None, ChargeStatus.EXPIRED).reason is FailureReason.EXPIRED
