"""Shared pieces of the security suite (tests/security): non-default secrets, signed seed callbacks
for both providers, JSON strategies, and an HTTP transport that fails the test when used.

The secrets below are deliberately unlike every default in the code base (emulator keys, docs
examples, other tests' keys), so a hit in a scan can only come from these values leaking.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import strategies as st

from paymux.errors import PaymuxError
from paymux_ecommpay import sign as ecommpay_sign
from paymux_omise.webhooks import sign as omise_sign

ECOMMPAY_PROJECT_ID = 4711
ECOMMPAY_SECRET = "ecp-sec-9fQ2xLw7Rk3vTz8Hb1Nd"
OMISE_SECRET_KEY = "skey_test_5xP8qRz2Lm4Vn7Tb9Kd"
OMISE_PUBLIC_KEY = "pkey_test_3hG6jW1sY8cE2uA5Mf"
OMISE_WEBHOOK_KEY = b"omise-whsec-Jr4Tq8Zp1Xv6Nc3Lb"
OMISE_WEBHOOK_SECRET = base64.b64encode(OMISE_WEBHOOK_KEY).decode("ascii")

# A fixed "now" for Omise's replay window, so generated timestamps are deterministic.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
NOW_STAMP = str(int(NOW.timestamp()))


def ecommpay_settings(**overrides: Any) -> dict[str, Any]:
    return {"project_id": ECOMMPAY_PROJECT_ID, "secret_key": ECOMMPAY_SECRET, **overrides}


def omise_settings(**overrides: Any) -> dict[str, Any]:
    return {
        "secret_key": OMISE_SECRET_KEY,
        "public_key": OMISE_PUBLIC_KEY,
        "country": "SG",  # an Omise account is one country
        "webhook_secret": OMISE_WEBHOOK_SECRET,
        "clock": lambda: NOW,
        **overrides,
    }


# -- transports -----------------------------------------------------------------------------------


class NetworkUsed(AssertionError):
    """Raised by :func:`forbidden_transport`: the code under test sent a request it must not."""


def _refuse(request: httpx.Request) -> httpx.Response:
    raise NetworkUsed(f"no request may be sent, but {request.method} {request.url} was")


def forbidden_transport() -> httpx.MockTransport:
    return httpx.MockTransport(_refuse)


def forbidden_client() -> httpx.Client:
    return httpx.Client(transport=forbidden_transport())


def forbidden_async_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=forbidden_transport())


def omise_api(charge: Callable[[str], Any | None]) -> httpx.MockTransport:
    """An Omise API that knows only what ``charge(id)`` returns (None: 404 not_found)."""

    def handle(request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] in ("charges", "events"):
            found = charge(parts[1]) if parts[0] == "charges" and len(parts) == 2 else None
            if found is not None:
                return httpx.Response(200, json=found)
        return httpx.Response(
            404, json={"object": "error", "code": "not_found", "message": "not found"}
        )

    return httpx.MockTransport(handle)


# -- seed callbacks -------------------------------------------------------------------------------


def _operation(kind: str, status: str, amount: int, currency: str, code: str) -> dict[str, Any]:
    return {
        "id": 1_000_000_000_123,
        "type": kind,
        "status": status,
        "date": "2026-03-10T09:59:00+0000",
        "created_date": "2026-03-10T09:58:41+0000",
        "request_id": "46d13cf06a05f023ab53dd2d3d5c266a31c537a7-bd729b81-00000001",
        "sum_initial": {"amount": amount, "currency": currency},
        "sum_converted": {"amount": amount, "currency": currency},
        "code": code,
        "message": "Success" if code == "0" else "Awaiting processing",
        "provider": {"id": 4242, "payment_id": "", "auth_code": ""},
    }


def _payment(method: str, status: str, amount: int, currency: str) -> dict[str, Any]:
    return {
        "id": "order-345678",
        "type": "purchase",
        "status": status,
        "date": "2026-03-10T09:59:00+0000",
        "method": method,
        "sum": {"amount": amount, "currency": currency},
        "description": "Order 345678",
    }


def ecommpay_seed_payloads() -> list[dict[str, Any]]:
    """Unsigned callback bodies covering every shape the plugin translates."""
    base = {"project_id": ECOMMPAY_PROJECT_ID, "customer": {"id": "customer1"}}
    return [
        {
            **base,
            "payment": _payment("kakaopay", "success", 10_000, "KRW"),
            "operation": _operation("sale", "success", 10_000, "KRW", "0"),
        },
        {
            **base,
            "payment": _payment("kakaopay", "awaiting customer action", 10_000, "KRW"),
            "operation": _operation("sale", "awaiting customer action", 10_000, "KRW", "9999"),
            "display_data": [
                {"type": "qr_img", "title": "QR code", "data": "https://qr.example/pay/1"},
                {"type": "add_info", "title": "expired_timestamp", "data": "600"},
            ],
        },
        {
            **base,
            "payment": _payment("payco", "awaiting redirect result", 25_000, "KRW"),
            "operation": _operation("sale", "awaiting redirect result", 25_000, "KRW", "9999"),
            "redirect_data": {
                "method": "POST",
                "url": "https://partner.example/pay",
                "body": {"oid": "order-345678", "amount": "25000", "token": "x<y>\"z'"},
                "encrypted": [],
            },
        },
        {
            **base,
            "payment": _payment("Card partner", "awaiting clarification", 250_000, "KES"),
            "operation": _operation("sale", "awaiting clarification", 250_000, "KES", "9999"),
            "clarification_fields": {"customer": ["phone"]},
        },
        {
            **base,
            "payment": _payment("Card partner", "decline", 250_000, "KES"),
            "operation": {
                **_operation("sale", "decline", 250_000, "KES", "10000"),
                "message": "General decline",
            },
        },
        {
            **base,
            "payment": _payment("kakaopay", "partially refunded", 7_000, "KRW"),
            "operation": _operation("refund", "success", 3_000, "KRW", "0"),
        },
    ]


def ecommpay_signed(payload: dict[str, Any], *, where: str = "top") -> dict[str, Any]:
    data = copy.deepcopy(payload)
    signature = ecommpay_sign(data, ECOMMPAY_SECRET)
    if where == "top":
        data["signature"] = signature
    else:
        data.setdefault("general", {})["signature"] = signature
    return data


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def omise_charge(charge_id: str = "chrg_test_paymux1", **overrides: Any) -> dict[str, Any]:
    charge = {
        "object": "charge",
        "id": charge_id,
        "livemode": False,
        "location": f"/charges/{charge_id}",
        "amount": 150_000,
        "currency": "SGD",
        "status": "successful",
        "paid": True,
        "authorized": True,
        "captured": True,
        "paid_at": "2026-03-10T05:00:00Z",
        "created_at": "2026-03-10T04:58:00Z",
        "refunded_amount": 0,
        "failure_code": None,
        "failure_message": None,
        "metadata": {"paymux_reference": "order-345678"},
        "transaction": "trxn_test_paymux1",
        "source": {
            "object": "source",
            "id": "src_test_paymux1",
            "type": "kakaopay",
            "flow": "app_redirect",
            "amount": 150_000,
            "currency": "SGD",
            "platform_type": "WEB",
            "scannable_code": None,
        },
        "authorize_uri": "https://pay.omise.example/payments/paymux1/authorize",
    }
    charge.update(overrides)
    return charge


def omise_refund(charge_id: str = "chrg_test_paymux1") -> dict[str, Any]:
    return {
        "object": "refund",
        "id": "rfnd_test_paymux1",
        "location": f"/charges/{charge_id}/refunds/rfnd_test_paymux1",
        "amount": 50_000,
        "currency": "SGD",
        "charge": charge_id,
        "status": "closed",
        "voided": False,
        "metadata": {"paymux_reference": "order-345678-r1"},
        "created_at": "2026-03-10T06:00:00Z",
    }


def omise_event(data: dict[str, Any], key: str = "charge.complete") -> dict[str, Any]:
    return {
        "object": "event",
        "id": "evnt_test_paymux1",
        "livemode": False,
        "location": "/events/evnt_test_paymux1",
        "key": key,
        "created_at": "2026-03-10T09:59:30Z",
        "data": data,
    }


def omise_seed_events() -> list[dict[str, Any]]:
    pending = omise_charge(status="pending", paid=False, authorized=False, paid_at=None)
    return [
        omise_event(omise_charge()),
        omise_event(pending, "charge.create"),
        omise_event(omise_refund(), "refund.create"),
        omise_event({"object": "customer", "id": "cust_test_1"}, "customer.create"),
    ]


def omise_headers(
    body: bytes, *, stamp: str = NOW_STAMP, key: bytes = OMISE_WEBHOOK_KEY
) -> dict[str, str]:
    return {
        "Omise-Signature": omise_sign(key, stamp, body),
        "Omise-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }


# -- strategies -----------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


def leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a scalar in a JSON document (dict keys and list indexes)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaf_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaf_paths(value, (*prefix, index))
    else:
        yield prefix


def node_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to any value below the root (containers included)."""
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from node_paths(value, (*prefix, key))


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copied = copy.deepcopy(document)
    parent = copied
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return copied


def removed(document: Any, path: tuple[Any, ...]) -> Any:
    copied = copy.deepcopy(document)
    parent = copied
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return copied


def get(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


@st.composite
def byte_mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with 1-4 bytes flipped, inserted or deleted; never ``original`` itself."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("flip", "insert", "delete")))
        if kind == "insert" or not data:
            at = draw(st.integers(0, len(data)))
            data[at:at] = bytes([draw(st.integers(0, 255))])
        else:
            at = draw(st.integers(0, len(data) - 1))
            if kind == "flip":
                data[at] ^= 1 << draw(st.integers(0, 7))
            else:
                del data[at]
    mutated = bytes(data)
    if mutated == original:
        mutated = original + b" x"
    return mutated


def only_paymux_errors(call: Callable[[], Any]) -> Any:
    """Run ``call``; any exception that is not a :class:`PaymuxError` fails the test with it."""
    try:
        return call()
    except PaymuxError as error:
        return error
