"""The Payment Page link paymux builds (``payment_page_url()``), read as the hosted page would.

The link is flat query parameters signed as one object; the page refuses a link whose signature
ECommPay's SDK does not accept, then starts the payment with the method forced by the link.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from starlette.responses import HTMLResponse

from . import emulator_sdk as sdk
from .emulator_tables import PAGE_METHODS, limits_error


@dataclass(frozen=True)
class PageOrder:
    payment_id: str
    path: str
    amount: int
    currency: str
    customer: dict[str, Any]
    description: str
    callback_url: str | None
    return_url: dict[str, str]


def page_error(code: str, message: str) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Payment Page</title>'
        f'</head><body><h1>Payment Page</h1><p id="code">{escape(code)}</p>'
        f'<p id="message">{escape(message)}</p></body></html>'
    )
    return HTMLResponse(body, 400)


def read_page_link(
    pairs: list[tuple[str, str]], project_id: int, secret_key: str
) -> PageOrder | HTMLResponse:
    """The payment a link asks for, or the page's refusal (code and message)."""
    params = dict(pairs)
    if len(params) != len(pairs):
        return page_error("702", "Malformed request: a parameter is repeated")
    if not params.get("signature"):
        return page_error("3262", "Empty signature")
    if params.get("project_id") != str(project_id):
        return page_error("2442", "Project ID not found")
    if not sdk.check_flat(params, secret_key):
        return page_error("3261", "Invalid signature")
    required = ("payment_id", "payment_amount", "payment_currency", "customer_id")
    missing = [name for name in required if not params.get(name)]
    if missing:
        return page_error("2004", f"Required field not provided: {', '.join(missing)}")
    path = PAGE_METHODS.get(params.get("force_payment_method", ""))
    if path is None:
        return page_error("2541", "Unknown Payment Method")
    if not params["payment_amount"].isascii() or not params["payment_amount"].isdigit():
        return page_error("2004", "Invalid field: payment_amount")
    amount, currency = int(params["payment_amount"]), params["payment_currency"]
    refused = limits_error(path, amount, currency)
    if refused is not None:
        return page_error(*refused)
    # The page itself collects what Gate would ask for (phone, e-mail): no clarification.
    customer = {"id": params["customer_id"]}
    for name in ("email", "phone", "first_name", "last_name"):
        if params.get(f"customer_{name}"):
            customer[name] = params[f"customer_{name}"]
    pages = (
        ("success", "merchant_success_url"),
        ("decline", "merchant_fail_url"),
        ("return", "merchant_return_url"),
    )
    return PageOrder(
        payment_id=params["payment_id"],
        path=path,
        amount=amount,
        currency=currency,
        customer=customer,
        description=params.get("payment_description", ""),
        callback_url=params.get("merchant_callback_url"),
        return_url={key: params[name] for key, name in pages if params.get(name)},
    )
