"""Final callbacks confirmed through the Gate's signed ``/v2/payment/status`` answer.

A signature proves only that ECommPay's algorithm over the project's key produced this text, and
that algorithm leaves room for re-arranged payloads (:mod:`.webhooks_shape`). Before paymux
reports what a *final* callback changes (status, amounts, ids) it asks the Gate, as the Omise
plugin re-reads a charge. The rules:

* The Gate's answer is what is reported (its status, amounts, refunds, failure).
* The Gate does not know the payment, or (for a refund) the operation: refused.
* The callback claims a final state but the Gate's answer is still open: refused, so that
  ECommPay delivers it again later (its status may simply lag behind its callbacks). A forged
  success for an unpaid order ends here.
* The Gate's answer is final but says something else than the callback: the Gate's answer is
  reported, under an event id of its own, so it can never shadow the genuine callback's id.
* The status request fails (network, refusal, unsigned or badly signed answer): refused.

Every refusal is a :class:`CallbackNotConfirmed` (a ``WebhookVerificationError``): nothing changes,
the endpoint answers non-200 and ECommPay retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from paymux.errors import InvalidRequest, ProviderError, WebhookVerificationError
from paymux.event_types import EventType
from paymux.models import Charge, Refund, WebhookEvent
from paymux.payload import PayloadError
from paymux.status import ChargeStatus, RefundStatus

from .responses import REFUND_OPERATION_TYPES, build_refund, money, obj, text
from .responses_status import charge_from_status
from .settings import EcommpaySettings


class CallbackNotConfirmed(WebhookVerificationError):
    """The Gate's status answer does not (yet) confirm what a final callback says."""


_PAID = frozenset({ChargeStatus.SUCCEEDED, ChargeStatus.PARTIALLY_REFUNDED, ChargeStatus.REFUNDED})


def needs_confirmation(event: WebhookEvent) -> bool:
    """Final outcomes only: an intermediate callback (QR, redirect, clarification) moves no
    money and is superseded by the final one."""
    if event.refund is not None:
        return event.refund.status is not RefundStatus.PENDING
    return event.charge is not None and event.charge.status.is_final


def payment_id_of(event: WebhookEvent) -> str:
    if event.charge is not None:
        return event.charge.id
    assert event.refund is not None
    return event.refund.charge_id


def _gate_truth(
    response: httpx.Response, settings: EcommpaySettings, provider: str, event: WebhookEvent
) -> Charge:
    try:
        truth = charge_from_status(response, settings, provider, known=event.charge)
    except ProviderError as exc:
        raise CallbackNotConfirmed(
            f"the Gate's status answer does not confirm the callback ({exc}); ECommPay will"
            " deliver it again"
        ) from None
    if truth.id != payment_id_of(event):
        raise CallbackNotConfirmed("the Gate answered about another payment")
    return truth


def _agrees(claimed: ChargeStatus, truth: ChargeStatus) -> bool:
    # A payment refunded since the success callback was sent still confirms that success.
    return claimed == truth or (claimed is ChargeStatus.SUCCEEDED and truth in _PAID)


def confirm_sale(
    event: WebhookEvent, response: httpx.Response, settings: EcommpaySettings, provider: str
) -> WebhookEvent:
    assert event.charge is not None
    claimed = event.charge
    truth = _gate_truth(response, settings, provider, event)
    if _agrees(claimed.status, truth.status) and truth.amount == claimed.amount:
        event_id = event.id
    elif not truth.status.is_final:
        raise CallbackNotConfirmed(
            f"the callback says payment {claimed.id} is {claimed.status}, the Gate says it is"
            f" still {truth.provider_status or truth.status}; ECommPay will deliver it again"
        )
    else:
        event_id = f"{truth.id}:gate:{truth.provider_status or truth.status}"
    return event.model_copy(
        update={
            "id": event_id,
            "type": EventType.reporting(truth.status),
            "charge": truth,
            "verified_by": "signature+refetch",
        }
    )


def _operation(truth: Charge, refund: Refund) -> Mapping[str, Any] | None:
    operations = (truth.raw or {}).get("operations")
    if not isinstance(operations, list):
        return None
    for op in operations:
        if not isinstance(op, Mapping):
            continue
        if (text(op, "type") or "").lower() not in REFUND_OPERATION_TYPES:
            continue
        if refund.id in (text(op, "request_id"), text(op, "id")):
            return op
    return None


def confirm_refund(
    event: WebhookEvent, response: httpx.Response, settings: EcommpaySettings, provider: str
) -> WebhookEvent:
    assert event.refund is not None
    claimed = event.refund
    truth = _gate_truth(response, settings, provider, event)
    op = _operation(truth, claimed)
    if op is None:
        raise CallbackNotConfirmed(
            f"the Gate lists no refund {claimed.id} of payment {truth.id}; ECommPay will deliver"
            " the callback again"
        )
    raw = truth.raw or {}
    try:
        refund = build_refund(provider, truth.id, op, raw)
        remaining = money(obj(raw, "payment"), "sum")
    except (PayloadError, InvalidRequest) as exc:
        raise CallbackNotConfirmed(f"unreadable refund in the Gate's answer: {exc}") from None
    if refund.reference is None and claimed.reference is not None:
        # The status answer lists operations without the merchant's refund id.
        refund = refund.model_copy(update={"reference": claimed.reference})
    if refund.status is RefundStatus.PENDING:
        raise CallbackNotConfirmed(
            f"the Gate still has refund {claimed.id} as {refund.provider_status}; ECommPay will"
            " deliver the callback again"
        )
    agrees = refund.status is claimed.status and refund.amount == claimed.amount
    return event.model_copy(
        update={
            "id": event.id if agrees else f"{refund.id}:gate:{refund.provider_status}",
            "type": EventType.reporting(truth.status, refund.status),
            "charge": truth,
            "refund": refund,
            "remaining_amount": remaining,
            "verified_by": "signature+refetch",
        }
    )


def confirm(
    event: WebhookEvent, response: httpx.Response, settings: EcommpaySettings, provider: str
) -> WebhookEvent:
    if event.refund is not None:
        return confirm_refund(event, response, settings, provider)
    return confirm_sale(event, response, settings, provider)
