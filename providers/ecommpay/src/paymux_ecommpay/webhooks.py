"""Callbacks: verify the signature, then translate into a :class:`WebhookEvent`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from paymux.errors import InvalidRequest, WebhookParseError, WebhookVerificationError
from paymux.event_types import EventType
from paymux.models import Charge, WebhookEvent
from paymux.money import Money
from paymux.payload import PayloadError
from paymux.status import ChargeStatus
from paymux.webhook_limits import load_json

from .responses import (
    REFUND_OPERATION_TYPES,
    build_charge,
    build_refund,
    charge_status,
    money,
    obj,
    text,
    when,
    without_signatures,
)
from .responses_actions import next_action
from .settings import EcommpaySettings
from .signing import (
    AmbiguousKey,
    SignatureInputError,
    find_signatures,
    path_order_key,
    string_to_sign,
    verified_order,
)
from .webhooks_shape import (
    CallbackShapeError,
    check_root,
    check_swallowed_leaves,
    received_leaves,
)


def _project(payload: Mapping[str, Any]) -> object:
    general = payload.get("general")
    inner = general.get("project_id") if type(general) is dict else None
    return payload.get("project_id", inner)


def verified_payload(body: bytes, settings: EcommpaySettings) -> dict[str, Any]:
    """The callback's JSON object once it is proven genuine; nothing is read before that.

    In order: size, depth and leaf caps; one strict flatten (keys that make the signed text
    ambiguous are refused) and one sort; the signature; the project; then the shape of the
    fields paymux reads and values that swallowed a neighbouring leaf (:mod:`.webhooks_shape`).
    """
    limits = settings.callback_limits
    payload = load_json(body, limits)
    if type(payload) is not dict:
        raise WebhookVerificationError(
            "the callback body is not a JSON object, so it cannot be verified"
        )
    claimed = find_signatures(payload)
    if not claimed:
        raise WebhookVerificationError("the callback carries no signature")
    try:
        # One walk: the signed leaves, and the shape of every field paymux reads.
        leaves = received_leaves(payload)
    except AmbiguousKey as exc:
        raise CallbackShapeError(f"refused: {exc}") from None
    except (SignatureInputError, RecursionError):
        raise WebhookVerificationError(
            "the callback cannot be verified (nested too deeply)"
        ) from None
    matched = verified_order(leaves, claimed, settings.secret_key)
    if matched is None:
        raise WebhookVerificationError(
            "the callback's signature does not match the project's secret key"
        )
    project = _project(payload)
    if project is None:
        raise CallbackShapeError("the callback names no project ('project_id')")
    if type(project) not in (int, str) or str(project) != str(settings.project_id):
        # Signed with our key but for another project: a misrouted callback, not ours to apply.
        raise WebhookVerificationError(
            f"the callback is for project {str(project)[:40]}, not {settings.project_id}"
        )
    check_root(payload)
    if matched.separator_in_values:
        check_swallowed_leaves(matched.leaves, path_order_key(matched.natural))
    return payload


def translate(payload: Mapping[str, Any], provider: str) -> WebhookEvent:
    payment = obj(payload, "payment", required=True)
    operation = obj(payload, "operation")
    payment_id = text(payment, "id") or text(obj(payload, "general"), "payment_id")
    if payment_id is None:
        raise PayloadError("'payment.id' is missing")
    op_type = (text(operation, "type") or "sale").lower()
    op_status = (text(operation, "status") or "").lower()
    occurred_at = when(operation.get("date")) or when(payment.get("date"))
    refund = None
    charge: Charge | None = None
    remaining: Money | None = None
    if op_type in REFUND_OPERATION_TYPES:
        refund = build_refund(provider, payment_id, operation, payload)
        remaining = _remaining_after_refund(payload, refund.amount)
    else:
        charge = _charge_after_sale(provider, payload, operation, occurred_at)
    # Redeliveries repeat operation id and status; a new status of one operation is a new event.
    operation_id = text(operation, "id") or text(operation, "request_id")
    status_word = op_status or (text(payment, "status") or "").lower()
    event_id = f"{operation_id}:{status_word}" if operation_id else f"{payment_id}:{status_word}"
    step = _customer_step(payload)
    if step:
        # A re-issued QR code or a new redirect comes with the same operation and status: the
        # content tells them apart, in its signed form so that a redelivery keeps its id.
        event_id = f"{event_id}:{hashlib.sha256(step.encode()).hexdigest()[:16]}"
    event_type = EventType.reporting(
        charge.status if charge is not None else None,
        refund.status if refund is not None else None,
    )
    words = {"operation_type": op_type}
    if op_status:
        words["operation_status"] = op_status
    payment_status = (text(payment, "status") or "").lower()
    if payment_status:
        words["payment_status"] = payment_status
    # Every value is typed by the code above (models built and validated, text, a datetime):
    # built without pydantic re-validating them, the largest cost of a callback after its JSON.
    return WebhookEvent._from_checked(
        {
            "provider": provider,
            "id": event_id,
            "type": event_type,
            "charge": charge,
            "refund": refund,
            "remaining_amount": remaining,
            "occurred_at": occurred_at,
            "verified_by": "signature",
            "provider_data": words,
            # The charge already holds the same signature-free copy: one copy, not two.
            "raw": charge.raw if charge is not None else without_signatures(payload),
        }
    )


def _charge_after_sale(
    provider: str, payload: Mapping[str, Any], operation: Mapping[str, Any], occurred_at: Any
) -> Charge:
    payment = obj(payload, "payment")
    amount = money(payment, "sum") or money(operation, "sum_initial")
    if amount is None:
        raise PayloadError("the callback states no payment amount")
    status = charge_status(text(payment, "status"), text(operation, "status"))
    action = None
    if not status.is_final:
        action = next_action(payload, occurred_at)
        if action is not None:
            status = ChargeStatus.REQUIRES_ACTION
    # A sale callback states no refunds. None would make the model build the same zero
    # again; "refunded" with no amounts must stay None (build_charge reads it as "all").
    refunded = None if status is ChargeStatus.REFUNDED else _zero(amount.currency)
    if status is ChargeStatus.PARTIALLY_REFUNDED:
        amount, refunded = _refunded_so_far(payment, operation)
    return build_charge(
        provider,
        payload,
        operation=operation,
        amount=amount,
        refunded=refunded,
        status=status,
        next_action=action,
    )


def _refunded_so_far(
    payment: Mapping[str, Any], operation: Mapping[str, Any]
) -> tuple[Money, Money]:
    """(original amount, cumulative refunded amount) of a partially refunded payment.

    ``payment.sum`` is then what is left, the sale operation's ``sum_initial`` what was paid:
    the refunded total is their difference, stated by ECommPay through those two. Without both
    the callback cannot say it, and a made-up zero would contradict "partially refunded"."""
    left = money(payment, "sum")
    paid = money(operation, "sum_initial")
    if left is None or paid is None or left.currency != paid.currency or not left < paid:
        raise PayloadError(
            "a partially refunded payment's callback states no original amount"
            " ('operation.sum_initial' above 'payment.sum')"
        )
    return paid, paid - left


@lru_cache(maxsize=64)
def _zero(currency: str) -> Money:
    # Money is frozen: one zero per currency can be shared by every charge.
    return Money(0, currency)


def _remaining_after_refund(payload: Mapping[str, Any], refund_amount: Money) -> Money:
    """What the refund callback says is left of the payment (``payment.sum``).

    That and this refund's amount are all a refund callback states. The original amount and the
    refunds before this one are not in it, so the event carries no charge rather than one with
    amounts made up from these two (the confirmed path re-reads the whole payment instead).
    """
    remaining = money(obj(payload, "payment"), "sum")
    if remaining is None:
        raise PayloadError("the refund callback states no remaining payment amount")
    if remaining.currency != refund_amount.currency:
        raise PayloadError("the refund and the payment are in different currencies")
    return remaining


_STEP_KEYS = ("display_data", "redirect_data", "clarification_fields")


def _customer_step(payload: Mapping[str, Any]) -> str:
    """What an intermediate callback asks the customer to do, as its signed text ("" if none)."""
    present = {key: payload[key] for key in _STEP_KEYS if key in payload}
    return string_to_sign(present) if present else ""


def translate_callback(payload: Mapping[str, Any], provider: str) -> WebhookEvent:
    """:func:`translate` for a payload :func:`verified_payload` returned. A shape it cannot read
    leaves as ``PayloadError`` (the core reports it as ``WebhookParseError``)."""
    try:
        return translate(payload, provider)
    except InvalidRequest as exc:
        # Values the neutral models refuse (an unknown currency, an amount out of range).
        raise WebhookParseError(f"ECommPay callback: {exc.reason}") from None
    except RecursionError:
        raise WebhookParseError("ECommPay callback: nested too deeply") from None
