"""The mappings that depend on more than the charge's status, worked out by the code that applies them.

The documentation's status-mapping page lists them (``OmiseProvider.status_conditions()``). Each
row runs a minimal charge object through ``parse_charge``, the translation every charge answer and
webhook goes through, so the page cannot state a mapping the plugin does not make.
"""

from __future__ import annotations

from typing import Any

from .responses import parse_charge

_CHARGE: dict[str, Any] = {
    "object": "charge",
    "id": "chrg_test_1",
    "amount": 150000,
    "currency": "SGD",
    "status": "pending",
    "source": {"object": "source", "id": "src_test_1", "type": "kakaopay", "flow": "app_redirect"},
    "created_at": "2026-01-01T00:00:00Z",
    "refunded_amount": 0,
}

_CASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "pending",
        "with `authorize_uri` (a page to send the customer to)",
        {"authorize_uri": "https://pay.example/authorize"},
    ),
    (
        "pending",
        "with a `source.scannable_code` image (a QR code to show)",
        {
            "source": {
                **_CHARGE["source"],
                "scannable_code": {"image": {"download_uri": "https://pay.example/qr.png"}},
            }
        },
    ),
    ("pending", "with nothing for the customer to do", {}),
    (
        "successful",
        "with `refunded_amount` below `amount`",
        {"status": "successful", "refunded_amount": 50000},
    ),
    (
        "successful",
        "with `refunded_amount` equal to `amount`",
        {"status": "successful", "refunded_amount": 150000},
    ),
    (
        "successful",
        "with `voided: true` (voided before settlement)",
        {"status": "successful", "voided": True},
    ),
    (
        "failed",
        "with `failure_code: payment_expired`",
        {"status": "failed", "failure_code": "payment_expired"},
    ),
)


def rows() -> list[tuple[str, str, str]]:
    """``(charge status, condition, neutral status)``, each computed by the plugin's code."""
    return [
        (value, condition, parse_charge({**_CHARGE, **changes}, "omise").status.value)
        for value, condition, changes in _CASES
    ]
