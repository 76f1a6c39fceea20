"""Signed Payment Page URLs: the hosted page instead of Gate, with the method chosen in advance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr

from paymux.capability_checks import charge_refusal
from paymux.errors import InvalidRequest
from paymux.models import Capability, ChargeRequest, Refusal
from paymux.next_action import RedirectToUrl

from .capabilities import PAYMENT_PAGE_METHODS
from .requests import refuse_separator
from .settings import EcommpaySettings
from .signing import sign

# Payment Page parameter -> the request field it comes from, to name the field in errors.
_SOURCES = {
    "payment_id": "reference",
    "customer_id": "customer.id",
    "customer_email": "customer.email",
    "customer_phone": "customer.phone",
    "customer_first_name": "customer.first_name",
    "customer_last_name": "customer.last_name",
    "payment_description": "description",
    "language_code": "language",
    "merchant_callback_url": "callback_url",
    "merchant_success_url": "return_urls.success",
    "merchant_fail_url": "return_urls.decline",
    "merchant_return_url": "return_urls.back",
}

_PAGE_FIELDS = frozenset({"method", "country", "amount", "amount.currency"})


def payment_page_params(request: ChargeRequest, settings: EcommpaySettings) -> dict[str, Any]:
    """The Payment Page parameters (flat, unsigned) for ``request``."""
    forced = PAYMENT_PAGE_METHODS.get(request.method)
    if forced is None:
        raise InvalidRequest(f"the Payment Page has no method {request.method!r}", field="method")
    params: dict[str, Any] = {
        "project_id": settings.project_id,
        "payment_id": request.reference,
        "payment_amount": request.amount.amount,
        "payment_currency": request.amount.currency,
        "customer_id": request.customer.id,
        "force_payment_method": forced,
    }
    customer = request.customer
    optional = {
        "customer_email": customer.email,
        "customer_phone": customer.phone,
        "customer_first_name": customer.first_name,
        "customer_last_name": customer.last_name,
        "payment_description": request.description,
        "language_code": request.language,
        "merchant_callback_url": settings.callback_url,
    }
    if request.return_urls is not None:
        urls = request.return_urls
        optional["merchant_success_url"] = urls.success
        # Without a decline page the Payment Page shows the result itself: never the success page.
        optional["merchant_fail_url"] = urls.decline or urls.back
        optional["merchant_return_url"] = urls.back
    params.update({k: v for k, v in optional.items() if v})
    for name, value in params.items():
        # The customer chooses names, e-mail, ids and often the description: a ';' in them would
        # let this link's signature pass for a callback (see requests.refuse_separator).
        refuse_separator(value, _SOURCES.get(name, name))
    return params


def payment_page_url(
    request: ChargeRequest, settings: EcommpaySettings, capabilities: Sequence[Capability]
) -> RedirectToUrl:
    """Where to send the customer; the page itself collects what Gate would need (IP, phone)."""
    found = charge_refusal(capabilities, request)
    # The capability's rules run market and money first, then the customer fields and return
    # pages the Gate needs, which the page asks for itself: only the first kind stops a link.
    if isinstance(found, Refusal) and found.field in _PAGE_FIELDS:
        raise InvalidRequest(f"ECommPay's Payment Page: {found.reason}", field=found.field)
    params = payment_page_params(request, settings)
    return RedirectToUrl(
        url=payment_page_link(settings.payment_page_url, params, settings.secret_key),
        method="GET",
    )


def payment_page_link(base_url: str, params: dict[str, Any], secret_key: str | SecretStr) -> str:
    """``{base_url}/payment?<params>&signature=...``, as the official SDKs build it."""
    query = urlencode({**params, "signature": sign(params, secret_key)})
    return f"{base_url}/payment?{query}"
