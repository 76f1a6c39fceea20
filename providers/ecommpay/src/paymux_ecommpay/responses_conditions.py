"""The mappings that depend on more than one status word, worked out by the code that applies them.

The documentation's status-mapping page lists them (``EcommpayProvider.status_conditions()``).
Each row runs a minimal status answer through the translation every status answer goes through,
so the page cannot state a mapping the plugin does not make. Callbacks apply the same two rules
(an open payment that shows the customer something requires action; refunds of a paid payment).
"""

from __future__ import annotations

from typing import Any

from .responses_status import _translate

_AMOUNT = {"amount": 10000, "currency": "KRW"}


def _answer(status: str, *, refunds: tuple[int, ...] = (), **extra: Any) -> dict[str, Any]:
    operations: list[dict[str, Any]] = [
        {"id": 1, "type": "sale", "status": status, "sum_initial": _AMOUNT}
    ]
    for n, amount in enumerate(refunds, start=2):
        operations.append(
            {
                "id": n,
                "type": "refund",
                "status": "success",
                "request_id": f"refund-{n}",
                "sum_initial": {"amount": amount, "currency": "KRW"},
            }
        )
    payment = {"id": "order-1", "status": status, "sum": _AMOUNT}
    return {"payment": payment, "operations": operations, **extra}


_CASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "awaiting customer action",
        "with `display_data` (a QR code to show)",
        _answer(
            "awaiting customer action",
            display_data=[{"type": "qr_data", "data": "https://qr.example/pay/1"}],
        ),
    ),
    (
        "awaiting customer action",
        "with `redirect_data` (a page to send the browser to)",
        _answer(
            "awaiting customer action",
            redirect_data={"method": "POST", "url": "https://acs.example/3ds", "body": {}},
        ),
    ),
    (
        "awaiting clarification",
        "with `clarification_fields` (information the customer must give)",
        _answer("awaiting clarification", clarification_fields={"customer": ["phone"]}),
    ),
    (
        "awaiting customer action",
        "with nothing to show yet (the QR code comes in a later callback)",
        _answer("awaiting customer action"),
    ),
    (
        "success",
        "with successful refund operations for part of the amount",
        _answer("success", refunds=(3000,)),
    ),
    (
        "success",
        "with successful refund operations for the whole amount",
        _answer("success", refunds=(3000, 7000)),
    ),
)


def rows() -> list[tuple[str, str, str]]:
    """``(payment status, condition, neutral status)``, each computed by the plugin's code."""
    return [
        (value, condition, _translate(answer, "ecommpay", None).status.value)
        for value, condition, answer in _CASES
    ]
