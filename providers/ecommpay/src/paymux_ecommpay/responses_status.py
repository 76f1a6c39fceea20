"""The answer to ``/v2/payment/status``: verified, then mapped like a callback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from paymux.errors import InvalidRequest, ProviderError
from paymux.models import Charge, Refund
from paymux.money import Money
from paymux.payload import PayloadError
from paymux.status import ChargeStatus

from .responses import (
    OPERATION_STATUSES,
    REFUND_OPERATION_TYPES,
    UNKNOWN_OPERATION_STATUS,
    build_charge,
    charge_status,
    money,
    obj,
    read_json,
    rejection,
    text,
    when,
)
from .responses_actions import next_action
from .settings import EcommpaySettings
from .signing import find_signatures, verify


def _operations(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ops = payload.get("operations")
    if ops is None:
        return []
    if not isinstance(ops, list):
        raise PayloadError("'operations' is not a list")
    return [op for op in ops if isinstance(op, Mapping)]


def _is_refund(op: Mapping[str, Any]) -> bool:
    return (text(op, "type") or "").lower() in REFUND_OPERATION_TYPES


def _listed_refunds(
    ops: list[Mapping[str, Any]], payment_id: str, provider: str
) -> tuple[Refund, ...]:
    """Each refund operation as a :class:`Refund`, with the id the refund call answered with
    (its ``request_id``), so the ledger can tell which of its refunds went through."""
    listed = []
    for op in ops:
        if not _is_refund(op):
            continue
        amount = money(op, "sum_initial") or money(op, "sum_converted")
        refund_id = text(op, "request_id") or text(op, "id")
        if amount is None or refund_id is None:
            raise PayloadError("a refund operation has no amount or id")
        word = text(op, "status") or ""
        listed.append(
            Refund(
                provider=provider,
                id=refund_id,
                charge_id=payment_id,
                reference=text(op, "merchant_refund_id"),
                amount=amount,
                status=OPERATION_STATUSES.get(word.lower(), UNKNOWN_OPERATION_STATUS),
                provider_status=word or None,
                created_at=when(op.get("created_date")) or when(op.get("date")),
            )
        )
    return tuple(listed)


def _translate(payload: Mapping[str, Any], provider: str, known: Charge | None) -> Charge:
    payment = obj(payload, "payment", required=True)
    ops = _operations(payload)
    sales = [op for op in ops if not _is_refund(op)]
    last_sale: Mapping[str, Any] = sales[-1] if sales else {}
    remaining = money(payment, "sum")
    refunded_total: Money | None = None
    for op in ops:
        if _is_refund(op) and (text(op, "status") or "").lower() == "success":
            part = money(op, "sum_initial")
            if part is not None:
                refunded_total = part if refunded_total is None else refunded_total + part
    # The original amount: the sale operation's, else what we knew, else what is left + refunds.
    amount = money(sales[0], "sum_initial") if sales else None
    if amount is None and known is not None:
        amount = known.amount
    if amount is None and remaining is not None:
        amount = remaining + refunded_total if refunded_total else remaining
    if amount is None:
        raise PayloadError("the answer states no payment amount")
    status = charge_status(text(payment, "status"), text(last_sale, "status"))
    if status.is_paid and refunded_total:
        status = (
            ChargeStatus.REFUNDED if refunded_total >= amount else ChargeStatus.PARTIALLY_REFUNDED
        )
    action = None
    if not status.is_final:
        action = next_action(payload, when(last_sale.get("date")))
        if action is not None:
            status = ChargeStatus.REQUIRES_ACTION
    charge = build_charge(
        provider,
        payload,
        operation=last_sale,
        amount=amount,
        refunded=refunded_total,
        status=status,
        next_action=action,
    )
    # The status answer lists every operation of the payment, so this list is complete.
    charge = charge.model_copy(update={"refunds": _listed_refunds(ops, charge.id, provider)})
    if known is not None and known.method and charge.method is None:
        charge = charge.model_copy(update={"method": known.method})
    return charge


def charge_from_status(
    response: httpx.Response, settings: EcommpaySettings, provider: str, *, known: Charge | None
) -> Charge:
    payload = read_json(response, provider)
    if not isinstance(payload, Mapping):
        raise ProviderError(
            "the status answer is not a JSON object",
            provider=provider,
            http_status=response.status_code,
        )
    payment = payload.get("payment")
    payment_status = payment.get("status") if isinstance(payment, Mapping) else None
    errors = payload.get("errors")
    refused = (
        not response.is_success
        or payload.get("status") == "error"
        # "Transaction not found" comes as payment.status "error" with only an errors list.
        or (payment_status in (None, "error") and isinstance(errors, list) and bool(errors))
    )
    if refused:
        raise rejection(payload, response, provider)
    if not find_signatures(payload):
        raise ProviderError(
            "the status answer is not signed; not trusting it",
            provider=provider,
            code="unsigned_answer",
            http_status=response.status_code,
        )
    if not verify(payload, settings.secret_key):
        raise ProviderError(
            "the status answer's signature does not match the project's secret key",
            provider=provider,
            code="bad_answer_signature",
            http_status=response.status_code,
        )
    try:
        return _translate(payload, provider, known)
    except (PayloadError, InvalidRequest, RecursionError) as exc:
        raise ProviderError(
            f"unreadable status answer: {exc}", provider=provider, http_status=response.status_code
        ) from None
