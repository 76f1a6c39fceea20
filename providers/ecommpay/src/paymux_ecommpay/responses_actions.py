"""What an intermediate callback asks the customer to do: ``display_data`` (a QR code),
``redirect_data`` (go to the wallet or card partner) or ``clarification_fields`` (more details)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from paymux.next_action import (
    DisplayQrCode,
    NextAction,
    ProvideInformation,
    RedirectToUrl,
    RequiredField,
)
from paymux.payload import PayloadError

from .responses import expires_after

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_QR_TYPES = ("qr_data", "qr_img")


def _png(data: str) -> bytes | None:
    """The PNG bytes if ``data`` is a base64 PNG (optionally a data: URI), else None.

    Base64 as mail and PHP write it is accepted: wrapped at 76 columns (CRLF or LF) and with the
    ``=`` padding left off. Nothing else is: text to encode into a QR code is not base64 of a PNG.
    """
    candidate = data.strip()
    if candidate.startswith("data:"):
        _, _, candidate = candidate.partition(",")
    candidate = "".join(candidate.split())
    candidate += "=" * (-len(candidate) % 4)
    try:
        raw = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if raw.startswith(_PNG_MAGIC) else None


def display_qr(display_data: object, occurred_at: datetime | None) -> DisplayQrCode | None:
    # The Russian KakaoPay page sends a base64 PNG under type qr_img; the English one sends the text
    # to encode under the same type; other QR wallets use qr_data. Accept all three.
    if not isinstance(display_data, list):
        raise PayloadError("'display_data' is not a list")
    items = [item for item in display_data if isinstance(item, Mapping)]
    qr_item: Mapping[str, Any] | None = None
    for kind in _QR_TYPES:
        qr_item = next(
            (
                i
                for i in items
                if i.get("type") == kind and isinstance(i.get("data"), str) and i["data"]
            ),
            None,
        )
        if qr_item is not None:
            break
    if qr_item is None:
        # Seed 001 prints a QR item with "data": "": nothing to show yet, not an error (a refused
        # callback would be sent again for days). The charge waits for the next callback.
        return None
    data = qr_item["data"]
    expires_at = None
    for item in items:
        if item.get("type") == "add_info" and item.get("title") == "expired_timestamp":
            expires_at = expires_after(item.get("data"), occurred_at)
    image = _png(data)
    if image is not None:
        return DisplayQrCode(image_png=image, expires_at=expires_at)
    return DisplayQrCode(data=data, expires_at=expires_at)


def _form_value(name: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int):
        return str(value)
    raise PayloadError(f"redirect field {name!r} is not a plain value")


def redirect(redirect_data: object) -> RedirectToUrl:
    if not isinstance(redirect_data, Mapping):
        raise PayloadError("'redirect_data' is not an object")
    url = redirect_data.get("url")
    if (
        not isinstance(url, str)
        or urlsplit(url).scheme not in ("http", "https")
        or not urlsplit(url).netloc
    ):
        raise PayloadError("'redirect_data.url' is not an absolute http(s) URL")
    method = redirect_data.get("method", "GET")
    method = method.upper() if isinstance(method, str) else method
    if method not in ("GET", "POST"):
        raise PayloadError(f"'redirect_data.method' {method!r} is neither GET nor POST")
    body = redirect_data.get("body")
    # JSON decoders turn the platform's empty body into [] rather than {}.
    if body in (None, [], {}):
        fields: list[tuple[str, str]] = []
    elif isinstance(body, Mapping):
        fields = [(str(k), _form_value(str(k), v)) for k, v in body.items()]
    else:
        raise PayloadError("'redirect_data.body' is not an object")
    if method == "GET" and fields:
        # A GET redirect carries its fields in the query string; the browser cannot send a body.
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True) + fields
        return RedirectToUrl(url=urlunsplit(parts._replace(query=urlencode(query))), method="GET")
    return RedirectToUrl(url=url, method=method, form=tuple(fields))


def _schema_fields(prefix: str, schema: Mapping[str, Any], out: list[RequiredField]) -> None:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return
    for name, spec in properties.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(spec, Mapping) and isinstance(spec.get("properties"), Mapping):
            _schema_fields(path, spec, out)
            continue
        spec = spec if isinstance(spec, Mapping) else {}
        kind = spec.get("type")
        description = spec.get("description") or spec.get("title") or ""
        out.append(
            RequiredField(
                name=path,
                type=kind if isinstance(kind, str) else "string",
                description=description if isinstance(description, str) else "",
            )
        )


def clarification(fields: object) -> ProvideInformation:
    # Seen in two shapes: {"customer": ["phone", "email"]} and a JSON schema per object
    # ({"customer": {"type": "object", "properties": {"phone": {...}}}}).
    if not isinstance(fields, Mapping):
        raise PayloadError("'clarification_fields' is not an object")
    found: list[RequiredField] = []
    if isinstance(fields.get("properties"), Mapping):
        _schema_fields("", fields, found)
    else:
        for group, spec in fields.items():
            if isinstance(spec, list):
                found += [
                    RequiredField(name=f"{group}.{n}") for n in spec if isinstance(n, str) and n
                ]
            elif isinstance(spec, Mapping):
                _schema_fields(str(group), spec, found)
    if not found:
        raise PayloadError("'clarification_fields' names no field")
    return ProvideInformation(fields=tuple(found))


def next_action(payload: Mapping[str, Any], occurred_at: datetime | None) -> NextAction | None:
    """The customer's next step, if the payload carries one (order: clarify, redirect, QR)."""
    if payload.get("clarification_fields") not in (None, [], {}):
        return clarification(payload["clarification_fields"])
    if payload.get("redirect_data") not in (None, [], {}):
        return redirect(payload["redirect_data"])
    if payload.get("display_data") not in (None, [], {}):
        return display_qr(payload["display_data"], occurred_at)
    return None
