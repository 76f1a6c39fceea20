"""Neutral requests -> Gate request bodies, with the checks the Gate would otherwise fail on."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import httpx

from paymux.errors import InvalidRequest
from paymux.models import Charge, ChargeRequest
from paymux.money import Money
from paymux.provider import mark

from .capabilities import GATE_METHODS
from .settings import EcommpaySettings
from .signing import signed

SUPPORTED_OPTIONS = frozenset({"device_type"})
DEVICE_TYPES = frozenset({"APP", "WEB", "OTHERS"})
# What a callback reports: a clarification never writes these, so no signed request body carries
# a status, amount or operation a callback could be rebuilt from.
_NOT_CLARIFIABLE = frozenset({"general", "payment", "operation", "project_id", "signature"})
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")


def gate_path(method: str | None) -> str:
    segment = GATE_METHODS.get(method or "")
    if segment is None:
        known = ", ".join(GATE_METHODS)
        raise InvalidRequest(
            f"ECommPay does not offer method {method!r} (only {known})", field="method"
        )
    return segment


def _general(settings: EcommpaySettings, payment_id: str) -> dict[str, Any]:
    general: dict[str, Any] = {"project_id": settings.project_id, "payment_id": payment_id}
    if settings.callback_url:
        general["merchant_callback_url"] = settings.callback_url
    return general


def refuse_separator(value: object, field: str) -> None:
    """Refuse a value holding ``;`` before it is signed.

    The signed text joins ``path:value`` pairs with ``;`` and escapes nothing, so a ``;`` in a
    value the customer chose ("x;payment:status:success;...") makes the signature of this request
    or Payment Page link also fit a *callback* rebuilt around it. Refusing (rather than silently
    changing the merchant's text) keeps what is signed exactly what was asked for.
    """
    if isinstance(value, str) and ";" in value:
        raise InvalidRequest(
            "must not contain ';' (ECommPay's signature cannot tell it from a field separator)",
            field=field,
        )


def _signed_strings(node: object, path: str) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _signed_strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _signed_strings(value, f"{path}.{index}")
    else:
        refuse_separator(node, path)


def check_charge_request(request: ChargeRequest) -> None:
    """What the Gate would refuse beyond the capability's rules (method, market, amount,
    customer fields and return pages are checked by ``Provider.check_capability``): text a
    signature cannot carry, and ECommPay's own options."""
    customer = request.customer
    urls = request.return_urls
    values = [
        customer.id,
        customer.email,
        customer.phone,
        customer.first_name,
        customer.last_name,
        customer.ip_address,
        request.description,
    ]
    if urls is not None:
        values += [urls.success, urls.decline, urls.back]
    if ";" in "".join(v for v in values if v):
        # One of them holds a ';': name it.
        for name in ("id", "email", "phone", "first_name", "last_name", "ip_address"):
            refuse_separator(getattr(customer, name), f"customer.{name}")
        refuse_separator(request.description, "description")
        if urls is not None:
            for name in ("success", "decline", "back"):
                refuse_separator(getattr(urls, name), f"return_urls.{name}")
    unknown = sorted(set(request.provider_options) - SUPPORTED_OPTIONS)
    if unknown:
        raise InvalidRequest(
            f"unknown ECommPay option(s) {', '.join(unknown)}"
            f" (supported: {', '.join(sorted(SUPPORTED_OPTIONS))})",
            field="provider_options",
        )
    device = request.provider_options.get("device_type")
    # isinstance first: a list or dict is unhashable, and the set test would crash the flow.
    if device is not None and (not isinstance(device, str) or device not in DEVICE_TYPES):
        raise InvalidRequest(
            f"device_type must be one of {', '.join(sorted(DEVICE_TYPES))}",
            field="provider_options.device_type",
        )


def sale_body(request: ChargeRequest, settings: EcommpaySettings) -> dict[str, Any]:
    customer = request.customer
    customer_obj: dict[str, Any] = {"id": customer.id, "ip_address": customer.ip_address}
    for name in ("email", "phone", "first_name", "last_name"):
        value = getattr(customer, name)
        if value:
            customer_obj[name] = value
    if "device_type" in request.provider_options:
        customer_obj["device_type"] = request.provider_options["device_type"]
    # KRW has no minor unit, so minor units are whole won as the wallets want; KES/USD in cents.
    payment: dict[str, Any] = {"amount": request.amount.amount, "currency": request.amount.currency}
    if request.description:
        payment["description"] = request.description
    body: dict[str, Any] = {
        "general": _general(settings, request.reference),
        "customer": customer_obj,
        "payment": payment,
    }
    urls = request.return_urls
    if urls is not None:
        # The wallets want all three. A missing page falls back to the other page that is not
        # the success page (the capability's return-page rule made sure one exists): never to success.
        not_paid = urls.decline or urls.back
        if not_paid is None:
            raise InvalidRequest(
                "give the page for a declined payment", field="return_urls.decline"
            )
        body["return_url"] = {
            "success": urls.success,
            "decline": not_paid,
            "return": urls.back or not_paid,
        }
    return body


def refund_body(
    charge: Charge,
    amount: Money,
    *,
    reason: str | None,
    reference: str,
    settings: EcommpaySettings,
) -> dict[str, Any]:
    refuse_separator(reason, "reason")
    payment: dict[str, Any] = {
        "description": reason or f"Refund of {charge.id}",
        "merchant_refund_id": reference,
    }
    already = charge.refunded_amount.amount if charge.refunded_amount else 0
    # Amount and currency are sent only for a partial refund; without them the Gate refunds the
    # whole payment. After an earlier partial refund every further refund states its amount.
    if amount != charge.amount or already:
        payment["amount"] = amount.amount
        payment["currency"] = amount.currency
    return {"general": _general(settings, charge.id), "payment": payment}


def status_body(payment_id: str, settings: EcommpaySettings) -> dict[str, Any]:
    return {"general": {"project_id": settings.project_id, "payment_id": payment_id}}


def clarification_body(
    payment_id: str, fields: Mapping[str, str], settings: EcommpaySettings
) -> dict[str, Any]:
    """``{"customer.phone": "..."}`` -> ``{"customer": {"phone": "..."}}`` next to ``general``."""
    if not fields:
        raise InvalidRequest("give at least one field to send", field="fields")
    body: dict[str, Any] = {"general": _general(settings, payment_id)}
    for name, value in fields.items():
        if (
            not isinstance(name, str)
            or not _FIELD_NAME.fullmatch(name)
            or name.startswith("general.")
        ):
            raise InvalidRequest(
                f"{name!r} is not a field name the platform asks for"
                " (dotted names such as 'customer.phone')",
                field="fields",
            )
        if not isinstance(value, str):
            raise InvalidRequest("values must be strings", field=f"fields.{name}")
        refuse_separator(value, f"fields.{name}")
        if name.split(".")[0] in _NOT_CLARIFIABLE:
            raise InvalidRequest(
                f"{name!r} is not customer data the platform asks to clarify", field="fields"
            )
        node = body
        *parents, leaf = name.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InvalidRequest(f"{name!r} collides with another field", field="fields")
            node = child
        if isinstance(node.get(leaf), dict):
            raise InvalidRequest(f"{name!r} collides with another field", field="fields")
        node[leaf] = value
    return body


@lru_cache(maxsize=256)
def _endpoint(base_url: str, path: str) -> httpx.URL:
    # Parsing the URL was a third of building each request; a handful of endpoints per project
    # (httpx copies the parsed URL into each request, so one object serves them all).
    return httpx.URL(f"{base_url}/v2/{path}")


def gate_request(
    settings: EcommpaySettings,
    path: str,
    body: Mapping[str, Any],
    *,
    operation: str,
    retry_safe: bool,
) -> httpx.Request:
    """A signed ``POST {base_url}/v2/{path}``."""
    payload = signed(body, settings.secret_key)
    content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if b";" in content:
        # Last line of defence for values the checks above did not name (named by body path).
        # JSON never escapes ';' and no key or signature holds one, so a body without it in its
        # text has none in a value: the walk is only needed to name the one that does.
        _signed_strings(body, "")
    request = httpx.Request(
        "POST",
        _endpoint(settings.base_url, path),
        content=content,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    return mark(request, operation=operation, retry_safe=retry_safe)
