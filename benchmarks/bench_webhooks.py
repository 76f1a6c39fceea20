"""Callback verification + parsing per second, as a fraction of the floor, against ECommPay's
official SDK, and how fast an oversized unsigned body is refused.

ECommPay floor: ``json.loads`` of the body + HMAC-SHA512 of the already flattened string to sign.
Omise floor: ``json.loads`` of the body + HMAC-SHA256 of ``timestamp.body``. paymux runs the whole
``Gateway.parse_webhook`` (verify, translate into a neutral ``WebhookEvent``); ECommPay with
``confirm_callbacks=False`` and Omise with ``refetch_webhooks=False`` so no request is made.
The official SDK (``payment_page_sdk.Callback``, ``ecommpay-sdk`` 1.0.6) verifies the same signed
body in the same rounds; it only verifies (no typed models), paymux also translates. Pure CPU.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from _common import Result, emit, paired, rounds, spread

from paymux import Gateway
from paymux_ecommpay.emulator import PROJECT_ID
from paymux_ecommpay.emulator import SECRET_KEY as ECOMMPAY_SECRET
from paymux_ecommpay.signing import sign, string_to_sign
from paymux_omise.emulator import SECRET_KEY as OMISE_SECRET
from paymux_omise.emulator import WEBHOOK_SECRET

BATCH = 1000


def ecommpay_callback() -> bytes:
    """A final KakaoPay callback shaped like the Gate's (and the emulator's)."""
    body: dict[str, Any] = {
        "project_id": PROJECT_ID,
        "payment": {
            "id": "order-345678",
            "type": "purchase",
            "status": "success",
            "date": "2025-11-25T12:00:00+0000",
            "method": "kakaopay",
            "sum": {"amount": 10000, "currency": "KRW"},
            "description": "paymux benchmark",
        },
        "customer": {"id": "customer-kr-1"},
        "operation": {
            "id": 1000000000042,
            "type": "sale",
            "status": "success",
            "date": "2025-11-25T12:00:00+0000",
            "created_date": "2025-11-25T11:59:00+0000",
            "request_id": "c2d4a1f0e9b8c7d6a5b4c3d2e1f0a9b8c7d6e5f4-a1b2c3d4e5f6-00000001",
            "sum_initial": {"amount": 10000, "currency": "KRW"},
            "sum_converted": {"amount": 10000, "currency": "KRW"},
            "code": "0",
            "message": "Success",
            "provider": {"id": 4242, "payment_id": "", "auth_code": ""},
        },
    }
    body["signature"] = sign(body, ECOMMPAY_SECRET)
    return json.dumps(body).encode()


def omise_event() -> bytes:
    """A ``charge.complete`` event for a paid KakaoPay charge, shaped like Omise's (2019-05-29)."""
    charge_id = "chrg_test_00001a1b2c3d4e5f"
    charge = {
        "object": "charge",
        "id": charge_id,
        "livemode": False,
        "location": f"/charges/{charge_id}",
        "amount": 1500,
        "currency": "SGD",
        "description": "order-345678",
        "metadata": {"paymux_reference": "order-345678"},
        "status": "successful",
        "capture": True,
        "authorized": True,
        "reversed": False,
        "paid": True,
        "expired": False,
        "voided": False,
        "refundable": True,
        "partially_refundable": True,
        "refunded_amount": 0,
        "transaction": "trxn_test_00002a1b2c3d4e5f",
        "failure_code": None,
        "failure_message": None,
        "authorize_uri": f"https://pay.example/payments/{charge_id}/authorize",
        "return_uri": "https://shop.example/orders/paid",
        "ip": "192.0.2.30",
        "source": {
            "object": "source",
            "id": "src_test_00003a1b2c3d4e5f",
            "livemode": False,
            "type": "kakaopay",
            "flow": "app_redirect",
            "amount": 1500,
            "currency": "SGD",
            "platform_type": "WEB",
            "charge_status": "successful",
            "scannable_code": None,
            "references": None,
            "created_at": "2025-11-25T11:59:00Z",
            "location": "/sources/src_test_00003a1b2c3d4e5f",
        },
        "refunds": {
            "object": "list",
            "data": [],
            "limit": 20,
            "offset": 0,
            "total": 0,
            "location": f"/charges/{charge_id}/refunds",
        },
        "created_at": "2025-11-25T11:59:00Z",
        "expires_at": "2025-12-02T11:59:00Z",
        "paid_at": "2025-11-25T12:00:00Z",
        "expired_at": None,
    }
    event = {
        "object": "event",
        "id": "evnt_test_00004a1b2c3d4e5f",
        "livemode": False,
        "key": "charge.complete",
        "created_at": "2025-11-25T12:00:00Z",
        "data": charge,
        "location": "/events/evnt_test_00004a1b2c3d4e5f",
    }
    return json.dumps(event).encode()


def main() -> None:
    gw = Gateway(
        providers={
            "ecommpay": {
                "project_id": PROJECT_ID,
                "secret_key": ECOMMPAY_SECRET,
                "confirm_callbacks": False,
            },
            "omise": {
                "secret_key": OMISE_SECRET,
                "country": "SG",
                "webhook_secret": WEBHOOK_SECRET,
                "refetch_webhooks": False,
            },
        }
    )
    results = []

    # -- ECommPay ------------------------------------------------------------------------
    body = ecommpay_callback()
    headers = {"content-type": "application/json"}
    key = ECOMMPAY_SECRET.encode()
    flat = string_to_sign(json.loads(body)).encode()
    event = gw.parse_webhook("ecommpay", body, headers)
    assert event.charge is not None
    assert event.charge.status.value == "succeeded"

    def floor_ecommpay() -> None:
        for _ in range(BATCH):
            json.loads(body)
            hmac.new(key, flat, hashlib.sha512).digest()

    def paymux_ecommpay() -> None:
        for _ in range(BATCH):
            gw.parse_webhook("ecommpay", body, headers)

    n = rounds(11)
    ratio, ratios, t_floor, t_pmx = paired(floor_ecommpay, paymux_ecommpay, n)
    results.append(
        Result(
            name="ECommPay callback verify + parse, rate vs floor",
            figure=f"{ratio:.2f} of floor",
            value=ratio,
            target=">= 0.5",
            met=ratio >= 0.5,
            notes=(
                f"{BATCH / t_pmx:,.0f}/s vs floor {BATCH / t_floor:,.0f}/s; median of {n} rounds"
                f" of {BATCH} ({spread(ratios)}); {len(body)}-byte body"
            ),
        )
    )

    # -- ECommPay against the official SDK on the same signed body ------------------------
    from payment_page_sdk.callback import Callback
    from payment_page_sdk.signature_handler import SignatureHandler

    handler = SignatureHandler(ECOMMPAY_SECRET)
    text = body.decode()
    Callback(text, handler)  # the SDK accepts the body paymux parses

    def sdk_ecommpay() -> None:
        for _ in range(BATCH):
            Callback(text, handler)

    ratio, ratios, t_sdk, t_pmx = paired(sdk_ecommpay, paymux_ecommpay, n)
    results.append(
        Result(
            name="ECommPay callback: paymux parse_webhook rate vs the official SDK's Callback",
            figure=f"{ratio:.2f}x the SDK's rate",
            value=ratio,
            target=">= 1.0 (at least as fast)",
            met=ratio >= 1.0,
            notes=(
                f"paymux {BATCH / t_pmx:,.0f}/s (verify + shape checks + typed models) vs SDK"
                f" {BATCH / t_sdk:,.0f}/s (verify only); median of {n} paired rounds of {BATCH}"
                f" ({spread(ratios)}); confirm_callbacks=False"
            ),
        )
    )

    # -- oversized unsigned bodies are refused before any parsing ---------------------------
    from paymux.errors import WebhookVerificationError

    huge = {
        "3 MB list": b'{"signature":"x","items":[' + b"1," * 1_500_000 + b"1]}",
        "3 MB string": b'{"signature":"x","p":"' + b"a" * 3_000_000 + b'"}',
        # Under the size cap: refused on its number of values, after json.loads.
        "250 KB list": b'{"signature":"x","items":[' + b"1," * 125_000 + b"1]}",
        "250 KB nested": b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
    }
    for label, payload in huge.items():
        timings = []
        for _ in range(rounds(7)):
            started = time.perf_counter()
            try:
                gw.parse_webhook("ecommpay", payload, headers)
            except WebhookVerificationError:
                pass
            else:  # pragma: no cover - a cap that does not hold is a bug
                raise AssertionError(f"{label} was accepted")
            timings.append(time.perf_counter() - started)
        took_ms = sorted(timings)[len(timings) // 2] * 1000
        results.append(
            Result(
                name=f"ECommPay: unsigned {label} body refused",
                figure=f"{took_ms:.2f} ms",
                value=took_ms,
                target="< 10 ms",
                met=took_ms < 10,
                notes=f"{len(payload):,} bytes; median of {len(timings)}; default callback_limits",
            )
        )

    # -- Omise ---------------------------------------------------------------------------
    body = omise_event()
    secret = base64.b64decode(WEBHOOK_SECRET)
    stamp = str(int(time.time()))
    signature = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "omise-signature": signature,
        "omise-signature-timestamp": stamp,
    }
    event = gw.parse_webhook("omise", body, headers)
    assert event.charge is not None
    assert event.charge.status.value == "succeeded"

    def floor_omise() -> None:
        for _ in range(BATCH):
            json.loads(body)
            hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()

    def paymux_omise() -> None:
        for _ in range(BATCH):
            gw.parse_webhook("omise", body, headers)

    ratio, ratios, t_floor, t_pmx = paired(floor_omise, paymux_omise, n)
    results.append(
        Result(
            name="Omise webhook verify + parse (refetch_webhooks=False), rate vs floor",
            figure=f"{ratio:.2f} of floor",
            value=ratio,
            target=">= 0.5",
            met=ratio >= 0.5,
            notes=(
                f"{BATCH / t_pmx:,.0f}/s vs floor {BATCH / t_floor:,.0f}/s; median of {n} rounds"
                f" of {BATCH} ({spread(ratios)}); {len(body)}-byte body"
            ),
        )
    )
    gw.close()
    emit(results)


if __name__ == "__main__":
    main()
