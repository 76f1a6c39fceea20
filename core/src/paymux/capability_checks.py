"""The one home of the charge and refund rules a provider declares as data.

The router, the gateways, every plugin and the Ledger ask these functions, so a request the
router sends to a provider is one that provider's flow accepts, and a refund refused here is
refused with the same words everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .errors import InvalidRequest, RefundNotAllowed
from .models import Capability, Charge, ChargeRequest, Refusal
from .money import Money
from .status import RefundSupport


class Declaring(Protocol):
    """What these checks read of a provider (``paymux.provider.Provider`` is one; naming it here
    would make the two modules import each other)."""

    name: str

    def declared_capabilities(self) -> Sequence[Capability]: ...


CHECKED = "_paymux_checked_request"
"""Where a provider keeps the last request it admitted, with the capability that admitted it."""


def charge_refusal(
    capabilities: Sequence[Capability], request: ChargeRequest
) -> Capability | Refusal:
    """The capability that takes ``request``, or why none does (every offer's reason)."""
    refusals: list[str] = []
    field = "method"
    for capability in capabilities:
        if capability.method != request.method:
            continue
        refusal = capability.refusal(request)
        if refusal is None:
            return capability
        field = refusal.field
        refusals.append(refusal.reason)
    if not refusals:
        offered = ", ".join(dict.fromkeys(c.method for c in capabilities)) or "nothing"
        return Refusal("method", f"does not offer method {request.method!r} (offers {offered})")
    return Refusal(field, "; ".join(refusals))


def admission(provider: Declaring, request: ChargeRequest) -> Capability | Refusal:
    """The capability of ``provider`` that takes ``request``, or why none does.

    The answer for the last admitted request is kept on the provider: the router's check and
    the flow's own check of one charge are then one check. Requests are frozen and a provider's
    capabilities are fixed once it is configured, so the same object gets the same answer.
    """
    last: tuple[ChargeRequest, Capability] | None = provider.__dict__.get(CHECKED)
    if last is not None and last[0] is request:
        return last[1]
    found = charge_refusal(provider.declared_capabilities(), request)
    if not isinstance(found, Refusal):
        # One tuple, assigned at once: another thread reads either the old pair or the new one.
        provider.__dict__[CHECKED] = (request, found)
    return found


def check_charge(provider: Declaring, request: ChargeRequest) -> Capability:
    """The capability of ``provider`` that takes ``request``; :class:`InvalidRequest` naming the
    field otherwise."""
    found = admission(provider, request)
    if isinstance(found, Refusal):
        raise InvalidRequest(f"{provider.name} {found.reason}", field=found.field)
    return found


def check_refundable(charge: Charge, amount: Money | None) -> None:
    """What every refund of ``charge`` needs whatever is left of it: a paid charge, and an
    amount (if given) in the charge's currency. The Ledger asks this before it looks for an
    earlier refund under the same reference; :func:`refund_amount` asks it too."""
    if not charge.status.is_paid:
        raise RefundNotAllowed(
            f"charge {charge.id} is {charge.status.value}; only paid charges can be refunded"
        )
    if amount is None:
        return
    if not isinstance(amount, Money):
        raise InvalidRequest(f"expected Money, got {type(amount).__name__}", field="amount")
    if amount.currency != charge.amount.currency:
        raise InvalidRequest(
            f"refund in {amount.currency} for a {charge.amount.currency} charge", field="amount"
        )


def refund_amount(
    charge: Charge,
    amount: Money | None,
    capability: Capability | None,
    *,
    provider: str,
    in_flight: int = 0,
) -> Money:
    """The amount to refund of ``charge`` (what is left when ``amount`` is None), or the typed
    refusal: :func:`check_refundable`, at most what is left after refunds already made and
    ``in_flight`` (minor units asked but not yet settled), and only as the method's
    :class:`RefundSupport` allows (none, the whole charge once, or any part)."""
    method = charge.method or "these"
    support = capability.refunds if capability is not None else RefundSupport.PARTIAL
    if support is RefundSupport.NONE:
        raise RefundNotAllowed(f"{provider} cannot refund {method} payments")
    check_refundable(charge, amount)
    refundable = charge.refundable_amount
    if in_flight:
        refundable = Money(max(refundable.amount - in_flight, 0), refundable.currency)
    if amount is None:
        amount = refundable
    if amount.amount == 0:
        raise RefundNotAllowed(f"nothing left to refund on charge {charge.id}")
    if amount > refundable:
        raise RefundNotAllowed(
            f"{amount} is more than the {refundable} still refundable on charge {charge.id}"
            + (f" ({Money(in_flight, amount.currency)} in flight)" if in_flight else "")
        )
    if support is RefundSupport.FULL and amount != charge.amount:
        raise RefundNotAllowed(
            f"{provider} refunds {method} payments only in full ({charge.amount});"
            f" {amount} was asked"
        )
    return amount
